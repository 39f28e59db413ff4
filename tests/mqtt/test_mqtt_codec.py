"""harness.mqtt.codec: byte-exact encoding, streaming decoding, leniency, validate()."""

from __future__ import annotations

import pytest

from harness.mqtt import codec
from harness.mqtt.codec import (
    ConnAck,
    Connect,
    Decoder,
    Disconnect,
    MalformedPacket,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    encode,
    validate,
)

ALL = [
    Connect("dev1", clean_session=False, keepalive=60, username="u", password=b"p\x00w",
            will_flag=True, will_topic="w/t", will_payload=b"bye", will_qos=1, will_retain=True),
    Connect("", protocol_name="MQIsdp", protocol_level=3),
    ConnAck(True, 0),
    ConnAck(False, 5),
    Publish("a/b", b"\x00\xffpayload", qos=2, retain=True, dup=True, packet_id=65535),
    Publish("a", b"", qos=0),
    PubAck(1), PubRec(2), PubRel(3), PubComp(4),
    Subscribe(7, [("a/+", 0), ("b/#", 2)]),
    SubAck(7, [0, 2, 0x80]),
    Unsubscribe(8, ["a/+", "b/#"]),
    UnsubAck(8),
    PingReq(), PingResp(), Disconnect(),
]


def _norm(p: codec.Packet) -> codec.Packet:
    """Decoded packets carry the raw flags they arrived with; compare with those filled in."""
    if not isinstance(p, Publish) and p.flags is None:
        p.flags = codec.STANDARD_FLAGS.get(type(p), 0)
    return p


@pytest.mark.parametrize("packet", ALL, ids=lambda p: type(p).__name__)
def test_roundtrip(packet: codec.Packet) -> None:
    assert Decoder().feed(encode(packet)) == [_norm(packet)]
    assert validate(packet) == []


def test_known_bytes() -> None:
    # MQTT 3.1.1 2.2: PUBREL/SUBSCRIBE/UNSUBSCRIBE carry flags 0b0010; others 0
    assert encode(PubRel(0x1234)) == b"\x62\x02\x12\x34"
    assert encode(PingReq()) == b"\xc0\x00"
    assert encode(Publish("t", b"x", qos=1, packet_id=10, dup=True, retain=True)) == \
        b"\x3b\x06\x00\x01t\x00\x0ax"
    assert encode(Connect("c", keepalive=30)) == \
        b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x1e\x00\x01c"


def test_remaining_length_varint_and_streaming() -> None:
    big = Publish("t", b"z" * 20000, qos=0)
    wire = encode(big) + encode(PingResp()) + encode(PubAck(9))
    assert wire[1:4] == bytes([0xA3, 0x9C, 0x01])  # 20003 = 35 + 28*128 + 1*128^2
    assert codec.encode_varint(321) == b"\xc1\x02"  # MQTT 3.1.1 2.2.3 worked example
    assert codec.encode_varint(codec.MAX_REMAINING) == b"\xff\xff\xff\x7f"
    d = Decoder()
    got: list[codec.Packet] = []
    for i in range(0, len(wire), 7):  # arbitrary chunking
        got += d.feed(wire[i:i + 7])
    assert got == [big, PingResp(0), PubAck(9, 0)]
    assert d.pending == 0


def test_lenient_decoding_keeps_what_was_sent() -> None:
    qos0_dup = bytes([0x38, 0x03, 0x00, 0x01]) + b"t"  # DUP=1 with QoS 0
    (p,) = Decoder().feed(qos0_dup)
    assert isinstance(p, Publish) and p.dup and p.qos == 0
    assert validate(p) == ["[MQTT-3.3.1-2] DUP must be 0 for QoS 0"]
    (rel,) = Decoder().feed(b"\x60\x02\x00\x05")  # PUBREL with flags 0 instead of 0b0010
    assert rel == PubRel(5, flags=0)
    assert validate(rel)[0].startswith("[MQTT-2.2.2-2] PUBREL fixed-header flags must be 0b0010")


@pytest.mark.parametrize("wire, why", [
    (b"\x30\xff\xff\xff\xff\x01", "longer than 4 bytes"),
    (b"\x00\x00", "reserved packet type 0"),
    (b"\xf0\x00", "reserved packet type 15"),
    (b"\x30\x02\x00\x05", "truncated"),  # topic length 5, no topic bytes
    (b"\x20\x01\x00", "truncated"),  # CONNACK with one byte
])
def test_malformed(wire: bytes, why: str) -> None:
    d = Decoder()
    with pytest.raises(MalformedPacket, match=why):
        d.feed(wire)
    assert d.pending == 0  # framing lost: the buffer is dropped


