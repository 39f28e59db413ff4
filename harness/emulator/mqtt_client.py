"""The BC660K-GL's MQTT client engine: one instance per connect ID, asyncio, real TCP.

Free of AT text on purpose: qmt_conn.py turns its results and events into URCs, the
scripted-peer tests drive it directly. Timers follow Figure 1 (chapter 2 of the note):
T1 = <pkt_timeout> with <retry_times> retransmissions ("Excep2: resend packets unless max
retry times is reached"), T2 = keep-alive ("In the absence of a data-related message during
the T2 time period, the client will send a pingreq packet"). Timer values arrive in real
seconds (already scaled by the module's time scale).

This module is the MQTT flows (3.3.4-3.3.8: CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBLISH with T1 and
<retry_times>, DISCONNECT), what arrives from the server, and the session state a reconnect
re-sends. What carries them is mqtt_link.py (MqttLink, which MqttClient is): the connection, the
reader and its hand-off of each reply to the waiting command (why the URCs come in the order of
the packets that caused them), T2 and the report of a lost link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

from harness.emulator.mqtt_link import MqttLink, Reply
from harness.emulator.mqtt_types import (
    ClientFaults,
    ConnectParams,
    ConnState,
    Delivered,
    Event,
    LinkDown,
    Outcome,
    Retry,
    SendResult,
    StatCode,
)
from harness.mqtt import codec
from harness.mqtt.codec import Packet

log = logging.getLogger(__name__)


class MqttClient(MqttLink):
    """One connect ID's MQTT client. `run()` owns the connection's lifetime: the caller
    spawns it right after a successful `open()` (the emulator through ctx.spawn, so power-off
    cancels it) and the socket is closed in its `finally` (mqtt_link.py)."""

    def __init__(self, connect_id: int, retry_policy: Callable[[], Retry],
                 on_event: Callable[[Event], None], *, dup_on_retransmit: bool = True,
                 uplink: Callable[[], bool] = lambda: True, faults: ClientFaults | None = None,
                 session: dict[str, dict[int, Packet]] | None = None) -> None:
        super().__init__(connect_id, on_event, uplink=uplink, faults=faults)
        # The client's session state ([MQTT-3.1.2-4]): the unacknowledged PUBLISH (as it is
        # re-sent, DUP=1) or PUBREL of each packet id, in order of first sending. It outlives
        # this connection and is identified by the client identifier (3.1.2.4 "Session state is
        # identified by the Client identifier"), so a reconnect of this connect ID with the same
        # client ID and CleanSession 0 re-sends it ([MQTT-4.4.0-1]) and another client ID never
        # sees it. `session` is the connect ID's store by client ID; None: a faulty firmware that
        # keeps none. Until CONNECT picks the session, this connection's state starts empty.
        self._sessions = session
        self._session: dict[int, Packet] | None = None if session is None else {}
        self._resend: list[Packet] = []
        self._dup_on_retransmit = dup_on_retransmit  # False only for a faulty firmware profile
        self._policy = retry_policy
        self._inbound_qos2: set[int] = set()  # PUBREC sent, PUBREL not yet seen

    # --- MQTT flows (3.3.4 - 3.3.8) ---------------------------------------------------

    async def connect(self, p: ConnectParams) -> Outcome:
        """CONNECT and wait for CONNACK. Figure 1 "Excep1: disconnect the TCP connection":
        CONNECT is never resent on the same connection ([MQTT-3.1.0-2]); the CONNACK wait
        is the whole response time of 3.3.4, <pkt_timeout> x (<retry_times> + 1)."""
        self._connack = reply = Reply()
        self.state = ConnState.CONNECTING
        pkt = codec.Connect(
            p.client_id, clean_session=p.clean_session, keepalive=p.keepalive,
            username=p.username,
            password=None if p.password is None else p.password.encode("utf-8", "surrogateescape"),
            will_flag=p.will_topic is not None, will_topic=p.will_topic or "",
            will_payload=p.will_payload, will_qos=p.will_qos if p.will_topic is not None else 0,
            will_retain=p.will_retain and p.will_topic is not None,
            protocol_name="MQTT" if p.version == 1 else "MQIsdp",
            protocol_level=4 if p.version == 1 else 3)
        if (self._faults.credentials_before_will and pkt.will_flag and pkt.username is not None
                and pkt.password is not None):
            # a faulty firmware: same flags, but the payload carries user name and password where
            # will topic and will message belong, and the will after them
            pkt = replace(pkt, will_topic=pkt.username, will_payload=pkt.password,
                          username=pkt.will_topic, password=pkt.will_payload)
        # What goes out again after CONNACK: the session's unacknowledged packets with CleanSession 0
        self._resend = []
        if self._sessions is not None:
            kept = self._sessions.setdefault(p.client_id, {})
            if not p.clean_session:
                self._session, self._resend = kept, list(kept.values())
            else:
                # [MQTT-3.1.2-6] CleanSession 1: the previous session is discarded (a faulty
                # firmware re-sends it first), and this one's state is never reused by a later
                # session [MQTT-3.1.2-7]: it lives with this connection only
                if self._faults.session_kept_on_clean:
                    self._resend = list(kept.values())
                kept.clear()
                self._session = {}
        policy = self._policy()
        try:
            return await self._connect(pkt, reply, policy.timeout_s * (policy.retries + 1), p)
        finally:
            reply.taken.set()  # the caller reports the result before this step ends

    async def _connect(self, pkt: codec.Connect, reply: Reply, wait_s: float,
                       p: ConnectParams) -> Outcome:
        if not await self._send_or_lose(pkt, StatCode.CONNECT_FAILED):
            return Outcome(SendResult.FAILED)
        try:
            ack = await asyncio.wait_for(asyncio.shield(reply.packet), wait_s)
        except TimeoutError:
            self._lose_after_result(StatCode.CONNACK_FAILED)
            return Outcome(SendResult.FAILED)
        except LinkDown:
            return Outcome(SendResult.FAILED)
        assert isinstance(ack, codec.ConnAck)
        if ack.return_code != 0:
            # DECIDED: a refused CONNACK is "Receiving CONNACK packet ... failed" (Table 4
            # code 4, whose advice is to check user name/password and client ID); the
            # server closes anyway ([MQTT-3.2.2-5]), so the module closes and reports 4.
            self._lose_after_result(StatCode.CONNACK_FAILED)
            return Outcome(SendResult.ACKED, (ack.return_code,))
        self.state = ConnState.CONNECTED
        # [MQTT-4.4.0-1] re-send every unacknowledged PUBLISH and PUBREL with its original packet
        # id, PUBLISH in the order first sent ([MQTT-4.6.0-1]) and with DUP=1 ([MQTT-3.3.1-1])
        for again in self._resend:
            if not await self._send_or_lose(again, StatCode.LINK_DEAD):
                break
        self._keepalive_s = p.keepalive_s if p.keepalive else 0.0
        self._ping_timeout_s = self._policy().timeout_s
        self._keepalive_wake.set()
        return Outcome(SendResult.ACKED, (0,))

    async def subscribe(self, packet_id: int, topics: list[tuple[str, int]],
                        on_retry: Callable[[int], None] | None = None) -> Outcome:
        pkt = codec.Subscribe(packet_id, list(topics))
        ack = await self._exchange(pkt, codec.SubAck, lambda: pkt, on_retry)
        if ack is None:
            return Outcome(SendResult.FAILED)
        assert isinstance(ack, codec.SubAck)
        return Outcome(SendResult.ACKED, tuple(ack.return_codes))

    async def unsubscribe(self, packet_id: int, topics: list[str],
                          on_retry: Callable[[int], None] | None = None) -> Outcome:
        pkt = codec.Unsubscribe(packet_id, list(topics))
        ack = await self._exchange(pkt, codec.UnsubAck, lambda: pkt, on_retry)
        return Outcome(SendResult.FAILED if ack is None else SendResult.ACKED)

    async def publish(self, packet_id: int, topic: str, payload: bytes, qos: int, retain: bool,
                      on_retry: Callable[[int], None] | None = None) -> Outcome:
        """QoS 0: ACKED once written (3.3.8 <result> 0 "messages published when <QoS>=0 do
        not require any ACK"). QoS 1/2: resent with DUP=1 and the same packet id; for QoS 2
        the PUBREL phase has its own T1/retry budget and its own retransmission count
        (DECIDED: Figure 1 times PUBLISH->PUBREC and PUBREL->PUBCOMP separately)."""
        pkt = codec.Publish(topic, payload, qos, retain, False, packet_id if qos else None)
        if qos == 0:
            ok = await self._send_or_lose(pkt, StatCode.LINK_DEAD)
            return Outcome(SendResult.ACKED if ok else SendResult.FAILED)
        dup = replace(pkt, dup=self._dup_on_retransmit)
        session = self._session if self._session is not None else {}
        session.pop(packet_id, None)  # a new message with this id: it goes to the end of the order
        session[packet_id] = dup  # kept until acknowledged, also across a lost link
        ack_type = codec.PubAck if qos == 1 else codec.PubRec
        if await self._exchange(pkt, ack_type, lambda: dup, on_retry) is None:
            return Outcome(SendResult.FAILED)
        if qos == 2:
            rel = codec.PubRel(packet_id)  # resent as is: PUBREL has no DUP flag
            # (a faulty firmware sets DUP on it anyway: fixed-header flags 1010)
            again = replace(rel, flags=0b1010) if self._faults.dup_on_pubrel else rel
            session[packet_id] = again
            if await self._exchange(rel, codec.PubComp, lambda: again, on_retry) is None:
                return Outcome(SendResult.FAILED)
        session.pop(packet_id, None)
        return Outcome(SendResult.ACKED)

    async def disconnect(self) -> None:
        """Send DISCONNECT (3.3.5) and close the connection."""
        self.state = ConnState.DISCONNECTING
        with contextlib.suppress(OSError, LinkDown):
            await self._send(codec.Disconnect())
        await self.close()

    # --- internals ------------------------------------------------------------------------

    async def _exchange(self, first: Packet, ack_type: type, resend: Callable[[], Packet],
                        on_retry: Callable[[int], None] | None) -> Packet | None:
        """Send, wait T1, resend up to <retry_times> (Figure 1 Excep2). None when retries
        ran out; then the module gives up on the link (Table 4 code 6, after the result)."""
        pid = getattr(first, "packet_id", 0) or 0
        key = (ack_type, pid)
        reply = Reply()
        self._pending[key] = reply
        policy = self._policy()
        try:
            for attempt in range(policy.retries + 1):
                pkt = first if attempt == 0 else resend()
                if not await self._send_or_lose(pkt, StatCode.LINK_DEAD):
                    return None
                if attempt and on_retry is not None:
                    on_retry(attempt)
                try:
                    return await asyncio.wait_for(asyncio.shield(reply.packet), policy.timeout_s)
                except TimeoutError:
                    continue
            self._lose_after_result(StatCode.SEND_FAILURES)
            return None
        except LinkDown:
            return None
        finally:
            if self._pending.get(key) is reply:
                del self._pending[key]
            reply.taken.set()  # the caller reports the result before this step ends

    async def _dispatch(self, pkt: Packet) -> None:
        if isinstance(pkt, codec.ConnAck):
            self._hand_over(self._connack, pkt)
        elif isinstance(pkt, codec.PingResp):
            if self._pong is not None and not self._pong.done():
                self._pong.set_result(None)
        elif isinstance(pkt, codec.Publish):
            await self._inbound_publish(pkt)
        elif isinstance(pkt, codec.PubRel):
            # Inbound QoS 2, second half: release the id, answer PUBCOMP (also for an unknown
            # id, [MQTT-4.3.3-2] the receiver MUST respond to PUBREL with PUBCOMP).
            self._inbound_qos2.discard(pkt.packet_id)
            await self._send_quietly(codec.PubComp(pkt.packet_id))
        elif isinstance(pkt, codec.PubAck | codec.PubRec | codec.PubComp | codec.SubAck
                        | codec.UnsubAck):
            if not self._hand_over(self._pending.get((type(pkt), pkt.packet_id)), pkt):
                await self._session_ack(pkt)
        else:
            log.info("connect %d: ignoring %s from server", self.connect_id, type(pkt).__name__)

    async def _session_ack(self, pkt: Packet) -> None:
        """An acknowledgement nobody waits for: the answer to a packet re-sent from the session
        after a reconnect ([MQTT-4.4.0-1]) goes on with that flow; anything else is logged."""
        pid = getattr(pkt, "packet_id", 0)
        session = self._session if self._session is not None else {}
        held = session.get(pid)
        if isinstance(pkt, codec.PubRec) and isinstance(held, codec.Publish):
            session[pid] = codec.PubRel(pid)
            await self._send_quietly(codec.PubRel(pid))
        elif ((isinstance(pkt, codec.PubAck) and isinstance(held, codec.Publish))
              or (isinstance(pkt, codec.PubComp) and isinstance(held, codec.PubRel))):
            del session[pid]
        else:
            log.info("connect %d: unexpected %s", self.connect_id, pkt)

    async def _inbound_publish(self, pkt: codec.Publish) -> None:
        """QoS 0 deliver; QoS 1 PUBACK then deliver; QoS 2 deliver on PUBLISH and remember
        the id until PUBREL (MQTT 3.1.1 4.3.3 "Method B"): a re-sent PUBLISH (DUP) with an
        id still held is answered with PUBREC again but not delivered, so the host sees
        +QMTRECV exactly once."""
        pid = pkt.packet_id or 0
        if pkt.qos == 1 or (pkt.qos == 0 and self._faults.puback_on_qos0):
            await self._send_quietly(codec.PubAck(pid))
        elif pkt.qos == 2:
            seen = pid in self._inbound_qos2
            self._inbound_qos2.add(pid)
            await self._send_quietly(codec.PubRec(pid))
            if seen:
                return
        self._on_event(Delivered(pkt.topic, pkt.payload, pkt.qos, pkt.retain, pid))

    async def _send_quietly(self, pkt: Packet) -> None:
        with contextlib.suppress(OSError, LinkDown):
            await self._send(pkt)
