"""Firmware profiles: the conformant module and deliberately faulty firmware.

The suite must prove it catches a non-conformant firmware, so the emulator can impersonate
one. A profile is data (a revision string, MQTT option defaults/bounds and named switches),
never code paths: handlers read it through `profile_of(ctx.module)` instead of growing
if/elif chains on firmware names. Add a profile by adding one entry to `PROFILES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from harness.emulator.api import ModuleState
from harness.emulator.mqtt_config import configs

DEFAULT_FIRMWARE = "conformant"


@dataclass(frozen=True)
class Profile:
    name: str
    revision: str  # ATI / AT+CGMR "Revision: <revision>" (DESIGN "Module facts")
    summary: str
    # 3.3.1 <keep_alive_time> "Range: 0–3600. Default value: 120."
    keepalive_max: int = 3600
    # MqttConfig field -> value applied at every power-on (a wrong default is a fault to model).
    mqtt_defaults: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    # Free-form behaviour switches for handlers (e.g. the MQTT side): `profile.has("name")`.
    switches: frozenset[str] = frozenset()

    def has(self, switch: str) -> bool:
        return switch in self.switches


_REV = "BC660KGLAAR01A05"

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(DEFAULT_FIRMWARE, _REV, "behaves as the application note says"),
        Profile("wrong-keepalive-default", _REV,
                "fault: keepalive default 60 instead of 120 (3.3.1 <keep_alive_time>)",
                mqtt_defaults=MappingProxyType({"keepalive": 60})),
        Profile("keepalive-off-by-one", _REV,
                "fault: AT+QMTCFG=\"keepalive\" accepts 3601 (3.3.1 range 0-3600)",
                keepalive_max=3601),
    )
}


def known() -> list[str]:
    return sorted(PROFILES)


def get(name: str) -> Profile:
    """The profile called `name`; KeyError names the known ones in one line."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown firmware {name!r}; known: {', '.join(known())}") from None


def profile_of(module: ModuleState) -> Profile:
    return PROFILES.get(module.firmware, PROFILES[DEFAULT_FIRMWARE])


def power_on(module: ModuleState) -> None:
    """Seed a fresh ModuleState with the profile's option defaults (3.3.1 "will not be saved":
    every power-on starts from the firmware's defaults)."""
    overrides = profile_of(module).mqtt_defaults
    if not overrides:
        return
    for cfg in configs(module.ext).by_id.values():
        for name, value in overrides.items():
            setattr(cfg, name, value)
