"""A small MQTT 3.1 / 3.1.1 codec of our own: packets, their bytes both ways, framing, rules.

Why our own: the suite must see exactly what crossed the wire, including what a broken
peer sends (raw fixed-header flags, DUP on QoS 0, QoS 3, reserved CONNECT bit), so decoding
is lenient and keeps what it saw; `validate()` then says which MQTT 3.1.1 statements a
packet breaks. `MalformedPacket` is only raised when the bytes cannot be framed or parsed
at all. `Framer` is the one place that cuts a byte stream into packets (it also says when
framing is lost); `Decoder` is the framer for a reader that wants packets only. `Direction`
names which way a packet went, for every wire log. Used by the emulator's MQTT client, the
scripted peer (harness/peer) and the fault proxy (harness/proxy).

Why one module of ~490 lines: the packet classes, their encoding, their decoding and their
rules change together (a field or a packet type touches all four), and each part is short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

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
class PubAck:
    packet_id: int
    flags: int | None = None


@dataclass
class PubRec:
    packet_id: int
    flags: int | None = None


@dataclass
class PubRel:
    packet_id: int
    flags: int | None = None  # standard 0b0010 [MQTT-3.6.1-1]


@dataclass
class PubComp:
    packet_id: int
    flags: int | None = None


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


@dataclass
class UnsubAck:
    packet_id: int
    flags: int | None = None


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
    if isinstance(p, PubAck | PubRec | PubRel | PubComp | UnsubAck):
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


# --- decoding and framing ----------------------------------------------------------------


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
    if cls in (PubAck, PubRec, PubRel, PubComp, UnsubAck):
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


@dataclass(frozen=True)
class Frame:
    """One frame cut from a byte stream: its bytes as received (fixed header included) and what
    they decode to. ``packet`` None: the bytes do not decode; ``error`` says why."""

    raw: bytes
    packet: Packet | None
    error: str = ""


class Framer:
    """Incremental framing of one direction of an MQTT stream: feed bytes, get whole frames.

    Each frame is cut by its remaining length and decoded with decode_packet(); a frame that does
    not decode comes back with ``packet`` None and the stream stays framed. Framing itself is lost
    when a frame starts with a reserved packet type (0 or 15) or its remaining length runs past
    four bytes: every byte held comes back as one undecoded frame, ``lost`` says why, and from then
    on each chunk fed comes back as it is (nothing waits for a length that may never arrive)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.lost: str | None = None

    def feed(self, data: bytes) -> list[Frame]:
        if self.lost is not None:
            return [Frame(bytes(data), None, "MQTT framing lost earlier in this stream")] if data else []
        self._buf += data
        out: list[Frame] = []
        while self._buf:
            cut = self._cut()
            if cut is None:
                break
            if isinstance(cut, str):
                out.append(self._lose(cut))
                break
            header, size = cut
            raw = bytes(self._buf[:size])
            del self._buf[:size]
            try:
                out.append(Frame(raw, decode_packet(raw[0], raw[header:])))
            except MalformedPacket as exc:
                out.append(Frame(raw, None, str(exc)))
        return out

    def flush(self) -> Frame | None:
        """At the end of the stream: the incomplete frame left, if any."""
        if not self._buf:
            return None
        frame = Frame(bytes(self._buf), None, f"stream ended inside a packet ({len(self._buf)} bytes)")
        self._buf.clear()
        return frame

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def _cut(self) -> tuple[int, int] | str | None:
        """(header length, frame length) of the frame at the front of the buffer; None while
        its bytes are not all here; a string when framing is lost (why)."""
        buf = self._buf
        if buf[0] >> 4 in (0, 15):
            return f"reserved packet type {buf[0] >> 4}"
        length = 0
        for i in range(1, min(len(buf), 5)):
            length |= (buf[i] & 0x7F) << (7 * (i - 1))
            if not buf[i] & 0x80:
                return (i + 1, i + 1 + length) if len(buf) >= i + 1 + length else None
        return "remaining length longer than 4 bytes" if len(buf) >= 5 else None

    def _lose(self, why: str) -> Frame:
        self.lost = why
        frame = Frame(bytes(self._buf), None, why)
        self._buf.clear()
        return frame


class Decoder:
    """Streaming decoder: feed whatever the socket gave, get the complete packets.

    MalformedPacket when a frame does not decode or framing is lost; the bytes held are dropped
    and the caller is expected to close the connection ([MQTT-4.8.0-1])."""

    def __init__(self) -> None:
        self._framer = Framer()

    def feed(self, data: bytes) -> list[Packet]:
        out: list[Packet] = []
        for frame in self._framer.feed(data):
            if frame.packet is None:
                self._framer = Framer()
                raise MalformedPacket(frame.error)
            out.append(frame.packet)
        return out

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a packet."""
        return self._framer.pending


class Direction(StrEnum):
    """Which way a packet crossed between the client (the DUT) and the server side (a broker behind
    the fault proxy, or the scripted peer playing one). The values are what wire logs print."""

    C2B = "C>B"  # client to broker
    B2C = "B>C"  # broker to client


# --- validation --------------------------------------------------------------------------


def _utf8_problems(s: str, where: str, rule: str = "1.5.3-1") -> list[str]:
    """`rule`: the statement naming the field's encoding (3.1.3-10 will topic, ...), 1.5.3-1 by default."""
    out = []
    if re.search(r"[\udc80-\udcff]", s):
        out.append(f"[MQTT-{rule}] {where} is not well-formed UTF-8")
    if "\x00" in s:
        out.append(f"[MQTT-1.5.3-2] {where} contains U+0000")
    return out


