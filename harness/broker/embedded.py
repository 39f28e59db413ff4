"""The embedded amqtt broker: a real MQTT 3.1.1 broker in this process, for the end-to-end cases.

amqtt is asyncio-only, while pytest code and the emulator subprocess are synchronous, so the broker
runs on its own event loop in its own daemon thread and this class is a thread-safe facade.

Facts about amqtt 0.12.1 this module relies on or works around (checked against its source):

- ``Broker.__init__`` creates its broadcast-shutdown future on the *current* loop. Built outside
  the loop that later runs it, ``shutdown()`` waits its full 5 s timeout and logs a CancelledError
  traceback ("Broadcast loop stopped by exception"). We therefore build the Broker inside the
  broker thread's loop, which makes stop take milliseconds.
- Listeners go through ``asyncio.start_server``, so port 0 binds a free port; the bound port is
  read back from the listening sockets.
- The TLS context is hard-coded to ``CERT_OPTIONAL``; ``TlsFiles.require_client_cert`` tightens
  it to ``CERT_REQUIRED`` (mutual TLS) by overriding the context factory.
- amqtt's AnonymousAuthPlugin marks sessions anonymous, and amqtt purges anonymous sessions on
  disconnect (clean_session=0 would not survive). With ``allow_anonymous`` we use a small plugin
  that admits everyone without that mark, so persistent sessions work.
- Client connections still open at shutdown are not closed by amqtt; we track and close them so
  that a start/stop loop leaks no socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import ssl
import tempfile
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from amqtt.broker import Broker
from amqtt.contexts import BrokerConfig
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from harness.broker.errors import BrokerError

__all__ = ["BrokerError", "EmbeddedBroker", "TlsFiles"]

_PREFIX = "amqtt broker"


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a TLS listener. ``cafile`` is the CA that client certificates must chain to."""

    certfile: Path
    keyfile: Path
    cafile: Path | None = None
    require_client_cert: bool = False  # mutual TLS: refuse clients without a certificate from cafile


class OpenAuthPlugin(BaseAuthPlugin):
    """Admit every client without flagging the session anonymous (see the module docstring)."""

    @dataclass
    class Config:
        """No options."""

    async def authenticate(self, *, session: Session) -> bool | None:
        return True


class _QuietDuringLifecycle(logging.Filter):
    """Demote amqtt's log records to DEBUG, without traceback, while start or stop runs.

    Start failures reach the caller as one-line BrokerErrors and stop noise is expected, so neither
    should print a traceback. Only records emitted on a broker thread that is starting or stopping
    are touched; a running broker logs as amqtt normally does.
    """

    def __init__(self) -> None:
        super().__init__()
        self.quiet_threads: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread in self.quiet_threads and record.levelno > logging.DEBUG:
            if record.exc_info and record.exc_info[1] is not None:
                record.msg = f"{record.getMessage()}: {record.exc_info[1]!r}"
                record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            # The logger's level check already ran at the original level: redo it for DEBUG.
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_QUIET = _QuietDuringLifecycle()


def _install_quiet_filter() -> None:
    """Attach the filter to every amqtt logger: logger filters do not apply to child records."""
    for name in ["amqtt", *list(logging.Logger.manager.loggerDict)]:
        if name == "amqtt" or name.startswith("amqtt."):
            logger = logging.getLogger(name)
            if _QUIET not in logger.filters:
                logger.addFilter(_QUIET)


class _BindError(Exception):
    def __init__(self, address: str | None, port: int, cause: OSError) -> None:
        super().__init__(address, port, cause)
        self.address, self.port, self.cause = address, port, cause

    def line(self) -> str:
        reason = {
            errno.EADDRINUSE: "address in use",
            errno.EADDRNOTAVAIL: "address not available on this host",
            errno.EACCES: "permission denied",
        }.get(self.cause.errno or 0, self.cause.strerror or str(self.cause))
        return f"{_PREFIX}: cannot listen on {self.address}:{self.port}: {reason}"


