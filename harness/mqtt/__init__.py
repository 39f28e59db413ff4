"""MQTT on the wire: our own 3.1 / 3.1.1 codec (see codec.py for why)."""

from harness.mqtt.codec import (
    ConnAck,
    Connect,
    Decoder,
    Disconnect,
    MalformedPacket,
    Packet,
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
    decode_packet,
    encode,
    validate,
)

__all__ = [
    "ConnAck", "Connect", "Decoder", "Disconnect", "MalformedPacket", "Packet", "PingReq",
    "PingResp", "PubAck", "PubComp", "PubRec", "PubRel", "Publish", "SubAck", "Subscribe",
    "UnsubAck", "Unsubscribe", "decode_packet", "encode", "validate",
]
