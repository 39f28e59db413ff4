"""The MQTT 3.1 / 3.1.1 packets: one dataclass per control packet type, and their bytes both ways.

Lenient on purpose: a field keeps what was received even when MQTT 3.1.1 forbids it (raw fixed-header
flags, DUP on QoS 0, QoS 3, the reserved CONNECT bit), so a verdict can name what a broken peer sent;
statements.validate() says which statements a packet breaks. encode() and decode_packet() are
byte-exact both ways: strings go through surrogateescape, so a topic decoded from ill-formed UTF-8
encodes again to the bytes received. Cutting a stream into packets is framing.py's job.

Why the classes and their encoding in one module: a field or a packet type touches both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["MAX_REMAINING", "STANDARD_FLAGS", "TYPE_CODES", "ConnAck", "Connect", "Direction", "Disconnect",
           "MalformedPacket", "Packet", "PingReq", "PingResp", "PubAck", "PubComp", "PubRec", "PubRel", "Publish",
           "SubAck", "Subscribe", "UnsubAck", "Unsubscribe", "decode_packet", "encode", "encode_varint"]

MAX_REMAINING = 268_435_455  # MQTT 3.1.1 2.2.3: four varint bytes


class MalformedPacket(ValueError):
    """The byte stream cannot be parsed as MQTT; the connection should be closed (4.8)."""


# --- packets -----------------------------------------------------------------------------
# `flags` is the low nibble of the fixed header as received; None = the standard value
# when encoding. PUBLISH derives its nibble from dup/qos/retain instead.


@dataclass
class Connect:
    client_id: str
    clean_session: bool = True
    keepalive: int = 0
    username: str | None = None
    password: bytes | None = None
    will_flag: bool = False
    will_topic: str = ""
    will_payload: bytes = b""
    will_qos: int = 0
    will_retain: bool = False
    protocol_name: str = "MQTT"  # "MQIsdp" for MQTT 3.1
    protocol_level: int = 4  # 3 for MQTT 3.1
    reserved_flag: bool = False  # connect-flags bit 0, must be 0 [MQTT-3.1.2-3]
    flags: int | None = None


@dataclass
class ConnAck:
    session_present: bool = False
    return_code: int = 0
    flags: int | None = None


@dataclass
class Publish:
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None  # present on the wire only for QoS > 0


@dataclass
class _IdOnly:
    """A packet whose variable header is its packet identifier alone (MQTT 3.1.1 3.4-3.7, 3.11): one
    class for the five, so encoding and decoding treat them alike."""

    packet_id: int
    flags: int | None = None


class PubAck(_IdOnly):
    """PUBACK (3.4)."""


class PubRec(_IdOnly):
    """PUBREC (3.5)."""


class PubRel(_IdOnly):
    """PUBREL (3.6): standard flags 0b0010 [MQTT-3.6.1-1]."""


class PubComp(_IdOnly):
    """PUBCOMP (3.7)."""


@dataclass
class Subscribe:
    packet_id: int
    topics: list[tuple[str, int]] = field(default_factory=list)
    flags: int | None = None  # standard 0b0010 [MQTT-3.8.1-1]


@dataclass
class SubAck:
    packet_id: int
    return_codes: list[int] = field(default_factory=list)  # 0, 1, 2 or 0x80 failure
    flags: int | None = None


@dataclass
class Unsubscribe:
    packet_id: int
    topics: list[str] = field(default_factory=list)
    flags: int | None = None  # standard 0b0010 [MQTT-3.10.1-1]


class UnsubAck(_IdOnly):
    """UNSUBACK (3.11)."""


@dataclass
class PingReq:
    flags: int | None = None


@dataclass
class PingResp:
    flags: int | None = None


@dataclass
class Disconnect:
    flags: int | None = None


Packet = (Connect | ConnAck | Publish | PubAck | PubRec | PubRel | PubComp | Subscribe | SubAck
          | Unsubscribe | UnsubAck | PingReq | PingResp | Disconnect)

TYPE_CODES: dict[type, int] = {
    Connect: 1, ConnAck: 2, Publish: 3, PubAck: 4, PubRec: 5, PubRel: 6, PubComp: 7,
    Subscribe: 8, SubAck: 9, Unsubscribe: 10, UnsubAck: 11, PingReq: 12, PingResp: 13,
    Disconnect: 14,
}
_BY_CODE = {v: k for k, v in TYPE_CODES.items()}
STANDARD_FLAGS: dict[type, int] = {PubRel: 0b0010, Subscribe: 0b0010, Unsubscribe: 0b0010}


class Direction(StrEnum):
    """Which way a packet crossed between the client (the DUT) and the server side (a broker behind
    the fault proxy, or the scripted peer playing one). The values are what wire logs print."""

    C2B = "C>B"  # client to broker
    B2C = "B>C"  # broker to client


# --- encoding ----------------------------------------------------------------------------


def _str(s: str) -> bytes:
    # surrogateescape: a topic decoded leniently from ill-formed UTF-8 re-encodes byte-exact
    return _bin(s.encode("utf-8", "surrogateescape"))


def _bin(b: bytes) -> bytes:
    if len(b) > 0xFFFF:
        raise ValueError(f"field of {len(b)} bytes exceeds 65535")
    return len(b).to_bytes(2, "big") + b


def _u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def encode_varint(n: int) -> bytes:
    if not 0 <= n <= MAX_REMAINING:
        raise ValueError(f"remaining length {n} out of range")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _body(p: Packet) -> tuple[int, bytes]:
    """(fixed-header flags, variable header + payload)."""
    if isinstance(p, Publish):
        flags = (0x08 if p.dup else 0) | ((p.qos & 3) << 1) | (0x01 if p.retain else 0)
        body = _str(p.topic)
        if p.qos > 0:
            body += _u16(p.packet_id or 0)
        return flags, body + p.payload
    flags = p.flags if p.flags is not None else STANDARD_FLAGS.get(type(p), 0)
    if isinstance(p, Connect):
        cf = ((0x80 if p.username is not None else 0) | (0x40 if p.password is not None else 0)
              | (0x20 if p.will_retain else 0) | ((p.will_qos & 3) << 3)
              | (0x04 if p.will_flag else 0) | (0x02 if p.clean_session else 0)
              | (0x01 if p.reserved_flag else 0))
        body = _str(p.protocol_name) + bytes([p.protocol_level, cf]) + _u16(p.keepalive)
        body += _str(p.client_id)
        if p.will_flag:
            body += _str(p.will_topic) + _bin(p.will_payload)
        if p.username is not None:
            body += _str(p.username)
        if p.password is not None:
            body += _bin(p.password)
        return flags, body
    if isinstance(p, ConnAck):
        return flags, bytes([1 if p.session_present else 0, p.return_code])
    if isinstance(p, _IdOnly):
        return flags, _u16(p.packet_id)
    if isinstance(p, Subscribe):
        return flags, _u16(p.packet_id) + b"".join(_str(t) + bytes([q]) for t, q in p.topics)
    if isinstance(p, SubAck):
        return flags, _u16(p.packet_id) + bytes(p.return_codes)
    if isinstance(p, Unsubscribe):
        return flags, _u16(p.packet_id) + b"".join(_str(t) for t in p.topics)
    return flags, b""  # PINGREQ, PINGRESP, DISCONNECT


def encode(packet: Packet) -> bytes:
    flags, body = _body(packet)
    return bytes([(TYPE_CODES[type(packet)] << 4) | (flags & 0x0F)]) + encode_varint(len(body)) + body




# --- decoding ----------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedPacket(f"{self.what}: truncated at byte {self.pos} (need {n} more)")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def bin(self) -> bytes:
        return self.take(self.u16())

    def str(self) -> str:
        return self.bin().decode("utf-8", "surrogateescape")

    def rest(self) -> bytes:
        chunk = self.data[self.pos:]
        self.pos = len(self.data)
        return chunk

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def decode_packet(first: int, body: bytes) -> Packet:
    """One packet from its first byte and its body (remaining-length bytes)."""
    code, flags = first >> 4, first & 0x0F
    cls = _BY_CODE.get(code)
    if cls is None:
        raise MalformedPacket(f"reserved packet type {code}")
    r = _Reader(body, cls.__name__.upper())
    if cls is Publish:
        qos = (flags >> 1) & 3
        topic = r.str()
        pid = r.u16() if qos else None
        return Publish(topic, r.rest(), qos, bool(flags & 1), bool(flags & 8), pid)
    if cls is Connect:
        name, level, cf, keepalive = r.str(), r.u8(), r.u8(), r.u16()
        p = Connect(r.str(), clean_session=bool(cf & 0x02), keepalive=keepalive,
                    will_flag=bool(cf & 0x04), will_qos=(cf >> 3) & 3, will_retain=bool(cf & 0x20),
                    protocol_name=name, protocol_level=level, reserved_flag=bool(cf & 1), flags=flags)
        if p.will_flag:
            p.will_topic, p.will_payload = r.str(), r.bin()
        if cf & 0x80:
            p.username = r.str()
        if cf & 0x40:
            p.password = r.bin()
        return p
    if cls is ConnAck:
        ack, rc = r.u8(), r.u8()
        return ConnAck(bool(ack & 1), rc, flags)
    if issubclass(cls, _IdOnly):
        return cls(r.u16(), flags)
    if cls is Subscribe:
        pid, topics = r.u16(), []
        while r.left:
            topics.append((r.str(), r.u8()))
        return Subscribe(pid, topics, flags)
    if cls is SubAck:
        return SubAck(r.u16(), list(r.rest()), flags)
    if cls is Unsubscribe:
        pid, names = r.u16(), []
        while r.left:
            names.append(r.str())
        return Unsubscribe(pid, names, flags)
    return cls(flags)