class _Broker(Broker):
    """amqtt's Broker plus: mutual TLS on request, one-line bind errors, tracked client streams."""

    def __init__(self, config: BrokerConfig, *, mtls_listeners: frozenset[str]) -> None:
        super().__init__(config)
        self._mtls_listeners = mtls_listeners
        self.client_writers: set[asyncio.StreamWriter] = set()

    def _create_ssl_context(self, listener: Any) -> Any:  # type: ignore[override]
        ctx = Broker._create_ssl_context(listener)
        for name, cfg in self.listeners_config.items():
            if cfg is listener and name in self._mtls_listeners:
                ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    async def _create_server_instance(self, listener_name: str, listener_type: Any, address: str | None,
                                      port: int, ssl_context: Any) -> Any:
        try:
            return await super()._create_server_instance(listener_name, listener_type, address, port,
                                                         ssl_context)
        except OSError as exc:
            raise _BindError(address, port, exc) from exc

    def stream_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,  # type: ignore[override]
                         listener_name: str) -> Coroutine[Any, Any, None]:
        # Deliberately not async: asyncio calls this inside connection_made, so the stream is
        # tracked even if stop cancels its task before the task ever ran (no finally would run).
        self.client_writers.add(writer)
        return self._serve_stream(reader, writer, listener_name)

    async def _serve_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            listener_name: str) -> None:
        try:
            await super().stream_connected(reader, writer, listener_name)
        except asyncio.CancelledError:
            # Only our stop cancels these. Returning normally matters on Python 3.11: asyncio's
            # done-callback calls task.exception() on a cancelled task and logs a traceback.
            pass
        finally:
            self.client_writers.discard(writer)
            writer.close()

    def bound_ports(self) -> dict[str, int]:
        return {name: server.instance.sockets[0].getsockname()[1]
                for name, server in self._servers.items() if server.instance and server.instance.sockets}

    async def close_listeners(self) -> None:
        """Stop accepting, let accepted sockets become transports, then close the listeners.

        Closing an asyncio Server while an accepted socket still waits for its transport makes the
        transport constructor fail (Server._attach asserts), and that socket then lingers until
        garbage collection. So first stop the accept callbacks, and give those pending a few turns.
        """
        loop = asyncio.get_running_loop()
        for server in self._servers.values():
            for sock in (server.instance.sockets if server.instance else ()):
                loop.remove_reader(sock.fileno())
        for _ in range(20):
            await asyncio.sleep(0)
            if not any(_is_accepting(task) for task in asyncio.all_tasks()):
                break
        await asyncio.sleep(0)  # their connection_made callbacks run on the next turn
        for server in self._servers.values():
            with contextlib.suppress(Exception):
                await server.close_instance()


def _is_accepting(task: asyncio.Task[Any]) -> bool:
    return getattr(task.get_coro(), "__qualname__", "").endswith("_accept_connection2")


def _hash_users(users: Mapping[str, str], directory: Path) -> Path:
    """Write amqtt's password file (``user:argon2-hash`` lines); plaintext never touches disk."""
    hasher = PasswordHash((Argon2Hasher(),))
    lines = []
    for user, password in users.items():
        if not user or ":" in user or "\n" in user:
            raise BrokerError(f"{_PREFIX}: invalid user name {user!r} (empty, or contains ':' or newline)")
        lines.append(f"{user}:{hasher.hash(password)}\n")
    path = directory / "passwd"
    path.write_text("".join(lines), encoding="utf-8")
    path.chmod(0o600)
    return path


