"""amqtt 0.12.1 glue for the embedded broker: the Broker subclass, an auth plugin, log hygiene.

Kept apart from embedded.py so the facade reads on its own; everything here leans on amqtt
internals of the pinned version (see embedded.py's docstring for why each piece exists).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import ssl
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import BrokerConfig
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from harness.broker.errors import BrokerError

PREFIX = "amqtt broker"


class OpenAuthPlugin(BaseAuthPlugin):
    """Admit every client without flagging the session anonymous (why: embedded.py docstring)."""

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
        self.quiet_threads: set[int | None] = set()

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


QUIET = _QuietDuringLifecycle()


def install_quiet_filter() -> None:
    """Attach the filter to every amqtt logger: logger filters do not apply to child records."""
    for name in ["amqtt", *list(logging.Logger.manager.loggerDict)]:
        if name == "amqtt" or name.startswith("amqtt."):
            logger = logging.getLogger(name)
            if QUIET not in logger.filters:
                logger.addFilter(QUIET)


class BindError(Exception):
    def __init__(self, address: str | None, port: int, cause: OSError) -> None:
        super().__init__(address, port, cause)
        self.address, self.port, self.cause = address, port, cause

    def line(self) -> str:
        reason = {
            errno.EADDRINUSE: "address in use",
            errno.EADDRNOTAVAIL: "address not available on this host",
            errno.EACCES: "permission denied",
        }.get(self.cause.errno or 0, self.cause.strerror or str(self.cause))
        return f"{PREFIX}: cannot listen on {self.address}:{self.port}: {reason}"


class AmqttBroker(Broker):
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
            raise BindError(address, port, exc) from exc

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
            if not any(is_accepting(task) for task in asyncio.all_tasks()):
                break
        await asyncio.sleep(0)  # their connection_made callbacks run on the next turn
        for server in self._servers.values():
            with contextlib.suppress(Exception):
                await server.close_instance()


def is_accepting(task: asyncio.Task[Any]) -> bool:
    return getattr(task.get_coro(), "__qualname__", "").endswith("_accept_connection2")


def hash_users(users: Mapping[str, str], directory: Path) -> Path:
    """Write amqtt's password file (``user:argon2-hash`` lines); plaintext never touches disk.

    Cheap argon2 parameters, on purpose: amqtt verifies the hash on every CONNECT, and pwdlib's
    defaults (64 MiB, 3 passes) take ~120 ms, longer than a CONNACK may take at the shortest
    <pkt_timeout> (1 s, 3.3.1) on a time-scaled DUT clock: every password case would time out
    (+QMTCONN: <id>,2). The file is this session's, mode 0600, beside the secret's own ${VAR}."""
    hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    lines = []
    for user, password in users.items():
        if not user or ":" in user or "\n" in user:
            raise BrokerError(f"{PREFIX}: invalid user name {user!r} (empty, or contains ':' or newline)")
        lines.append(f"{user}:{hasher.hash(password)}\n")
    path = directory / "passwd"
    path.write_text("".join(lines), encoding="utf-8")
    path.chmod(0o600)
    return path


def find_cause(exc: BaseException, kind: type[BindError]) -> BindError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
