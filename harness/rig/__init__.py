"""The rig: the rig file (schema.py, with its dut section in dut_schema.py and its relay section in
relay_schema.py; loader.py, options.py), the session a run and the doctor share (session.py, reach.py,
identity.py), relay drivers (relay/), recovery (ladder.py, health.py), labgrid places (labgrid.py) and
the doctor (doctor.py runs and prints the checks of doctor_checks.py, `python -m harness.rig doctor`)."""

from harness.rig.loader import DEFAULT_RIG, OPTION_NAMES, RigError, load_rig
from harness.rig.schema import (
    RELAY_KINDS,
    SECRET,
    BrokerConfig,
    DutConfig,
    RelayConfig,
    RelayKind,
    ReportConfig,
    RigConfig,
    Secret,
    register_relay_kind,
)

__all__ = [
    "DEFAULT_RIG",
    "OPTION_NAMES",
    "RELAY_KINDS",
    "SECRET",
    "BrokerConfig",
    "DutConfig",
    "RelayConfig",
    "RelayKind",
    "ReportConfig",
    "RigConfig",
    "RigError",
    "Secret",
    "load_rig",
    "register_relay_kind",
]
