"""relay.kind none: the rig has no relay; the recovery ladder stops at the AT-level steps."""

from __future__ import annotations

from harness.rig.relay.base import Relay, register_driver


@register_driver("none")
class NoRelay(Relay):
    def on(self) -> None:
        raise self.error("no power control on this rig")

    def off(self) -> None:
        raise self.error("no power control on this rig")

    def cycle(self, off_s: float | None = None) -> None:
        raise self.error("no power control on this rig")

    def pulse(self, width_s: float | None = None) -> None:
        raise self.error("no reset control on this rig")
