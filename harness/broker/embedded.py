"""The embedded amqtt broker: a real MQTT 3.1.1 broker in this process, for the end-to-end cases.

amqtt is asyncio-only, while pytest code and the emulator subprocess are synchronous, so the broker
runs on its own event loop in its own daemon thread (harness.loop_thread) and this class is a
thread-safe facade.

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
  that a start/stop loop leaks no socket, and close them *before* amqtt's shutdown, whose
  cancellation of a session reader blocked in ``asyncio.wait_for`` could otherwise stall it.
- The amqtt-specific pieces (Broker subclass, auth plugin, log filter) live in ``_amqtt.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from amqtt.contexts import BrokerConfig

from harness.broker import _amqtt
from harness.broker._amqtt import PREFIX as _PREFIX
from harness.broker._amqtt import QUIET as _QUIET
from harness.broker._amqtt import AmqttBroker, BindError, find_cause, hash_users, install_quiet_filter, one_line
from harness.broker.errors import BrokerError
from harness.broker.lifecycle import RestartableBroker, capability_table
from harness.loop_thread import LoopThread
from harness.pki.files import TlsFiles

__all__ = ["BrokerError", "EmbeddedBroker"]


def _ipv4(host: str) -> str:
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    try:
        return str(socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
    except (OSError, IndexError):
        raise BrokerError(f"{_PREFIX}: cannot resolve host {host!r} to an IPv4 address") from None


class EmbeddedBroker(RestartableBroker):
    """amqtt on loopback, started and stopped from synchronous code (a context manager too)."""

    kind = "amqtt"
    # What amqtt 0.12.1 does where MQTT 3.1.1 leaves room or where it deviates (the broker issue).
    # True/False: supported/enforced or not. Verdicts on the DUT never rest on a False entry.
    # Also: an MQIsdp CONNECT (mqtt31) is dropped without a CONNACK; clean_session=0 is kept (see OpenAuthPlugin).
    CAPABILITIES: ClassVar[dict[str, bool | int]] = capability_table(
        keepalive_enforced=False,   # a silent client is not disconnected after 1.5 x keep-alive
        pubrel_retry_ok=False,      # a retransmitted PUBREL gets no PUBCOMP
        qos_downgrade=False,        # delivers at the subscription QoS, not min(publish, subscription)
        client_id_takeover=False,   # the first client with the same client id is not disconnected [MQTT-3.1.4-2]
        duplicate_qos2_limit=4,     # PUBREC to at least 4 duplicate QoS 2 PUBLISHes before PUBREL (tested)
    )

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
        self.host = _ipv4(host)  # one address: with port 0 a name like localhost could bind two ports
        self.port = port
        self._requested_port = port
        self._tls = tls
        self._requested_tls_port = tls_port
        self.tls_port: int | None = None
        self._allow_anonymous = allow_anonymous
        self._users = dict(users) if users is not None else None
        self.capabilities: dict[str, bool | int] = dict(self.CAPABILITIES)
        self.capabilities["mtls_required"] = bool(tls and tls.require_client_cert)
        self._loop = LoopThread(_PREFIX, thread_name=f"amqtt-broker-{self.host}", error=BrokerError)
        self._broker: AmqttBroker | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._last_ports: tuple[int, int] | None = None  # (port, tls_port or 0) of the last good start
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
            quiet = self._loop.start().thread_id
            _QUIET.quiet_threads.add(quiet)
            future = self._loop.submit(self._astart(config))
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
                raise BrokerError(f"{_PREFIX}: cannot start: {one_line(exc)}") from None
            finally:
                _QUIET.quiet_threads.discard(quiet)
            ports = self._broker.bound_ports()
            self.port = ports["default"]
            self.tls_port = ports.get("tls")
            self._last_ports = (self.port, self.tls_port or 0)
            return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close listeners and client connections, end the loop and join its thread. Idempotent."""
        with self._lock:
            self._teardown(timeout)
            self.port = self._requested_port
            self.tls_port = None

    # restart(), the context manager and repr: lifecycle.RestartableBroker (its loop thread ended,
    # or someone stopped it: started again on the ports it had)

    # -- internals ---------------------------------------------------------------------------------

    def _pin_ports(self, ports: tuple[int, int]) -> None:
        self._requested_port, self._requested_tls_port = ports

    def _label(self) -> str:
        return "amqtt"

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
            plugins[f"{_amqtt.__name__}.OpenAuthPlugin"] = {}
        else:
            # Requires a user name; with `users` the password file below also checks the password.
            plugins["amqtt.plugins.authentication.AnonymousAuthPlugin"] = {"allow_anonymous": False}
        if self._users is not None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="amqtt-auth-")
            passwd = hash_users(self._users, Path(self._tmpdir.name))
            plugins["amqtt.plugins.authentication.FileAuthPlugin"] = {"password_file": str(passwd)}
        try:
            return BrokerConfig.from_dict({"listeners": listeners, "plugins": plugins})
        except Exception as exc:
            raise BrokerError(f"{_PREFIX}: bad configuration: {one_line(exc)}") from None

    async def _astart(self, config: BrokerConfig) -> AmqttBroker:
        mtls = frozenset({"tls"} if self._tls is not None and self._tls.require_client_cert else set())
        broker = AmqttBroker(config, mtls_listeners=mtls)  # built on this loop: see the module docstring
        install_quiet_filter()
        try:
            await broker.start()
        except Exception as exc:
            await broker.close_listeners()
            bind = find_cause(exc, BindError)
            if bind is not None:
                raise BrokerError(bind.line()) from None
            raise BrokerError(f"{_PREFIX}: cannot start: {one_line(exc)}") from None
        return broker

    async def _astop(self, broker: AmqttBroker | None, timeout: float) -> None:
        """Close listeners and clients, then amqtt's own shutdown; the LoopThread cancels what is left."""
        if broker is None:
            return
        install_quiet_filter()
        await broker.close_listeners()
        # Drop the clients first: amqtt's shutdown cancels each session's reader, and on
        # Python 3.11 a reader cancelled inside asyncio.wait_for can stay stuck, which
        # held shutdown for its whole timeout. With the streams at EOF the readers end alone.
        for writer in list(broker.client_writers):
            writer.transport.abort()
        await asyncio.sleep(0)
        with contextlib.suppress(Exception):  # best effort: leftovers are cancelled after it
            await asyncio.wait_for(broker.shutdown(), timeout)

    def _teardown(self, timeout: float) -> None:
        broker, self._broker = self._broker, None
        quiet = self._loop.thread_id
        _QUIET.quiet_threads.add(quiet)
        try:
            self._loop.stop(self._astop(broker, min(timeout / 2, 2.0)), timeout)
        finally:
            _QUIET.quiet_threads.discard(quiet)
        self._cleanup_tmpdir()

    def _cleanup_tmpdir(self) -> None:
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
