"""The MQTT fault proxy: between the DUT and a real broker, it records and disturbs the traffic.

Why between the two and not inside a broker: the same faults then work for the physical module
(DESIGN.md "Faults") and against any broker. Each client connection gets its own upstream
connection; both directions are cut into MQTT frames by codec.Framer, each frame is logged in the
WireLog with the MQTT 3.1.1 statements it breaks (harness.proxy.judge), offered to the rules and,
unless a rule says otherwise, forwarded byte for byte. Frames that do not decode are forwarded and
logged as MALFORMED. Once a direction has lost MQTT framing
(a reserved packet type 0 or 15, a remaining length of more than four bytes), it is forwarded as
it comes, each chunk logged as MALFORMED, so garbage reaches the peer at once instead of waiting
for a length that never arrives.

The proxy runs on its own asyncio loop in a daemon thread (harness.loop_thread), so synchronous
cases drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from harness.loop_thread import LoopThread
from harness.mqtt.codec import Direction, Frame, Framer
from harness.proxy.judge import WireJudge
from harness.proxy.rules import Action, Forward, Rule, RuleError, RuleSet
from harness.proxy.wirelog import WireLog

__all__ = ["FaultProxy", "ProxyError", "RuleError"]

log = logging.getLogger("harness.proxy")
T = TypeVar("T")
_FORWARD = Forward()
# How long a broker may take to end its side after the client's FIN went on; then the proxy closes it.
HALF_CLOSE_S = 2.0
REFUSE_MODES = ("refuse", "close", "reset")  # no listener (connection refused) / accept+FIN / accept+RST


class ProxyError(Exception):
    """The proxy could not start or was used wrong; the message is one line."""


def _rst(writer: asyncio.StreamWriter | None) -> None:
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _ended_by(done: set[asyncio.Task[Any]], how: str) -> bool:
    """One of the finished pumps ended the way ``how`` says (an exception is no clean end)."""
    return any(not t.cancelled() and t.exception() is None and t.result() == how for t in done)


class _Conn:
    """One client connection and its upstream twin."""

    def __init__(self, number: int, client: asyncio.StreamWriter) -> None:
        self.number = number
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.upstream_reader: asyncio.StreamReader | None = None
        self.blackholed = False
        self.ended_by_proxy = False  # a rule, drop_connections() or stop() ended it: no EOF event
        self.judge = WireJudge()  # MQTT 3.1.1 verdicts on both directions of this connection

    def writer_to(self, direction: Direction) -> asyncio.StreamWriter | None:
        return self.upstream if direction is Direction.C2B else self.client

    def close(self) -> None:
        self.ended_by_proxy = True
        for w in (self.client, self.upstream):
            if w is not None and not w.transport.is_closing():
                w.close()

    def reset(self) -> None:
        self.ended_by_proxy = True
        _rst(self.client)
        _rst(self.upstream)


class _Hop:
    """The proxy's side of rules.Hop for one packet."""

    def __init__(self, wirelog: WireLog, conn: _Conn, direction: Direction, frame: Frame, seq: int) -> None:
        self.raw, self.packet = frame.raw, frame.packet
        self._log, self._conn, self._direction, self._seq = wirelog, conn, direction, seq
        self._sent = False

    async def send(self, data: bytes) -> None:
        writer = self._conn.writer_to(self._direction)
        if writer is None or writer.transport.is_closing() or self._conn.blackholed:
            return
        self._log.forwarded(self._seq)  # stamped first: whoever sees the bytes sees the stamp
        if not self._sent and self._direction is Direction.B2C:
            self._conn.judge.delivered(self.packet)  # the client has now been sent it
        self._sent = True
        writer.write(data)
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()

    def close(self) -> None:
        self._log.event(self._conn.number, "CLOSE", "proxy closed both sides (FIN)")
        self._conn.close()

    def reset(self) -> None:
        self._log.event(self._conn.number, "RESET", "proxy reset both sides (RST)")
        self._conn.reset()

    def blackhole(self) -> None:
        self._log.event(self._conn.number, "BLACKHOLE", "nothing forwarded any more, sockets kept open")
        self._conn.blackholed = True


