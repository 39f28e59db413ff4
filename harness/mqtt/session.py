"""The client's side of an MQTT 3.1.1 session, judged packet by packet in context.

Why its own module: codec.validate() judges one packet alone; these rules need the history of one
network connection (the first packet is CONNECT, nothing follows DISCONNECT, a packet id stays taken
until its acknowledgement, a re-sent PUBLISH carries DUP=1, no PUBLISH again after its PUBREL).
Both judges of the client use them: the scripted peer (harness.peer, which plays the server) and
the fault proxy (harness.proxy, between the client and a real broker). Pure: codec only.
"""

from __future__ import annotations

from harness.mqtt import codec
from harness.mqtt.codec import Packet

__all__ = ["SessionRules"]


class SessionRules:
    """Per-connection protocol state of the client's side, to judge packets in context.

    validate() judges one packet; these rules need history: the first packet must be CONNECT,
    packet ids of unacknowledged packets are taken, PUBLISH must not come back after PUBREL."""

    def __init__(self) -> None:
        self.seen_connect = False
        self.disconnected = False
        self.inflight: dict[int, Packet] = {}  # client-originated, awaiting our final ack
        self.pubrec_sent: set[int] = set()  # QoS 2 from the client: we sent PUBREC
        self.released: set[int] = set()  # client sent PUBREL, awaiting our PUBCOMP
        # CleanSession 0: the session may go on from an earlier connection, whose PUBREC this one
        # never saw, so a PUBREL re-sent for it is right ([MQTT-4.4.0-1]), not a PUBREL out of turn
        self.resumed = False

    def inbound(self, p: Packet) -> list[str]:
        out = list(codec.validate(p))
        if self.disconnected:
            out.append(f"[MQTT-3.14.4-2] {type(p).__name__.upper()} sent after DISCONNECT")
        if isinstance(p, codec.Connect):
            if self.seen_connect:
                out.append("[MQTT-3.1.0-2] a second CONNECT on one network connection")
            self.seen_connect = True
            self.resumed = not p.clean_session
            return out
        if not self.seen_connect:
            out.append(f"[MQTT-3.1.0-1] first packet must be CONNECT, got {type(p).__name__.upper()}")
        if isinstance(p, codec.Disconnect):
            self.disconnected = True
        elif isinstance(p, codec.Publish) and p.qos in (1, 2) and p.packet_id:
            out += self._publish(p)
        elif isinstance(p, codec.Subscribe | codec.Unsubscribe) and p.packet_id:
            held = self.inflight.get(p.packet_id)
            if held is not None and held != p:
                out.append(f"[MQTT-2.3.1-2] packet id {p.packet_id} reused while still unacknowledged")
            self.inflight[p.packet_id] = p
        elif isinstance(p, codec.PubRel):
            if p.packet_id not in self.pubrec_sent and p.packet_id not in self.released and not self.resumed:
                out.append(f"[MQTT-4.3.3-1] PUBREL for packet id {p.packet_id}, which got no PUBREC")
            self.released.add(p.packet_id)
        return out

    def _publish(self, p: codec.Publish) -> list[str]:
        pid = p.packet_id or 0
        if pid in self.released:
            return [f"[MQTT-4.3.3-1] PUBLISH re-sent for packet id {pid} after its PUBREL"]
        held = self.inflight.get(pid)
        self.inflight[pid] = p
        if held is None or not isinstance(held, codec.Publish):
            return [] if held is None else [f"[MQTT-2.3.1-2] packet id {pid} reused while still unacknowledged"]
        same = (held.topic, held.payload, held.qos) == (p.topic, p.payload, p.qos)
        if not same:
            return [f"[MQTT-2.3.1-2] packet id {pid} reused while still unacknowledged"]
        return [] if p.dup else [f"[MQTT-3.3.1-1] re-delivered PUBLISH (packet id {pid}) must have DUP=1"]

    def outbound(self, p: Packet) -> None:
        if isinstance(p, codec.PubAck | codec.SubAck | codec.UnsubAck):
            self.inflight.pop(p.packet_id, None)
        elif isinstance(p, codec.PubRec):
            self.pubrec_sent.add(p.packet_id)
        elif isinstance(p, codec.PubComp):
            self.inflight.pop(p.packet_id, None)
            self.pubrec_sent.discard(p.packet_id)
            self.released.discard(p.packet_id)
