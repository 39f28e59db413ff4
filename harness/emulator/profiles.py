"""Firmware profiles: the conformant module and deliberately faulty firmware.

The suite must prove it catches a non-conformant firmware, so the emulator can impersonate
one. A profile is data (a revision string, MQTT option defaults/bounds and named switches),
never code paths: handlers read it as `ctx.module.profile` (state.ModuleState) instead of
growing if/elif chains on firmware names. Add a profile by adding one entry to `PROFILES`; a new
switch is read with `ctx.module.profile.has("<name>")` in exactly one place, named in `where`.

Each faulty profile is one small fault with the note section it violates (`section`), so the
suites team can list them (`PROFILES`) and prove the suite fails in exactly the intended case.
A switch is named after its profile and is checked in exactly one place of the emulator
(listed in `Profile.where`, so a reader finds it without grepping). This module imports only
the standard library (harness/rig/schema.py reads the names). A faulty firmware reports
its own revision (`..._F<TAG>`; still `BC660KGL\\w+`, the shape a real revision has) so
reports and the conformance matrix tell the firmware apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_FIRMWARE = "conformant"


@dataclass(frozen=True)
class Profile:
    name: str
    revision: str  # ATI / AT+CGMR "Revision: <revision>" (DESIGN "Module facts")
    summary: str
    section: str = ""  # the note section the fault violates ("" for the conformant firmware)
    where: str = ""  # the one place the emulator reads the fault (module.function)
    # 3.3.1 <keep_alive_time> "Range: 0–3600. Default value: 120."
    keepalive_max: int = 3600
    # 3.3.1 <pkt_timeout> "Range: 1–60."
    pkt_timeout_max: int = 60
    # state.MqttConfig field -> value applied at every power-on (a wrong default is a fault to model).
    mqtt_defaults: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    # Free-form behaviour switches for handlers (e.g. the MQTT side): `profile.has("name")`.
    switches: frozenset[str] = frozenset()

    def has(self, switch: str) -> bool:
        return switch in self.switches

    @property
    def faulty(self) -> bool:
        return self.name != DEFAULT_FIRMWARE


_REV = "BC660KGLAAR01A05"


def _fault(name: str, tag: str, section: str, summary: str, where: str, **kw: object) -> Profile:
    """A faulty firmware whose only difference is `name` (as a switch unless a bound/default
    in `kw` carries the fault)."""
    switches = frozenset() if kw else frozenset({name})
    return Profile(name, f"{_REV}_F{tag}", f"fault: {summary} ({section})", section, where,
                   switches=switches, **kw)  # type: ignore[arg-type]


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(DEFAULT_FIRMWARE, _REV, "behaves as the application note says"),
        _fault("wrong-keepalive-default", "KADEF", "3.3.1 <keep_alive_time>",
               "keepalive default 60 instead of 120", "state.power_on",
               mqtt_defaults=MappingProxyType({"keepalive": 60})),
        _fault("keepalive-off-by-one", "KA3601", "3.3.1 <keep_alive_time> range 0-3600",
               'AT+QMTCFG="keepalive" accepts 3601', "qmtcfg._keepalive", keepalive_max=3601),
        _fault("pkt-timeout-max-61", "PKT61", "3.3.1 <pkt_timeout> range 1-60",
               'AT+QMTCFG="timeout" accepts <pkt_timeout> 61', "qmtcfg._timeout", pkt_timeout_max=61),
        _fault("wrong-error-code", "ERR8504", "chapter 4 Table 2; 3.3.1",
               "AT+QMTCFG with an invalid/out-of-range parameter answers +CME ERROR: 8504 "
               "(illegal packet) instead of 8507 (invalid parameter)", "qmtcfg.qmtcfg"),
        _fault("no-dup-on-retransmit", "NODUP", "Figure 1 Excep2; MQTT-3.3.1-1",
               "a retransmitted QoS 1/2 PUBLISH keeps DUP=0", "qmt_conn._new_link"),
        _fault("missing-timeout-notice", "NONOTICE", "3.3.1 <timeout_notice>; 3.3.6-3.3.8 <result> 1",
               "no `+QMTPUB: <id>,<msgID>,1,<count>` retransmission URCs with timeout_notice=1",
               "qmt_pub._notice"),
        _fault("qmtrecv-no-len", "NOLEN", "5.2; 3.3.1 \"showrecvlen\"",
               "+QMTRECV leaves out <payload_len> although showrecvlen=1", "qmt_common.on_link_event"),
        _fault("no-truncate-1460", "NOTRUNC", "3.3.8 NOTE 2",
               "the Ctrl+Z form of AT+QMTPUB publishes more than 1460 bytes", "qmt_pub._read_payload"),
        _fault("open-occupied-ok", "OPENOK", "3.3.2 <result> 2",
               "a second AT+QMTOPEN on an open connect ID answers +QMTOPEN: <id>,0 instead of 2",
               "qmt_conn.qmtopen"),
        _fault("sub-no-granted-qos", "NOGRANT", "3.3.6 <value>",
               "+QMTSUB: <id>,<msgID>,0 without the granted QoS vector", "qmt_pub.qmtsub"),
        # Within what the suite judges (any 5.1 code 1..7 closes the ID): only --strict, which holds
        # the DUT to the note's plain reading (harness/spec/plain.py), fails it.
        _fault("qmtstat-peer-close-7", "STAT7", "5.1 Table 4 <err_code> 1",
               "the peer closing or resetting the link is reported +QMTSTAT: <id>,7 instead of 1",
               "qmt_common.on_link_event"),
    )
}


def known() -> list[str]:
    return sorted(PROFILES)


def faulty() -> list[Profile]:
    """Every deliberately faulty firmware, sorted by name (for the suite-vs-profile proof)."""
    return [PROFILES[n] for n in known() if PROFILES[n].faulty]


def get(name: str) -> Profile:
    """The profile called `name`; KeyError names the known ones in one line."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown firmware {name!r}; known: {', '.join(known())}") from None