class FaultProxy:
    """An MQTT-aware TCP proxy with a wire log and fault rules (a context manager too)."""

    def __init__(self, upstream_host: str, upstream_port: int, listen_host: str = "127.0.0.1",
                 listen_port: int = 0, *, connect_timeout: float = 5.0) -> None:
        for what, port, low in (("upstream_port", upstream_port, 1), ("listen_port", listen_port, 0)):
            if not isinstance(port, int) or not low <= port <= 65535:
                raise ProxyError(f"proxy: {what} must be an integer {low}..65535, got {port!r}")
        self.upstream_host, self.upstream_port = upstream_host, upstream_port
        self.host, self.port = listen_host, listen_port
        self._requested_port = listen_port
        self._connect_timeout = connect_timeout
        self.log = WireLog()
        self.rules = RuleSet()
        self._numbers = itertools.count(1)
        self._conns: set[_Conn] = set()
        self._blackhole = False
        self._refuse: str | None = None
        self._loop = LoopThread("proxy", thread_name=f"mqtt-proxy-{listen_host}", error=ProxyError,
                                exception_handler=_quiet_exception)
        self._server: asyncio.AbstractServer | None = None
        self._parked: socket.socket | None = None  # holds the port while refusing (no listener)
        self._family = socket.AF_INET
        self._lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop.running

    def start(self, timeout: float = 5.0) -> FaultProxy:
        with self._lock:
            if self._loop.running:
                raise ProxyError(f"proxy: already running on {self.host}:{self.port}")
            self._loop.start()
            try:
                self.port = self._call(self._listen(self._requested_port, None), timeout)
            except BaseException:
                self._teardown(timeout)
                raise
            log.debug("proxy %s:%d -> %s:%d", self.host, self.port, self.upstream_host, self.upstream_port)
            return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection, end the loop and join its thread. Idempotent."""
        with self._lock:
            self._teardown(timeout)
            self.port = self._requested_port

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self.running else "stopped"
        return f"<FaultProxy {where} -> {self.upstream_host}:{self.upstream_port}>"

    # -- faults -------------------------------------------------------------------------------

    def add_rule(self, rule: Rule) -> Rule:
        """Add a rule after the existing ones; returns it (its ``fired`` counts what it did)."""
        return self.rules.add(rule)

    def remove_rule(self, rule: Rule) -> None:
        self.rules.remove(rule)

    def clear_rules(self) -> None:
        self.rules.clear()

    def blackhole(self, on: bool = True) -> None:
        """Forward nothing, either way, on every connection (present and new); sockets stay open."""
        self._blackhole = bool(on)
        self.log.event(0, "BLACKHOLE" if on else "UNBLACKHOLE", "all connections")

    def refuse_connections(self, on: bool = True, mode: str = "refuse") -> None:
        """New connections fail. ``refuse``: nothing listens (the DUT sees connection refused,
        3.3.2 <result> -1); ``close``/``reset``: accepted, then closed with FIN/RST at once.
        Existing connections are left alone. Returns once in effect."""
        if mode not in REFUSE_MODES:
            raise ProxyError(f"proxy: refuse mode must be one of {', '.join(REFUSE_MODES)}, got {mode!r}")
        self._call(self._set_refuse(mode if on else None))

    def drop_connections(self, reset: bool = False) -> None:
        """End every open connection now, both sides (FIN, or RST with ``reset``)."""
        async def drop() -> None:
            for conn in list(self._conns):
                self.log.event(conn.number, "RESET" if reset else "CLOSE", "drop_connections()")
                conn.reset() if reset else conn.close()

        self._call(drop())

    @property
    def connections(self) -> int:
        """Client connections currently open through the proxy."""
        return len(self._conns)

    # -- the loop thread ----------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 5.0) -> T:
        return self._loop.run(coro, timeout)

    async def _listen(self, port: int, sock: socket.socket | None) -> int:
        try:
            if sock is None:
                infos = await asyncio.get_running_loop().getaddrinfo(self.host, port, type=socket.SOCK_STREAM)
                family, _, _, _, addr = infos[0]  # one address: port 0 must not bind two ports
                self._family = family
                self._server = await asyncio.start_server(self._serve, addr[0], port, family=family,
                                                          reuse_address=True)
            else:
                sock.listen(128)
                self._server = await asyncio.start_server(self._serve, sock=sock)
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ProxyError(f"proxy: cannot listen on {self.host}:{port}: {reason}") from None
        return int(self._server.sockets[0].getsockname()[1])

    async def _set_refuse(self, mode: str | None) -> None:
        was, self._refuse = self._refuse, mode
        self.log.event(0, "REFUSING" if mode else "ACCEPTING", mode or "")
        if mode == "refuse" and was != "refuse" and self._server is not None:
            addr = self._server.sockets[0].getsockname()
            self._server.close()
            self._server = None
            parked = socket.socket(self._family, socket.SOCK_STREAM)
            parked.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            parked.bind(addr)  # bound, not listening: connects get RST, and nobody else takes the port
            self._parked = parked
        elif was == "refuse" and mode != "refuse" and self._parked is not None:
            parked, self._parked = self._parked, None
            await self._listen(self.port, parked)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(next(self._numbers), writer)
        peer = ":".join(str(x) for x in (writer.get_extra_info("peername") or ("?",))[:2])
        if self._refuse is not None:
            self.log.event(conn.number, "REFUSED", f"{self._refuse} from {peer}")
            conn.reset() if self._refuse == "reset" else conn.close()
            return
        self._conns.add(conn)
        try:
            self.log.event(conn.number, "OPEN", f"from {peer}")
            if not await self._connect_upstream(conn):
                return
            up_reader = conn.upstream_reader
            assert up_reader is not None
            pumps = {asyncio.create_task(self._pump(conn, Direction.C2B, reader)),
                     asyncio.create_task(self._pump(conn, Direction.B2C, up_reader))}
            done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            if not conn.blackholed and not self._blackhole:
                if _ended_by(done, "client-eof") and conn.upstream is not None and conn.upstream.can_write_eof():
                    # The client's FIN goes on as a FIN and the broker ends its side in its own time, as
                    # without a proxy: its EOF (logged) says it has taken the client's DISCONNECT in.
                    with contextlib.suppress(ConnectionError, OSError):
                        conn.upstream.write_eof()
                    await asyncio.wait(pending, timeout=HALF_CLOSE_S)
                conn.close()  # one side ended: end the other too (a blackhole keeps it open)
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            self._conns.discard(conn)
            conn.ended_by_proxy = True
            conn.close()

    async def _connect_upstream(self, conn: _Conn) -> bool:
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, self.upstream_port), self._connect_timeout)
        except (OSError, TimeoutError) as exc:
            reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else (
                str(exc) or f"no connection within {self._connect_timeout} s")
            self.log.event(conn.number, "UPSTREAM-FAILED", f"{self.upstream_host}:{self.upstream_port}: {reason}")
            return False
        conn.upstream, conn.upstream_reader = up_writer, up_reader
        if conn.client.transport.is_closing():  # dropped while we were connecting
            up_writer.close()
            return False
        return True

    async def _pump(self, conn: _Conn, direction: Direction, reader: asyncio.StreamReader) -> str:
        """Frame, judge, log and forward one direction until it ends; returns how ("client-eof", ...)."""
        framer = Framer()
        side = "client" if direction is Direction.C2B else "broker"
        while True:
            try:
                data = await reader.read(65536)
            except (ConnectionError, OSError) as exc:
                if not conn.ended_by_proxy:
                    self.log.event(conn.number, "RESET", f"by the {side}: {exc}", direction)
                return f"{side}-reset"
            if not data:
                tail = framer.flush()
                if tail is not None:
                    await self._handle(conn, direction, tail)
                if not conn.ended_by_proxy:
                    self.log.event(conn.number, "EOF", f"the {side} closed", direction)
                return f"{side}-eof"
            for frame in framer.feed(data):
                await self._handle(conn, direction, frame)

    async def _handle(self, conn: _Conn, direction: Direction, frame: Frame) -> None:
        was_mqtt = not conn.judge.not_mqtt
        violations = conn.judge.received(direction, frame)  # as its sender sent it, before any rule
        if was_mqtt and conn.judge.not_mqtt:
            self.log.event(conn.number, "NOT-MQTT", conn.judge.not_mqtt, direction)
        if conn.blackholed or self._blackhole:
            self.log.packet(conn.number, direction, frame.raw, frame.packet, frame.error, fault="blackhole",
                            violations=violations)
            return
        rule = self.rules.pick(direction, frame.packet, conn.number)
        seq = self.log.packet(conn.number, direction, frame.raw, frame.packet, frame.error,
                              fault=rule.describe() if rule else None, violations=violations)
        action: Action = rule.action if rule is not None else _FORWARD
        with contextlib.suppress(ConnectionError, OSError):
            await action.apply(_Hop(self.log, conn, direction, frame, seq))

    # -- teardown -----------------------------------------------------------------------------

    async def _close_all(self) -> None:
        for listener in (self._server, self._parked):
            if listener is not None:
                listener.close()
        self._server = self._parked = None
        for conn in list(self._conns):
            conn.ended_by_proxy = True
            for w in (conn.client, conn.upstream):
                if w is not None:
                    w.transport.abort()

    def _teardown(self, timeout: float) -> None:
        self._loop.stop(self._close_all(), timeout)
        self._conns.clear()


def _quiet_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Peers that vanish mid-handshake are normal here; keep them to one debug line."""
    exc = context.get("exception")
    log.debug("proxy loop: %s%s", context.get("message", ""), f": {exc!r}" if exc else "")

