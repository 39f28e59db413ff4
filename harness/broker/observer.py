"""The observer: a paho-mqtt client on the broker side of the rig.

Cases use it to see what the DUT really published (AT+QMTPUB, note 3.3.x) and to publish to the
DUT's subscriptions (+QMTRECV). Every call waits on an event with a deadline (no sleeps) and
fails with a one-line ObserverError, so a silent DUT reads as "no message on 'x' within 5.0 s".
Received messages queue until a case consumes them, in arrival order. There is no silent
reconnect: a dropped connection stays dropped and is named in the errors that follow.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import MQTTv311, topic_matches_sub

from harness.broker.errors import ObserverError

__all__ = ["MQTTv311", "Message", "Observer", "ObserverError"]

_PREFIX = "observer"


@dataclass(frozen=True)
class Message:
    """One PUBLISH the observer received; ``t`` is time.monotonic() at receipt."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    t: float


def _matches(message: Message, topic: str | None, predicate: Callable[[Message], bool] | None) -> bool:
    if topic is not None and message.topic != topic and not topic_matches_sub(topic, message.topic):
        return False
    return predicate is None or predicate(message)


def _describe(topic: str | None) -> str:
    return "any topic" if topic is None else repr(topic)


class _ClosingOnFailedHandshake:
    """The caller's SSLContext, except that a socket whose handshake fails is closed. paho-mqtt
    2.2 wraps the TCP socket and calls do_handshake() without closing it on failure
    (Client._ssl_wrap_socket), leaving an open socket and a ResourceWarning per failed connect."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context

    def __getattr__(self, name: str) -> object:
        return getattr(self._context, name)

    def wrap_socket(self, sock: socket.socket, **kw: object) -> ssl.SSLSocket:
        wrapped = self._context.wrap_socket(sock, **kw)  # type: ignore[arg-type]
        handshake = wrapped.do_handshake

        def do_handshake(*args: object) -> None:
            try:
                handshake(*args)  # type: ignore[arg-type]
            except BaseException:
                wrapped.close()
                raise

        wrapped.do_handshake = do_handshake  # type: ignore[method-assign]
        return wrapped


class Observer:
    """A connected MQTT client with blocking, deadline-bound helpers for test code."""

    def __init__(self, host: str, port: int, *, client_id: str | None = None,
                 tls: ssl.SSLContext | None = None, username: str | None = None,
                 password: str | None = None, protocol: int = MQTTv311,
                 clean_session: bool = True) -> None:
        self.host, self.port = host, port
        self.client_id = client_id if client_id is not None else f"observer-{uuid.uuid4().hex[:12]}"
        self._cond = threading.Condition()
        self._messages: list[Message] = []
        self._acks: dict[int, list[int]] = {}       # SUBACK results by packet id
        self._connack: int | None = None             # CONNACK return code once received
        self._disconnect_reason: str | None = None
        self._connected = False
        self._closed = False
        self._started = False
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                   protocol=protocol, reconnect_on_failure=False,
                                   clean_session=None if protocol == mqtt.MQTTv5 else clean_session)
        if tls is not None:
            self._client.tls_set_context(_ClosingOnFailedHandshake(tls))  # type: ignore[arg-type]
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    # -- paho callbacks (network thread) ------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        with self._cond:
            self._connack = _connack_code(reason)
            self._connected = not reason.is_failure
            self._cond.notify_all()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        with self._cond:
            self._connected = False
            self._disconnect_reason = str(reason)
            self._cond.notify_all()

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[Any],
                      properties: Any) -> None:
        with self._cond:
            self._acks[mid] = [r.value for r in reasons]
            self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        message = Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), time.monotonic())
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()

    # -- API ------------------------------------------------------------------------------------

    def connect(self, timeout: float = 5.0) -> Observer:
        """Connect and wait for CONNACK; a refusal names its return code (3.1.1 table 3.1)."""
        if self._closed:
            raise ObserverError(f"{_PREFIX}: closed, cannot reconnect")
        if self._started:
            raise ObserverError(f"{_PREFIX}: already connected to {self.host}:{self.port}")
        where = f"{self.host}:{self.port}"
        self._client.connect_timeout = timeout
        try:
            self._client.connect(self.host, self.port, keepalive=60)
        except ssl.SSLError as exc:
            reason = exc.reason or exc
            raise ObserverError(f"{_PREFIX}: TLS handshake with {where} failed: {reason}") from None
        except TimeoutError:
            raise ObserverError(f"{_PREFIX}: connect to {where} timed out after {timeout} s") from None
        except OSError as exc:
            raise ObserverError(f"{_PREFIX}: cannot connect to {where}: {exc.strerror or exc}") from None
        self._started = True
        self._client.loop_start()
        with self._cond:
            got = self._cond.wait_for(
                lambda: self._connack is not None or self._disconnect_reason is not None, timeout)
            code, lost = self._connack, self._disconnect_reason
        if not got or code is None or code != 0:
            self._shutdown()
            if not got:
                raise ObserverError(f"{_PREFIX}: no CONNACK from {where} within {timeout} s")
            if code is None:
                raise ObserverError(f"{_PREFIX}: {where} closed the connection before CONNACK ({lost})")
            raise ObserverError(f"{_PREFIX}: {where} refused the connection: CONNACK return code {code}")
        return self

    @property
    def connack_code(self) -> int | None:
        """The CONNACK return code received by connect(), None before one arrived."""
        return self._connack

    @property
    def connected(self) -> bool:
        return self._connected

    def wait_disconnected(self, timeout: float) -> bool:
        """True once the broker has dropped this client (e.g. a client-id takeover), False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._connected, timeout)

    def subscribe(self, topic: str, qos: int = 0, timeout: float = 5.0) -> int:
        """Subscribe and wait for SUBACK; returns the granted QoS (0x80 raises)."""
        self._require_connected("subscribe")
        try:
            rc, mid = self._client.subscribe(topic, qos)
        except ValueError as exc:
            raise ObserverError(f"{_PREFIX}: bad subscription {topic!r} qos {qos}: {exc}") from None
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise ObserverError(f"{_PREFIX}: cannot send SUBSCRIBE {topic!r}: {mqtt.error_string(rc)}")
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._acks, timeout):
                raise ObserverError(f"{_PREFIX}: no SUBACK for {topic!r} within {timeout} s")
            granted = self._acks.pop(mid)[0]
        if granted >= 0x80:
            raise ObserverError(f"{_PREFIX}: subscription to {topic!r} refused (SUBACK 0x{granted:02X})")
        return granted

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False,
                timeout: float = 5.0) -> None:
        """Publish and wait until the QoS flow completed (sent / PUBACK / PUBCOMP)."""
        self._require_connected("publish")
        try:
            info = self._client.publish(topic, payload, qos, retain)
        except ValueError as exc:
            raise ObserverError(f"{_PREFIX}: bad publish to {topic!r}: {exc}") from None
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ObserverError(f"{_PREFIX}: cannot publish to {topic!r}: {mqtt.error_string(info.rc)}")
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as exc:
            raise ObserverError(f"{_PREFIX}: publish to {topic!r} failed: {exc}") from None
        if not info.is_published():
            step = {0: "send", 1: "PUBACK", 2: "PUBCOMP"}.get(qos, "ack")
            raise ObserverError(f"{_PREFIX}: no {step} for QoS {qos} publish to {topic!r} within {timeout} s")

    def wait_message(self, topic: str | None = None, timeout: float = 5.0,
                     predicate: Callable[[Message], bool] | None = None) -> Message:
        """Return and consume the oldest message matching ``topic`` (a filter; wildcards ok)."""
        with self._cond:
            found: list[Message] = []

            def take() -> bool:
                for message in self._messages:
                    if _matches(message, topic, predicate):
                        self._messages.remove(message)
                        found.append(message)
                        return True
                return False

            # A dropped connection ends the wait at once: nothing more can arrive.
            self._cond.wait_for(lambda: take() or not self._connected, timeout)
            if found:
                return found[0]
            what = " matching the predicate" if predicate is not None else ""
            if not self._connected:
                raise ObserverError(f"{_PREFIX}: no message{what} on {_describe(topic)}: connection lost "
                                    f"({self._disconnect_reason or 'never connected'})")
            raise ObserverError(f"{_PREFIX}: no message{what} on {_describe(topic)} within {timeout} s")

    def messages(self) -> list[Message]:
        """A snapshot of the messages not consumed yet, oldest first."""
        with self._cond:
            return list(self._messages)

    def clear(self) -> None:
        """Drop every unconsumed message (e.g. between cases)."""
        with self._cond:
            self._messages.clear()

    def expect_no_message(self, topic: str | None, within: float) -> None:
        """Raise if a matching message is queued already or arrives within ``within`` seconds."""
        with self._cond:
            hit: list[Message] = []

            def arrived() -> bool:
                hit.extend(m for m in self._messages if _matches(m, topic, None))
                return bool(hit)

            self._cond.wait_for(lambda: arrived() or not self._connected, within)
            if hit:
                m = hit[0]
                raise ObserverError(f"{_PREFIX}: unexpected message on {m.topic!r} (qos {m.qos}, "
                                    f"{len(m.payload)} bytes) while expecting none on {_describe(topic)}")
            if not self._connected:  # silence from a dead connection proves nothing
                raise ObserverError(f"{_PREFIX}: cannot watch {_describe(topic)}: connection lost "
                                    f"({self._disconnect_reason or 'never connected'})")

    def close(self) -> None:
        """Disconnect and stop the network thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._shutdown()

    def __enter__(self) -> Observer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Observer {self.client_id} {self.host}:{self.port} {'up' if self._connected else 'down'}>"

    # -- internals ------------------------------------------------------------------------------

    def _require_connected(self, action: str) -> None:
        if not self._connected:
            lost = self._disconnect_reason or "never connected"
            why = "closed" if self._closed else f"not connected ({lost})"
            raise ObserverError(f"{_PREFIX}: cannot {action}: {why}")

    def _shutdown(self) -> None:
        if self._started:
            self._client.disconnect()
            self._client.loop_stop()
            # paho-mqtt 2.2 leaves its loop_start() socket pair open until the client is garbage
            # collected (eclipse-paho/paho.mqtt.python#627, open); its own clean-up closes it now.
            reset = getattr(self._client, "_reset_sockets", None)
            if reset is not None:
                reset()
            self._started = False
        with self._cond:
            self._connected = False


def _connack_code(reason: Any) -> int:
    """The 3.1.1 CONNACK return code behind paho's ReasonCode (paho maps them to MQTT 5 codes)."""
    v5_to_v311 = {0: 0, 132: 1, 133: 2, 136: 3, 134: 4, 135: 5}
    value = int(reason.value)
    return v5_to_v311.get(value, value)
