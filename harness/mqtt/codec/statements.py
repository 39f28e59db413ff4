"""validate(): the MQTT 3.1.1 statements one packet breaks, each "[MQTT-x.y.z-n] phrase".

What one packet shows on its own; what needs the packets before it (first packet CONNECT, packet
ids in use, DUP on a re-sent PUBLISH) is harness.mqtt.session.
"""

from __future__ import annotations

import re

from harness.mqtt.codec.packets import STANDARD_FLAGS, ConnAck, Connect, Packet, Publish, SubAck, Subscribe, Unsubscribe

__all__ = ["validate"]


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
