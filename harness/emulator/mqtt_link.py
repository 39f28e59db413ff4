"""The link under one connect ID's MQTT client: the TCP (or TLS) connection, the reader that hands
each awaited reply to the command waiting for it, the T2 keep-alive, and the report of a lost link.

Why a module of its own: mqtt_client.py is the MQTT flows the note's commands start (CONNECT,
SUBSCRIBE, PUBLISH, ... with T1 and <retry_times>, and the session's redelivery); this module is
what carries them, with the decisions about a link going down in one place (chapter 5 Table 4:
which <err_code> each way of losing it is). MqttClient is an MqttLink. Free of AT text, as the
engine is; timer values arrive in real seconds (already scaled by the module's time scale).

URC order (issue 13 item 4): the reader hands an awaited reply (CONNACK, SUBACK, PUBACK...) to
the command's task through a `Reply` and waits until that task has taken it before it looks at
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
from typing import Any

from harness.emulator.bearer import Bearer, bearer_for
from harness.emulator.mqtt_types import ClientFaults, ConnState, Event, LinkDown, LinkLost, OpenResult, StatCode
from harness.mqtt import codec
from harness.mqtt.codec import Packet

log = logging.getLogger(__name__)


class Reply:
    """One acknowledgement a command waits for, and the hand-off back to the reader: the reader
    resolves `packet`, then waits for `taken`, which the waiting task sets when it has the
    packet (or gave up), before dispatching anything that arrived behind it."""

    def __init__(self) -> None:
        self.packet: asyncio.Future[Packet] = asyncio.get_running_loop().create_future()
        self.taken = asyncio.Event()


class MqttLink:
    """One connect ID's connection. `run()` owns its lifetime: the caller spawns it right after a
    successful `open()` (the emulator through ctx.spawn, so power-off cancels it) and the socket is
    closed in its `finally`. What arrives goes to `_dispatch`, which the client (mqtt_client.py) gives."""

    def __init__(self, connect_id: int, on_event: Callable[[Event], None], *,
                 uplink: Callable[[], bool] = lambda: True, faults: ClientFaults | None = None) -> None:
        self.connect_id = connect_id
        self._faults = faults or ClientFaults()
        self._uplink = uplink  # False while the radio is off: sends fail as with no bearer
        self._on_event = on_event
        self.state = ConnState.INITIALIZING
        self._bearer: Bearer | None = None  # the connection under --network (bearer.py)
        self._decoder = codec.Decoder()
        self._pending: dict[tuple[type, int], Reply] = {}
        self._connack: Reply | None = None
        self._handoff: asyncio.Event | None = None  # set by the task a reply went to
        self._pong: asyncio.Future[None] | None = None
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

    # --- sending, losing, reading ------------------------------------------------------------

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

    def _hand_over(self, reply: Reply | None, pkt: Packet) -> bool:
        """Give `pkt` to the task waiting on `reply`; the reader then waits for it (see the
        module docstring). False when nobody waits any more (late or duplicate ack)."""
        if reply is None or reply.packet.done():
            return False
        reply.packet.set_result(pkt)
        self._handoff = reply.taken
        return True

    async def _dispatch(self, pkt: Packet) -> None:
        """One packet from the server, in order (the client's flows: mqtt_client.py)."""
        raise NotImplementedError

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