def _filter_problems(f: str) -> list[str]:
    if not f:
        return ["[MQTT-4.7.3-1] topic filter must be at least one character long"]
    levels = f.split("/")
    out = []
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            out.append(f"[MQTT-4.7.1-2] '#' must be a whole, last level in {f!r}")
        if "+" in level and level != "+":
            out.append(f"[MQTT-4.7.1-3] '+' must occupy an entire level in {f!r}")
    return out


def validate(packet: Packet) -> list[str]:
    """MQTT 3.1.1 statements the packet violates, each "[MQTT-x.y.z-n] phrase"."""
    out: list[str] = []
    std = STANDARD_FLAGS.get(type(packet), 0)
    if not isinstance(packet, Publish) and packet.flags is not None and packet.flags != std:
        out.append(f"[MQTT-2.2.2-2] {type(packet).__name__.upper()} fixed-header flags must be "
                   f"{std:#06b}, got {packet.flags:#06b}")
    if isinstance(packet, Publish):
        if packet.qos == 3:
            out.append("[MQTT-3.3.1-4] QoS must not be 3")
        if packet.qos == 0 and packet.dup:
            out.append("[MQTT-3.3.1-2] DUP must be 0 for QoS 0")
        if packet.qos > 0 and not packet.packet_id:
            out.append("[MQTT-2.3.1-1] PUBLISH with QoS > 0 needs a non-zero packet identifier")
        if not packet.topic:
            out.append("[MQTT-4.7.3-1] topic name must be at least one character long")
        if "+" in packet.topic or "#" in packet.topic:
            out.append("[MQTT-3.3.2-2] topic name must not contain wildcard characters")
        out += _utf8_problems(packet.topic, "topic name")
    elif isinstance(packet, Connect):
        if (packet.protocol_name, packet.protocol_level) not in (("MQTT", 4), ("MQIsdp", 3)):
            out.append(f"[MQTT-3.1.2-1] protocol name/level {packet.protocol_name!r}/"
                       f"{packet.protocol_level} is neither MQTT/4 nor MQIsdp/3")
        if packet.reserved_flag:
            out.append("[MQTT-3.1.2-3] CONNECT reserved flag must be 0")
        if not packet.will_flag and (packet.will_qos or packet.will_retain):
            out.append("[MQTT-3.1.2-13] will QoS and will retain must be 0 without the will flag")
        if packet.will_qos == 3:
            out.append("[MQTT-3.1.2-14] will QoS must not be 3")
        if packet.password is not None and packet.username is None:
            out.append("[MQTT-3.1.2-22] password flag set without user name flag")
        if not packet.client_id and not packet.clean_session:
            out.append("[MQTT-3.1.3-7] zero-byte client identifier requires clean session 1")
        out += _utf8_problems(packet.client_id, "client identifier", "3.1.3-4")
        if packet.will_flag:
            out += _utf8_problems(packet.will_topic, "will topic", "3.1.3-10")
        if packet.username is not None:
            out += _utf8_problems(packet.username, "user name", "3.1.3-11")
    elif isinstance(packet, ConnAck):
        if packet.return_code and packet.session_present:
            out.append("[MQTT-3.2.2-4] session present must be 0 with a non-zero return code")
        if packet.return_code > 5:
            out.append(f"[MQTT-3.2.2-6] CONNACK return code {packet.return_code} is reserved")
    elif isinstance(packet, Subscribe | Unsubscribe):
        name = type(packet).__name__.upper()
        if not packet.packet_id:
            out.append(f"[MQTT-2.3.1-1] {name} needs a non-zero packet identifier")
        if not packet.topics:
            rule = "3.8.3-3" if isinstance(packet, Subscribe) else "3.10.3-2"
            out.append(f"[MQTT-{rule}] {name} must contain at least one topic filter")
        for item in packet.topics:
            topic = item[0] if isinstance(item, tuple) else item
            out += _filter_problems(topic) + _utf8_problems(topic, "topic filter")
            if isinstance(item, tuple) and item[1] not in (0, 1, 2):
                out.append(f"[MQTT-3.8.3-4] requested QoS {item[1]} is not 0, 1 or 2")
    elif isinstance(packet, SubAck):
        bad = [c for c in packet.return_codes if c not in (0, 1, 2, 0x80)]
        if bad:
            out.append(f"[MQTT-3.9.3-2] SUBACK return codes {bad} are reserved")
    return out