@pytest.mark.parametrize("packet, rule", [
    (Publish("t", qos=3, packet_id=1), "[MQTT-3.3.1-4]"),
    (Publish("t", qos=1), "[MQTT-2.3.1-1]"),
    (Publish("a/+", qos=0), "[MQTT-3.3.2-2]"),
    (Publish("", qos=0), "[MQTT-4.7.3-1]"),
    (Publish("a\udcff", qos=0), "[MQTT-1.5.3-1]"),
    (Connect("c", reserved_flag=True), "[MQTT-3.1.2-3]"),
    (Connect("c", protocol_name="MQTT", protocol_level=3), "[MQTT-3.1.2-1]"),
    (Connect("c", will_qos=1), "[MQTT-3.1.2-13]"),
    (Connect("c", password=b"x"), "[MQTT-3.1.2-22]"),
    (Connect("", clean_session=False), "[MQTT-3.1.3-7]"),
    (Connect("c\udcff"), "[MQTT-3.1.3-4]"),
    (Connect("c", will_flag=True, will_topic="w\udcff"), "[MQTT-3.1.3-10]"),
    (Connect("c", username="u\udcff"), "[MQTT-3.1.3-11]"),
    (ConnAck(True, 4), "[MQTT-3.2.2-4]"),
    (Subscribe(1, []), "[MQTT-3.8.3-3]"),
    (Subscribe(0, [("a", 0)]), "[MQTT-2.3.1-1]"),
    (Subscribe(1, [("a/#/b", 0)]), "[MQTT-4.7.1-2]"),
    (Subscribe(1, [("a+", 0)]), "[MQTT-4.7.1-3]"),
    (Subscribe(1, [("a", 3)]), "[MQTT-3.8.3-4]"),
    (Unsubscribe(1, []), "[MQTT-3.10.3-2]"),
    (SubAck(1, [3]), "[MQTT-3.9.3-2]"),
])
def test_validate_rules(packet: codec.Packet, rule: str) -> None:
    problems = validate(packet)
    assert any(p.startswith(rule) for p in problems), problems


def test_invalid_utf8_topic_roundtrips_byte_exact() -> None:
    wire = b"\x30\x04\x00\x02\xc3\x28"  # 0xC3 0x28 is not UTF-8
    (p,) = Decoder().feed(wire)
    assert encode(p) == wire
    assert any("[MQTT-1.5.3-1]" in v for v in validate(p))


def test_framer_cuts_frames_keeps_raw_bytes_and_names_what_does_not_decode() -> None:
    """One framer for the peer, the proxy and Decoder: whole frames with their exact bytes; a frame
    that does not decode comes back undecoded and the stream stays framed."""
    framer = codec.Framer()
    wire = encode(PingReq()) + b"\x40\x01\x00" + encode(PubAck(9))  # a PUBACK one byte short in the middle
    frames = []
    for i in range(len(wire)):  # byte by byte
        frames += framer.feed(wire[i:i + 1])
    assert [(f.raw, f.packet, f.error) for f in frames] == [
        (b"\xc0\x00", PingReq(0), ""), (b"\x40\x01\x00", None, "PUBACK: truncated at byte 0 (need 2 more)"),
        (encode(PubAck(9)), PubAck(9, 0), "")]
    assert framer.lost is None and framer.pending == 0
    framer.feed(b"\x30\x05\x00")
    assert framer.pending == 3
    tail = framer.flush()
    assert tail is not None and (tail.raw, tail.error) == (b"\x30\x05\x00", "stream ended inside a packet (3 bytes)")
    assert framer.flush() is None


@pytest.mark.parametrize("wire, why", [
    (b"\xf0\x05garbage", "reserved packet type 15"),  # lost at once: no wait for 5 bytes that may never come
    (b"\x00", "reserved packet type 0"),
    (b"\x30\xff\xff\xff\xff\x01", "remaining length longer than 4 bytes"),
])
def test_framer_says_when_framing_is_lost_and_passes_the_rest_through(wire: bytes, why: str) -> None:
    framer = codec.Framer()
    (first,) = framer.feed(encode(PingReq()) + wire)[1:]
    assert (first.raw, first.packet, first.error) == (wire, None, why)
    assert framer.lost == why and framer.pending == 0
    (later,) = framer.feed(encode(PingReq()))  # a well-formed packet no longer is one: the stream is lost
    assert (later.raw, later.packet) == (encode(PingReq()), None)
    assert later.error == "MQTT framing lost earlier in this stream"
    assert framer.feed(b"") == []


def test_direction_prints_as_the_wire_logs_do() -> None:
    assert [str(d) for d in codec.Direction] == ["C>B", "B>C"]
    assert codec.Direction("C>B") is codec.Direction.C2B and codec.Direction.B2C == "B>C"