class EmbeddedBroker:
    """amqtt on loopback, started and stopped from synchronous code (a context manager too)."""

    kind = "amqtt"
    # What amqtt 0.12.1 does where MQTT 3.1.1 leaves room or where it deviates (the broker issue).
    # True/False: supported/enforced or not. Verdicts on the DUT never rest on a False entry.
    CAPABILITIES: ClassVar[dict[str, bool | int]] = {
        "mqtt311": True,
        "mqtt31": False,               # MQIsdp CONNECT is dropped without a CONNACK
        "keepalive_enforced": False,   # a silent client is not disconnected after 1.5 x keep-alive
        "pubrel_retry_ok": False,      # a retransmitted PUBREL gets no PUBCOMP
        "qos_downgrade": False,        # delivers at the subscription QoS, not min(publish, subscription)
        "persistent_sessions": True,   # clean_session=0 kept (see OpenAuthPlugin)
        "retain": True,
        "will": True,
        "max_qos": 2,
        "tls": True,
        "mtls_required": False,        # set per instance: True when TlsFiles.require_client_cert
    }

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tls: TlsFiles | None = None,
                 tls_port: int = 0, allow_anonymous: bool = True,
                 users: Mapping[str, str] | None = None) -> None:
        for name, value in (("port", port), ("tls_port", tls_port)):
            if not isinstance(value, int) or not 0 <= value <= 65535:
                raise BrokerError(f"{_PREFIX}: {name} must be an integer 0..65535, got {value!r}")
        if not host or any(c in host for c in "[]/ "):
            raise BrokerError(f"{_PREFIX}: invalid host {host!r}")
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host).version == 6:
                raise BrokerError(f"{_PREFIX}: IPv6 host {host!r} is not supported by amqtt's bind parser")
        self.host = host
        self.port = port
        self._requested_port = port
        self._tls = tls
        self._requested_tls_port = tls_port
        self.tls_port: int | None = None
        self._allow_anonymous = allow_anonymous
        self._users = dict(users) if users is not None else None
        self.capabilities: dict[str, bool | int] = dict(self.CAPABILITIES)
        self.capabilities["mtls_required"] = bool(tls and tls.require_client_cert)
        self.capabilities["persistent_sessions"] = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: _Broker | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._broker is not None

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        """Bind the listeners and return once they accept connections; ports are then real."""
        with self._lock:
            if self._broker is not None:
                raise BrokerError(f"{_PREFIX}: already running on {self.host}:{self.port}")
            try:
                config = self._config()
            except BrokerError:
                self._cleanup_tmpdir()
                raise
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            thread = threading.Thread(target=self._run_loop, args=(loop, ready),
                                      name=f"amqtt-broker-{self.host}", daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread
            assert thread.ident is not None
            _QUIET.quiet_threads.add(thread.ident)
            future = asyncio.run_coroutine_threadsafe(self._astart(config), loop)
            try:
                self._broker = future.result(timeout)
            except TimeoutError:
                future.cancel()
                self._teardown(timeout)
                raise BrokerError(f"{_PREFIX}: not listening within {timeout} s") from None
            except BrokerError:
                self._teardown(timeout)
                raise
            except Exception as exc:  # amqtt raises plain exceptions for config problems
                self._teardown(timeout)
                raise BrokerError(f"{_PREFIX}: cannot start: {_one_line(exc)}") from None
            finally:
                _QUIET.quiet_threads.discard(thread.ident)
            ports = self._broker.bound_ports()
            self.port = ports["default"]
            self.tls_port = ports.get("tls")
            return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close listeners and client connections, end the loop and join its thread. Idempotent."""
        with self._lock:
            if self._loop is None:
                return
            self._teardown(timeout)
            self.port = self._requested_port
            self.tls_port = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"{self.host}:{self.port}" if self.running else "stopped"
        return f"<EmbeddedBroker amqtt {state}{f' tls:{self.tls_port}' if self.tls_port else ''}>"

    # -- internals ---------------------------------------------------------------------------------

    def _config(self) -> BrokerConfig:
        listeners: dict[str, Any] = {
            "default": {"type": "tcp", "bind": f"{self.host}:{self._requested_port}", "max_connections": 0},
        }
        if self._tls is not None:
            tls_listener: dict[str, Any] = {"type": "tcp", "bind": f"{self.host}:{self._requested_tls_port}",
                                            "ssl": True}
            for field in ("certfile", "keyfile", "cafile"):
                path = getattr(self._tls, field)
                if path is None:
                    continue
                if not Path(path).is_file():
                    raise BrokerError(f"{_PREFIX}: TLS {field} not found: {path}")
                tls_listener[field] = str(path)
            if self._tls.require_client_cert and self._tls.cafile is None:
                raise BrokerError(f"{_PREFIX}: require_client_cert needs a cafile to verify clients against")
            listeners["tls"] = tls_listener
        plugins: dict[str, Any] = {}
        if self._allow_anonymous:
            plugins[f"{__name__}.OpenAuthPlugin"] = {}
        else:
            # Requires a user name; with `users` the password file below also checks the password.
            plugins["amqtt.plugins.authentication.AnonymousAuthPlugin"] = {"allow_anonymous": False}
        if self._users is not None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="amqtt-auth-")
            passwd = _hash_users(self._users, Path(self._tmpdir.name))
            plugins["amqtt.plugins.authentication.FileAuthPlugin"] = {"password_file": str(passwd)}
        try:
            return BrokerConfig.from_dict({"listeners": listeners, "plugins": plugins})
        except Exception as exc:
            raise BrokerError(f"{_PREFIX}: bad configuration: {_one_line(exc)}") from None

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    async def _astart(self, config: BrokerConfig) -> _Broker:
        mtls = frozenset({"tls"} if self._tls is not None and self._tls.require_client_cert else set())
        broker = _Broker(config, mtls_listeners=mtls)  # built on this loop: see the module docstring
        _install_quiet_filter()
        try:
            await broker.start()
        except Exception as exc:
            await broker.close_listeners()
            bind = _find_cause(exc, _BindError)
            if bind is not None:
                raise BrokerError(bind.line()) from None
            raise BrokerError(f"{_PREFIX}: cannot start: {_one_line(exc)}") from None
        return broker

    async def _astop(self, broker: _Broker | None, timeout: float) -> None:
        if broker is not None:
            _install_quiet_filter()
            await broker.close_listeners()
            # Drop the clients first: amqtt's shutdown cancels each session's reader, and on
            # Python 3.11 a reader cancelled inside asyncio.wait_for can stay stuck, which
            # held shutdown for its whole timeout. With the streams at EOF the readers end alone.
            for writer in list(broker.client_writers):
                writer.transport.abort()
            await asyncio.sleep(0)
            with contextlib.suppress(Exception):  # best effort: leftovers are cancelled below
                await asyncio.wait_for(broker.shutdown(), timeout)
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let transports run their close callbacks
        await asyncio.get_running_loop().shutdown_asyncgens()
        await asyncio.get_running_loop().shutdown_default_executor()

    def _teardown(self, timeout: float) -> None:
        loop, thread, broker = self._loop, self._thread, self._broker
        self._broker = None
        if loop is not None and thread is not None:
            assert thread.ident is not None
            _QUIET.quiet_threads.add(thread.ident)
            try:
                if thread.is_alive():
                    stopping = self._astop(broker, min(timeout / 2, 2.0))
                    future = asyncio.run_coroutine_threadsafe(stopping, loop)
                    with contextlib.suppress(Exception):
                        future.result(timeout)
                    loop.call_soon_threadsafe(loop.stop)
                    thread.join(timeout)
                if not thread.is_alive():
                    loop.close()
            finally:
                _QUIET.quiet_threads.discard(thread.ident)
        self._loop = self._thread = None
        self._cleanup_tmpdir()

    def _cleanup_tmpdir(self) -> None:
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None


def _find_cause(exc: BaseException, kind: type[_BindError]) -> _BindError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
