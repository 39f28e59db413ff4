"""The scripted MQTT peer: the broker end of the wire, driven step by step by a case.

Why: a verdict on the module's MQTT client (DUP and packet ids on retransmission, PUBREL after
PUBREC, CONNACK codes, keep-alive, MQTT 3.1) needs a broker that can be told to withhold an
acknowledgement, stay silent, or drop the link, and no real broker here is both correct and
controllable (DESIGN.md, "Broker side"). So a case scripts this peer the way mosquitto's
test/lib fake brokers do:

    with ScriptedPeer() as peer:                      # 127.0.0.1, a free port
        ...client connects to peer.port...
        conn = peer.accept(timeout)
        conn.handshake(return_code=0)                 # expect CONNECT, answer CONNACK
        pub = conn.expect(Match(codec.Publish, qos=1, packet_id=Capture("id")), timeout)
        conn.expect(Match(codec.Publish, dup=True, packet_id=Capture("id")), timeout)
        conn.send(codec.PubAck(pub.packet_id))
        conn.assert_conformant()

The asyncio server runs on its own loop in a daemon thread (harness.loop_thread); the case's calls
are synchronous and every wait has a deadline. Every packet both ways is kept in `conn.log` with
its time.monotonic() stamp, its direction (C>B from the client, B>C from the peer) and raw bytes,
and every packet from the client is judged with codec.validate() plus the session rules of
harness.mqtt.session.SessionRules (`conn.violations`).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections import deque
from collections.abc import Coroutine
from typing import Any, TypeVar

from harness.loop_thread import LoopThread
from harness.peer.connection import STOP_S, Connection
from harness.peer.match import PeerError, PeerTimeout

__all__ = ["ScriptedPeer"]

T = TypeVar("T")


class ScriptedPeer:
    """The listening side; hands out one Connection per accepted (and TLS-handshaken) client."""

    def __init__(self, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None,
                 auto_pingresp: bool = False, default_timeout: float = 5.0,
                 tls_handshake_timeout: float = 5.0) -> None:
        if tls is not None and not isinstance(tls, ssl.SSLContext):
            raise TypeError(f"tls must be an ssl.SSLContext, not {type(tls).__name__}")
        self.host, self.tls = host, tls
        self.auto_pingresp = auto_pingresp
        self.default_timeout = default_timeout
        self.tls_handshake_timeout = tls_handshake_timeout
        self.port = 0
        self.connections: list[Connection] = []
        self.tls_failures: list[str] = []  # one line per client whose TLS handshake failed
        self.errors: list[str] = []  # unexpected exceptions inside the loop (should stay empty)
        self._cond = threading.Condition()
        self._accepted: deque[Connection] = deque()
        self._loop = LoopThread("scripted peer", thread_name="scripted-mqtt-peer", error=PeerError,
                                exception_handler=self._on_loop_error)
        self._started = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> ScriptedPeer:
        if self._started:
            raise PeerError("ScriptedPeer.start() called twice")
        self._started = True
        self._loop.start()
        try:
            self._server = self._call(asyncio.start_server(self._on_client, self.host, 0))
        except (OSError, PeerError) as exc:
            self.stop()
            raise PeerError(f"scripted peer cannot listen on {self.host}: {exc}") from None
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Close the listener and every connection, stop the loop and join its thread (bounded)."""
        if not self._loop.stop(self._shutdown(), STOP_S):
            raise PeerError(f"scripted peer thread did not stop within {STOP_S:.0f} s")

    def __enter__(self) -> ScriptedPeer:
        return self if self._started else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- scripting API

    def accept(self, timeout: float | None = None) -> Connection:
        """The next client connection (in arrival order) once it is accepted and TLS is up."""
        within = self.default_timeout if timeout is None else timeout
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._accepted), within):
                tls = f"; TLS handshakes failed: {'; '.join(self.tls_failures)}" if self.tls_failures else ""
                raise PeerTimeout(f"no client connected to {self.host}:{self.port} within {within:.3f} s{tls}")
            return self._accepted.popleft()

    def wait_tls_failure(self, timeout: float | None = None) -> str:
        within = self.default_timeout if timeout is None else timeout
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self.tls_failures), within):
                raise PeerTimeout(f"no failed TLS handshake within {within:.3f} s")
            return self.tls_failures[0]

    # ---------------------------------------------------------------- internals

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coro, STOP_S)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            if self.tls is not None and not await self._tls(writer):
                return
            conn = Connection(reader, writer, loop=self._loop, default_timeout=self.default_timeout,
                              auto_pingresp=self.auto_pingresp)
            with self._cond:
                self.connections.append(conn)
                self._accepted.append(conn)
                self._cond.notify_all()
            await conn.serve()
        except asyncio.CancelledError:
            pass  # shutdown; streams (3.11) would log a cancelled client_connected_cb task as an error
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            if not writer.transport.is_closing():  # client FIN, failed handshake, shutdown
                writer.transport.abort()

    async def _tls(self, writer: asyncio.StreamWriter) -> bool:
        """Server-side TLS handshake; a failure is recorded (peer.tls_failures), not raised."""
        assert self.tls is not None
        try:
            await writer.start_tls(self.tls, ssl_handshake_timeout=self.tls_handshake_timeout)
            return True
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as exc:
            with self._cond:
                self.tls_failures.append(f"{writer.get_extra_info('peername')}: {exc}")
                self._cond.notify_all()
            return False

    async def _shutdown(self) -> None:
        """Close everything without cancelling handlers: aborting a transport ends its reader."""
        if self._server is not None:
            self._server.close()
        for conn in self.connections:
            conn.ended("peer stopped")
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_S)  # any still running, the LoopThread cancels next
        for _ in range(3):  # let transports run their connection_lost (which closes the sockets)
            await asyncio.sleep(0)
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), STOP_S)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.errors.append(str(context.get("exception") or context.get("message")))
        loop.default_exception_handler(context)
