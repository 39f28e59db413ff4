"""The BC660K-GL's MQTT client engine: one instance per connect ID, asyncio, real TCP.

Free of AT text on purpose: qmt_conn.py turns its results and events into URCs, the
scripted-peer tests drive it directly. Timers follow Figure 1 (chapter 2 of the note):
T1 = <pkt_timeout> with <retry_times> retransmissions ("Excep2: resend packets unless max
retry times is reached"), T2 = keep-alive ("In the absence of a data-related message during
the T2 time period, the client will send a pingreq packet"). Timer values arrive in real
seconds (already scaled by the module's time scale).

URC order (issue 13 item 4): the reader hands an awaited reply (CONNACK, SUBACK, PUBACK...) to
the command's task through a `_Reply` and waits until that task has taken it before it looks at
the next packet, so the command's result URC (emitted by the AT side in the same step as the
engine call returns) comes before whatever the packets behind it cause: a `+QMTRECV`, or the
`+QMTSTAT` of the FIN that followed a refused CONNACK. Without the hand-off, resolving a future
only schedules the waiter, and the reader, still running, reported the later packets first.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from harness.emulator.bearer import Bearer, bearer_for
from harness.emulator.mqtt_types import (
    ClientFaults,
    ConnectParams,
    ConnState,
    Delivered,
    Event,
    LinkDown,
    LinkLost,
    OpenResult,
    Outcome,
    Retry,
    SendResult,
    StatCode,
)
from harness.mqtt import codec
from harness.mqtt.codec import Packet

log = logging.getLogger(__name__)


class _Reply:
    """One acknowledgement a command waits for, and the hand-off back to the reader: the reader
    resolves `packet`, then waits for `taken`, which the waiting task sets when it has the
    packet (or gave up), before dispatching anything that arrived behind it."""

    def __init__(self) -> None:
        self.packet: asyncio.Future[Packet] = asyncio.get_running_loop().create_future()
        self.taken = asyncio.Event()


class MqttClient:
    """One connect ID's MQTT client. `run()` owns the connection's lifetime: the caller
    spawns it right after a successful `open()` (the emulator through ctx.spawn, so power-off
    cancels it) and the socket is closed in its `finally`."""

    def __init__(self, connect_id: int, retry_policy: Callable[[], Retry],
                 on_event: Callable[[Event], None], *, dup_on_retransmit: bool = True,
                 uplink: Callable[[], bool] = lambda: True, faults: ClientFaults | None = None,
                 session: dict[str, dict[int, Packet]] | None = None) -> None:
        self.connect_id = connect_id
        self._faults = faults or ClientFaults()
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
        self._uplink = uplink  # False while the radio is off: sends fail as with no bearer
        self._dup_on_retransmit = dup_on_retransmit  # False only for a faulty firmware profile
        self._policy = retry_policy
        self._on_event = on_event
        self.state = ConnState.INITIALIZING
        self._bearer: Bearer | None = None  # the connection under --network (bearer.py)
        self._decoder = codec.Decoder()
        self._pending: dict[tuple[type, int], _Reply] = {}
        self._connack: _Reply | None = None
        self._handoff: asyncio.Event | None = None  # set by the task a reply went to
        self._pong: asyncio.Future[None] | None = None
        self._inbound_qos2: set[int] = set()  # PUBREC sent, PUBREL not yet seen
        self._last_sent = 0.0
        self._keepalive_s = 0.0
        self._ping_timeout_s = 0.0
        self._keepalive_wake = asyncio.Event()
        self._down = False  # no more sending
        self._closed = False  # the host closed it: no events
        self._reported = False  # the loss has been reported
        self._run_task: asyncio.Task[None] | None = None

    # --- network connection (3.3.2 / 3.3.3) ------------------------------------------

    async def open(self, host: str, port: int, timeout_s: float, *,
                   ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
                   handshake_timeout_s: float | None = None) -> OpenResult:
        """Resolve and connect to exactly what the host asked, within `timeout_s`. With
        `ssl_context` the connection is TLS: the handshake (verifying against `server_hostname`,
        default `host`, as the context says) must also finish within `handshake_timeout_s`;
        a failed or late handshake is FAILED like a refused connection."""
        loop = asyncio.get_running_loop()
        tls: dict[str, Any] = {}
        if ssl_context is not None:
            tls = {"ssl": ssl_context, "server_hostname": server_hostname or host}
            if handshake_timeout_s is not None:
                tls["ssl_handshake_timeout"] = max(handshake_timeout_s, 0.001)
        deadline = loop.time() + timeout_s
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_s)
        except (socket.gaierror, UnicodeError, TimeoutError):
            # DECIDED: a resolver timeout is a DNS failure as well (result 4)
            return OpenResult.DNS_FAILED
        for family, _, _, _, addr in infos:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(addr[0], addr[1], family=family, **tls), left)
            except (OSError, TimeoutError) as exc:
                log.info("connect %d: %s:%s failed: %s", self.connect_id, addr[0], addr[1], exc)
                continue
            self._bearer = bearer = bearer_for(reader, writer)
            if (rtt := bearer.connect_delay()) > 0:
                # the handshake's round trip on the radio link, within the same 3.3.2 budget
                await asyncio.sleep(min(rtt, max(deadline - loop.time(), 0.0)))
                if loop.time() >= deadline:
                    self._abort_transport()
                    return OpenResult.FAILED
            self._last_sent = loop.time()
            return OpenResult.OK
        return OpenResult.FAILED

    async def run(self) -> None:
        """Read packets and keep the link alive until it goes down or is closed."""
        self._run_task = asyncio.current_task()
        pinger = asyncio.create_task(self._keepalive_loop())
        try:
            await self._read_loop()
        except asyncio.CancelledError:
            if self._bearer is not None:
                self._bearer.abort()  # power-off or reset: nothing more leaves the module
            raise
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
            self._down = True
            self._fail_pending()
            self._abort_transport()

    async def close(self) -> None:
        """Drop the connection without telling anyone (AT+QMTCLOSE, end of AT+QMTDISC);
        `run()` then returns normally (its reader sees the end of the stream)."""
        self._closed = self._down = True
        self._fail_pending()
        bearer = self._bearer
        self._abort_transport()
        task = self._run_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 2.0)
            except TimeoutError:
                task.cancel()
        if bearer is not None:
            await bearer.closed()  # on a slow link the result waits for the DISCONNECT and FIN to land

    # --- MQTT flows (3.3.4 - 3.3.8) ---------------------------------------------------

    async def connect(self, p: ConnectParams) -> Outcome:
        """CONNECT and wait for CONNACK. Figure 1 "Excep1: disconnect the TCP connection":
        CONNECT is never resent on the same connection ([MQTT-3.1.0-2]); the CONNACK wait
        is the whole response time of 3.3.4, <pkt_timeout> x (<retry_times> + 1)."""
        self._connack = reply = _Reply()
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

    async def _connect(self, pkt: codec.Connect, reply: _Reply, wait_s: float,
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
        reply = _Reply()
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

    async def _send(self, pkt: Packet) -> None:
        if self._down or self._bearer is None:
            raise LinkDown("connection is closed")
        if not self._uplink():
            # DECIDED: with no radio bearer the module's IP stack refuses the send at once (a
            # "failed" send of Table 4's "timed out or failed"); the TCP connection itself stays,
            # as the server cannot hear of it. Only the uplink is modelled: what the server
            # already sent still arrives, as a loopback link cannot lose part of a TCP stream.
            raise OSError(errno.ENETDOWN, "no radio bearer (AT+CFUN=0 or AT+CGATT=0)")
        self._bearer.write(codec.encode(pkt))
        await self._bearer.drain()
        self._last_sent = asyncio.get_running_loop().time()

    async def _send_or_lose(self, pkt: Packet, code: StatCode) -> bool:
        try:
            await self._send(pkt)
            return True
        except LinkDown:
            return False
        except OSError as exc:
            log.info("connect %d: send failed: %s", self.connect_id, exc)
            self._lose_after_result(code)
            return False

    def _lose_after_result(self, code: StatCode) -> None:
        """Report the link loss on the next loop turn, so the failing command's own result
        (which its task emits synchronously after we return) comes before +QMTSTAT."""
        self._down = True
        asyncio.get_running_loop().call_soon(self._lose, code)

    def _lose(self, code: StatCode) -> None:
        """The link is gone: chapter 5 "the client will close the MQTT connection and report
        the URC". First loss wins; a close the host asked for is never reported."""
        if self._closed or self._reported:
            return
        self._reported = self._down = True
        self._fail_pending()
        self._abort_transport()  # the reader sees the end of the stream and run() returns
        self._on_event(LinkLost(code))

    def _fail_pending(self) -> None:
        replies = [*self._pending.values(), self._connack]
        futs = [r.packet for r in replies if r is not None] + [self._pong]
        for fut in futs:
            if fut is not None and not fut.done():
                fut.set_exception(LinkDown())
                fut.exception()  # retrieved: nobody may be waiting any more

    def _abort_transport(self) -> None:
        if self._bearer is not None:
            self._bearer.close()  # stop reading; the FIN follows what is still on its way
            self._bearer = None

    async def _read_loop(self) -> None:
        assert self._bearer is not None
        bearer = self._bearer
        while True:
            data = await bearer.read()
            if not data:
                if not self._down:
                    # DECIDED: a close while waiting for CONNACK is "Receiving CONNACK ...
                    # failed" (4); otherwise "closed or reset by its remote peer" (1).
                    waiting = self.state is ConnState.CONNECTING
                    self._lose(StatCode.CONNACK_FAILED if waiting else StatCode.PEER_CLOSED)
                return
            try:
                packets = self._decoder.feed(data)
            except codec.MalformedPacket as exc:
                # DECIDED: garbage from the server -> we close ([MQTT-4.8.0-1]); Table 4 has
                # no code for it, 7 "link is not alive or the server is inaccessible" is nearest.
                log.info("connect %d: malformed packet from server: %s", self.connect_id, exc)
                self._lose(StatCode.LINK_DEAD)
                return
            for pkt in packets:
                if not self._faults.lax_fixed_header and _invalid_flags(pkt):
                    # [MQTT-2.2.2-2] "If invalid flags are received, the receiver MUST close the
                    # Network Connection" (a PUBLISH with QoS 3 too, [MQTT-3.3.1-4]). DECIDED: while
                    # waiting for CONNACK that is Table 4 code 4, else 7 as for a malformed packet.
                    log.info("connect %d: invalid fixed-header flags from server: %s", self.connect_id, pkt)
                    waiting = self.state is ConnState.CONNECTING
                    self._lose(StatCode.CONNACK_FAILED if waiting else StatCode.LINK_DEAD)
                    return
                await self._dispatch(pkt)
                handoff, self._handoff = self._handoff, None
                if handoff is not None:
                    await handoff.wait()  # the command's result URC goes out first

    def _hand_over(self, reply: _Reply | None, pkt: Packet) -> bool:
        """Give `pkt` to the task waiting on `reply`; the reader then waits for it (see the
        module docstring). False when nobody waits any more (late or duplicate ack)."""
        if reply is None or reply.packet.done():
            return False
        reply.packet.set_result(pkt)
        self._handoff = reply.taken
        return True

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

    async def _keepalive_loop(self) -> None:
        """T2: PINGREQ after keep-alive seconds without anything sent; no PINGRESP within
        T1 -> the link is dead (Table 4 code 2). DECIDED: PINGREQ is not retransmitted."""
        loop = asyncio.get_running_loop()
        while True:
            if self._keepalive_s <= 0 or self.state is not ConnState.CONNECTED:
                self._keepalive_wake.clear()
                await self._keepalive_wake.wait()
                continue
            due = self._last_sent + self._keepalive_s - loop.time()
            if due > 0:
                await asyncio.sleep(due)
                continue
            self._pong = loop.create_future()
            if not await self._send_or_lose(codec.PingReq(), StatCode.PING_TIMEOUT):
                return
            try:
                await asyncio.wait_for(asyncio.shield(self._pong), self._ping_timeout_s)
            except TimeoutError:
                self._lose(StatCode.PING_TIMEOUT)
                return
            except LinkDown:
                return


def _invalid_flags(pkt: Packet) -> bool:
    """Fixed-header flags other than MQTT 3.1.1 Table 2.2 gives ([MQTT-2.2.2-2]); PUBLISH: QoS 3."""
    if isinstance(pkt, codec.Publish):
        return pkt.qos == 3
    flags = getattr(pkt, "flags", None)
    return flags is not None and flags != codec.STANDARD_FLAGS.get(type(pkt), 0)
