"""relay.kind labgrid: power through a labgrid place (``labgrid-client power on|off|cycle``), so every
power driver labgrid has (PDUs, USB hubs, GPIOs, its ~30 models) powers the DUT.

The rig file does not write this kind by hand: a ``labgrid`` section makes it (schema.py), and the
session hands the acquired place in at run time as the device, ``HOST:PORT/PLACE`` (coordinator and
place). labgrid has no reset protocol for the module's RESET_N on a generic place, so the ladder's
reset rung is skipped and its power-cycle rung does the work; after it the session re-reads the
place's serial port (harness/rig/labgrid.py: it may move, labgrid #1387).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.rig.labgrid import LabgridError, Place
from harness.rig.relay.base import Relay, register_driver
from harness.rig.relay_schema import RelayConfig


def place_device(coordinator: str, place: str) -> str:
    return f"{coordinator}/{place}"


@register_driver("labgrid")
class LabgridRelay(Relay):
    can_power = True
    can_reset = False

    def __init__(self, config: RelayConfig, *, sleep: Callable[[float], None] = time.sleep,
                 place: Place | None = None) -> None:
        super().__init__(config, sleep=sleep)
        if place is None:
            coordinator, sep, name = (config.device or "").rpartition("/")
            if not sep or not coordinator or not name:
                raise self.error("expected the device COORDINATOR/PLACE (set by the session from the labgrid section)")
            place = Place(coordinator, name, timeout_s=config.timeout_s)
        self.place = place

    def on(self) -> None:
        self._power("on")

    def off(self) -> None:
        self._power("off")

    def cycle(self, off_s: float | None = None) -> None:
        self._power("cycle", self.off_time(off_s))

    def _power(self, action: str, off_s: float | None = None) -> None:
        try:
            self.place.power(action, off_s)
        except LabgridError as exc:
            raise self.error(f"power {action}: {exc}") from None
