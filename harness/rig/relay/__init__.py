"""Relay drivers: power and reset of the DUT for the recovery ladder (see base.py).

Importing this package registers every built-in driver (one module each) in RELAY_DRIVERS;
their kinds are registered for the rig file in harness/rig/relay_schema.py.
"""

from harness.rig.relay import (  # noqa: F401
    command,
    dtr_rts,
    emulated,
    gpiod_relay,
    hid_relay,
    labgrid_relay,
    manual,
    none,
)
from harness.rig.relay.base import (
    RELAY_DRIVERS,
    PowerDriver,
    Relay,
    RelayError,
    ResetDriver,
    build_relay,
    register_driver,
)

__all__ = ["RELAY_DRIVERS", "PowerDriver", "Relay", "RelayError", "ResetDriver", "build_relay", "register_driver"]
