"""What the scripted MQTT peer judges with: field matching, readable packet text (the session rules
it also applies live in harness.mqtt.session, shared with the fault proxy).

Why a separate module: the peer (server.py, connection.py) is about sockets and threads; the
verdict logic here is pure and testable on its own. Matching is by decoded fields, never by bytes,
so a case states what MQTT 3.1.1 requires ("PUBLISH, DUP=1, the same packet id") and nothing
incidental.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.mqtt import codec
from harness.mqtt.codec import Direction, Packet

PAYLOAD_SHOWN = 48  # bytes of a payload shown in messages; the rest is counted


class PeerError(AssertionError):
    """A scripted expectation failed (wrong packet, nothing in time, bad script step).

    An AssertionError so pytest shows it as a failed verdict, not as a harness crash."""


class PeerTimeout(PeerError):
    """The client did not do the expected thing within the deadline."""


class PeerMismatch(PeerError):
    """The client sent a packet other than the one expected."""


class PeerViolation(PeerError):
    """The client broke MQTT statements (conn.assert_conformant)."""


@dataclass(frozen=True)
class Capture:
    """A named placeholder: the first match binds the field's value, later matches must repeat it.

    `Match(codec.Publish, packet_id=Capture("pid"))` then `Match(codec.PubRel, packet_id=Capture("pid"))`
    asserts the PUBREL carries the PUBLISH's packet id without the case knowing the number."""

    name: str

    def __repr__(self) -> str:
        return f"<{self.name}>"


# --- describing packets ------------------------------------------------------------------------


def _value(name: str, value: Any) -> str:
    if name == "password" and value is not None:
        return f"<{len(value)} bytes hidden>"  # secrets never reach logs or failure messages
    if isinstance(value, bytes | bytearray) and len(value) > PAYLOAD_SHOWN:
        return f"{bytes(value[:PAYLOAD_SHOWN])!r}...({len(value)} bytes)"
    return repr(value)


def describe(packet: Packet | None) -> str:
    """One line, e.g. `PUBLISH(topic='t', payload=b'x', qos=1, retain=False, dup=True, packet_id=7)`."""
    if packet is None:
        return "<malformed>"
    parts = [f"{f.name}={_value(f.name, getattr(packet, f.name))}" for f in dataclasses.fields(packet)]
    return f"{type(packet).__name__.upper()}({', '.join(parts)})"


@dataclass(frozen=True)
class Record:
    """One packet on the wire. `direction`: C>B from the client, B>C from the peer (it plays the broker)."""

    t: float  # time.monotonic() when read from / written to the socket
    direction: Direction
    packet: Packet | None  # None: bytes that do not parse as MQTT
    raw: bytes
    note: str = ""  # "raw" for send_raw, the parse error for malformed input

    def __repr__(self) -> str:  # the dataclass repr would show a CONNECT's password
        return f"Record({self})"

    def __str__(self) -> str:
        extra = f" [{self.note}]" if self.note else ""
        return f"{self.t:.3f} {self.direction} {describe(self.packet)} raw={self.raw[:16].hex()}{extra}"


@dataclass(frozen=True)
class Violation:
    """An MQTT statement the client broke; `rule` starts with the [MQTT-x.y.z-n] id."""

    index: int  # position in conn.log
    packet: str  # describe() of the offending packet
    rule: str

    def __str__(self) -> str:
        return f"log[{self.index}] {self.packet}: {self.rule}"


# --- matching ------------------------------------------------------------------------------------


class Match:
    """Expected packet: its type plus any of its dataclass fields.

    A field's expected value is a literal (compared with ==), a Capture, or a predicate
    `callable(actual) -> bool` (e.g. `packet_id=lambda v: v > 0`). Unknown field names are
    rejected at construction, so a typo cannot make a check vacuous."""

    def __init__(self, type: type, **fields: Any) -> None:  # `type=` reads as the brief asks
        if type not in codec.TYPE_CODES:
            raise TypeError(f"Match type must be a codec packet class, not {type!r}")
        known = {f.name for f in dataclasses.fields(type)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise TypeError(f"{type.__name__} has no field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        self.type = type
        self.fields = fields

    @classmethod
    def of(cls, spec: Match | type) -> Match:
        return spec if isinstance(spec, Match) else cls(spec)

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={_expected_text(k, v)}" for k, v in self.fields.items())
        return f"{self.type.__name__.upper()}({shown})"

    def mismatches(self, packet: Packet | None, captured: dict[str, Any]) -> list[str]:
        """Why `packet` does not match (empty: it does); binds unbound Captures only on success."""
        if packet is None:
            return ["bytes that do not parse as MQTT"]
        if not isinstance(packet, self.type):
            return [f"type: expected {self.type.__name__.upper()}, got {type(packet).__name__.upper()}"]
        out: list[str] = []
        binds: dict[str, Any] = {}
        for name, want in self.fields.items():
            got = getattr(packet, name)
            if isinstance(want, Capture):
                if want.name in captured and captured[want.name] != got:
                    out.append(f"{name}: expected {want} = {_value(name, captured[want.name])}, "
                               f"got {_value(name, got)}")
                elif want.name not in captured:
                    binds[want.name] = got
            elif callable(want) and not isinstance(want, type):
                if not want(got):
                    out.append(f"{name}: {_value(name, got)} does not satisfy {_expected_text(name, want)}")
            elif got != want:
                out.append(f"{name}: expected {_value(name, want)}, got {_value(name, got)}")
        if not out:
            captured.update(binds)
        return out


def _expected_text(name: str, want: Any) -> str:
    if isinstance(want, Capture):
        return repr(want)
    if callable(want) and not isinstance(want, type):
        return getattr(want, "__doc__", None) or getattr(want, "__name__", "predicate")
    return _value(name, want)


def mismatch_text(match: Match, record: Record, why: list[str], recent: list[Record]) -> str:
    """The one readable block of a failed expect()."""
    lines = [f"expected {match}", f"got      {describe(record.packet)}"]
    if record.note:
        lines.append(f"         ({record.note})")
    lines += [f"  - {w}" for w in why]
    return "\n".join(lines + _recent_lines(recent))


def _recent_lines(recent: list[Record]) -> list[str]:
    if not recent:
        return []
    t0 = recent[0].t
    return ["recent traffic:"] + [f"  +{r.t - t0:7.3f}s {str(r).split(' ', 1)[1]}" for r in recent]


def timeout_text(what: str, within: float, state: str, recent: list[Record]) -> str:
    return "\n".join([f"expected {what} within {within:.3f} s, got nothing ({state})", *_recent_lines(recent)])


def predicate(text: str, fn: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """Name a predicate so failure messages read well: `packet_id=predicate("non-zero", bool)`."""

    def check(value: Any) -> bool:
        return bool(fn(value))

    check.__doc__ = text
    return check
