"""MQTT 3.1.1 verdicts on every packet that crosses the fault proxy, per connection.

Why here and not only in the scripted peer: the peer judges the module against a script, but most
cases run against a real broker through this proxy, and until issue 15 nothing judged what the
module sent there. Now every frame is judged as it is received, before any rule acts on it:

- from the client (the DUT): codec.validate() plus the session rules of the client's side
  (harness.mqtt.session: first packet CONNECT, packet ids in use, DUP on a re-sent PUBLISH, nothing
  after DISCONNECT, no PUBLISH again after its PUBREL); a frame that does not decode is a violation;
- from the broker: codec.validate() alone. A broker's violation is the rig's problem, not the
  module's; the wire fixture reports it apart from the cases.

The session rules learn what the client was sent only from packets the proxy really passed on
(``delivered``), so a PUBACK a rule dropped does not count as acknowledged: the module's DUP=1
re-send that follows is judged as the re-send it is. MQTT 3.1 (protocol level 3, "MQIsdp") put a
DUP flag on PUBREL, SUBSCRIBE and UNSUBSCRIBE too; on such a connection those flags are not a
3.1.1 violation.

A connection whose client opens with a TLS record (a module with <SSL_enable> 1 pointed at a plain
listener, 3.3.1 "ssl") is not MQTT at all: it is named once (``not_mqtt``) and not judged, since
its bytes are a correct TLS handshake, not a malformed CONNECT.
"""

from __future__ import annotations

from dataclasses import replace

from harness.mqtt import codec
from harness.mqtt.codec import Direction, Frame, Packet
from harness.mqtt.session import SessionRules

__all__ = ["MALFORMED", "WireJudge"]

MALFORMED = "[malformed]"  # a frame that does not decode as MQTT: no single numbered statement names it
_NOT_A_VIOLATION = ("stream ended inside a packet", "MQTT framing lost earlier")  # a cut link; the first loss
_MQTT31_DUP_FLAGS = 0b1010  # MQTT 3.1: DUP + QoS 1 on a re-sent PUBREL/SUBSCRIBE/UNSUBSCRIBE
_TLS_HANDSHAKE, _TLS_MAJOR = 0x16, 0x03  # a TLS record: content type handshake, version 3.x (RFC 8446 5.1)


def is_tls_record(raw: bytes) -> bool:
    """The bytes open a TLS handshake record (SSL 3.0 to TLS 1.3 all write major version 3)."""
    return len(raw) >= 3 and raw[0] == _TLS_HANDSHAKE and raw[1] == _TLS_MAJOR and raw[2] <= 0x04


class WireJudge:
    """The verdicts for one proxied connection (both directions); not thread-safe, the proxy calls
    it from its one loop thread."""

    def __init__(self) -> None:
        self.rules = SessionRules()
        self.protocol_level: int | None = None  # from the client's CONNECT
        self.not_mqtt = ""  # why this connection is not judged ("" while it is MQTT)
        self._first = True

    def received(self, direction: Direction, frame: Frame) -> tuple[str, ...]:
        """The statements ``frame`` breaks, judged as it arrived from its sender."""
        if self._first and direction is Direction.C2B:
            self._first = False
            if is_tls_record(frame.raw):
                self.not_mqtt = "the client opened with a TLS handshake: not MQTT, not judged"
        if self.not_mqtt:
            return ()
        packet = frame.packet
        if packet is None:
            if frame.error.startswith(_NOT_A_VIOLATION):
                return ()
            return (f"{MALFORMED} {frame.error}",)
        if isinstance(packet, codec.Connect) and direction is Direction.C2B and self.protocol_level is None:
            self.protocol_level = packet.protocol_level
        packet = self._as_311(packet)
        found = self.rules.inbound(packet) if direction is Direction.C2B else codec.validate(packet)
        return tuple(found)

    def delivered(self, packet: Packet | None) -> None:
        """A broker packet went on to the client (the first time it was forwarded)."""
        if packet is not None:
            self.rules.outbound(packet)

    def _as_311(self, packet: Packet) -> Packet:
        """On an MQTT 3.1 connection a DUP flag on PUBREL/SUBSCRIBE/UNSUBSCRIBE is that version's
        re-send marker: judge the packet with the 3.1.1 flags instead."""
        flags = getattr(packet, "flags", None)
        if self.protocol_level == 3 and flags == _MQTT31_DUP_FLAGS and type(packet) in codec.STANDARD_FLAGS:
            return replace(packet, flags=codec.STANDARD_FLAGS[type(packet)])  # type: ignore[type-var]
        return packet
