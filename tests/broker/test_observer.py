"""The broker-side observer against the real embedded amqtt broker: what cases use to see what the
DUT published (AT+QMTPUB, note 3.3.9) and to publish to its subscriptions (+QMTRECV, note 3.3.10)."""

from __future__ import annotations

import contextlib
import gc
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
import trustme
from leaks import assert_cycles_leak_nothing

from harness.broker import EmbeddedBroker, Message, Observer, ObserverError

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def pair(amqtt_broker: EmbeddedBroker) -> Iterator[tuple[Observer, Observer]]:
    """A subscriber and a publisher, closed after the test."""
    with Observer(amqtt_broker.host, amqtt_broker.port).connect() as sub, \
            Observer(amqtt_broker.host, amqtt_broker.port).connect() as pub:
        yield sub, pub


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_round_trip_between_two_observers(pair: tuple[Observer, Observer], qos: int) -> None:
    sub, pub = pair
    assert sub.subscribe(f"rt/{qos}", qos=qos) == qos
    before = time.monotonic()
    pub.publish(f"rt/{qos}", f"payload at qos {qos}", qos=qos)  # returns after PUBACK / PUBCOMP
    got = sub.wait_message(f"rt/{qos}")
    assert got.topic == f"rt/{qos}"
    assert got.payload == f"payload at qos {qos}".encode()
    assert (got.qos, got.retain) == (qos, False)
    assert before <= got.t <= time.monotonic()
    assert sub.messages() == []  # wait_message consumed it


def test_binary_payload_is_kept_byte_for_byte(pair: tuple[Observer, Observer]) -> None:
    sub, pub = pair
    sub.subscribe("bin/x", qos=1)
    payload = bytes(range(256)) + b"\r\n\x1a\x1b"  # Ctrl+Z and Esc end AT data mode; here they are data
    pub.publish("bin/x", payload, qos=1)
    assert sub.wait_message("bin/x").payload == payload


def test_wait_message_filters_by_wildcard_and_predicate_and_keeps_the_rest(
        pair: tuple[Observer, Observer]) -> None:
    sub, pub = pair
    sub.subscribe("multi/#", qos=1)
    for n in (1, 2, 3):
        pub.publish(f"multi/{n}", f"m{n}", qos=1)
    pub.publish("multi/end", b"sentinel", qos=1)
    sub.wait_message("multi/end")  # same publisher and QoS: the three before it arrived first
    assert [m.payload for m in sub.messages()] == [b"m1", b"m2", b"m3"]  # arrival order
    second = sub.wait_message("multi/+", predicate=lambda m: m.payload == b"m2")
    assert second.topic == "multi/2"
    assert [m.payload for m in sub.messages()] == [b"m1", b"m3"]  # the others stay queued
    assert sub.wait_message("multi/#").payload == b"m1"  # oldest match first
    assert sub.wait_message().topic == "multi/3"  # no topic: any message
    assert sub.messages() == []


def test_wait_message_timeout_is_one_line_and_respects_the_deadline(pair: tuple[Observer, Observer]) -> None:
    sub, _ = pair
    sub.subscribe("quiet/topic")
    started = time.monotonic()
    with pytest.raises(ObserverError) as info:
        sub.wait_message("quiet/topic", timeout=0.3)
    elapsed = time.monotonic() - started
    assert str(info.value) == "observer: no message on 'quiet/topic' within 0.3 s"
    assert 0.3 <= elapsed < 1.5


def test_expect_no_message_passes_on_silence_and_ignores_other_topics(pair: tuple[Observer, Observer]) -> None:
    sub, pub = pair
    sub.subscribe("watch/#", qos=1)
    pub.publish("watch/other", b"not the one", qos=1)
    sub.wait_message("watch/other")
    pub.publish("watch/other", b"again", qos=1)
    sub.expect_no_message("watch/target", within=0.3)
    assert [m.topic for m in sub.messages()] == ["watch/other"]


def test_expect_no_message_raises_when_one_arrives(pair: tuple[Observer, Observer]) -> None:
    sub, pub = pair
    sub.subscribe("watch2/target", qos=1)
    timer = threading.Timer(0.1, pub.publish, args=("watch2/target", b"surprise"), kwargs={"qos": 1})
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(ObserverError, match=r"unexpected message on 'watch2/target' \(qos 1, 8 bytes\)"):
            sub.expect_no_message("watch2/target", within=3.0)
        assert time.monotonic() - started < 2.0  # raised on arrival, not at the end of the window
    finally:
        timer.join()


def test_retained_message_reaches_a_later_subscriber_with_retain_flag(amqtt_broker: EmbeddedBroker) -> None:
    with Observer(amqtt_broker.host, amqtt_broker.port).connect() as pub:
        pub.publish("ret/state", b"on", qos=1, retain=True)
    with Observer(amqtt_broker.host, amqtt_broker.port).connect() as late:
        late.subscribe("ret/state", qos=1)
        got = late.wait_message("ret/state")
        assert (got.payload, got.retain) == (b"on", True)
    with Observer(amqtt_broker.host, amqtt_broker.port).connect() as cleaner:
        cleaner.publish("ret/state", b"", qos=1, retain=True)  # clear it for other tests


def test_connect_to_a_closed_port_is_one_line_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(ObserverError) as info:
            Observer("127.0.0.1", port).connect(timeout=2)
    assert str(info.value) == f"observer: cannot connect to 127.0.0.1:{port}: Connection refused"


def test_connect_to_a_silent_server_times_out_waiting_for_connack() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # accepts TCP (backlog) but never answers CONNECT
        port = server.getsockname()[1]
        with pytest.raises(ObserverError, match=rf"no CONNACK from 127\.0\.0\.1:{port} within 0\.5 s"):
            Observer("127.0.0.1", port).connect(timeout=0.5)


def test_close_is_idempotent_and_later_calls_fail_clearly(amqtt_broker: EmbeddedBroker) -> None:
    threads = set(threading.enumerate())
    obs = Observer(amqtt_broker.host, amqtt_broker.port).connect()
    assert obs.connected
    obs.close()
    obs.close()
    assert set(threading.enumerate()) == threads  # paho's network thread is gone
    with pytest.raises(ObserverError, match="observer: cannot publish: closed"):
        obs.publish("x", b"y")
    with pytest.raises(ObserverError, match="observer: closed, cannot reconnect"):
        obs.connect()


def test_broker_going_away_is_reported_not_hidden_by_reconnects() -> None:
    with EmbeddedBroker() as own:
        obs = Observer(own.host, own.port).connect()
        obs.subscribe("gone/#")
    try:
        started = time.monotonic()
        with pytest.raises(ObserverError, match=r"^observer: no message on 'gone/x': connection lost \("):
            obs.wait_message("gone/x", timeout=5.0)
        assert time.monotonic() - started < 2.0  # the drop ends the wait, not the timeout
        with pytest.raises(ObserverError, match=r"cannot watch 'gone/x': connection lost"):
            obs.expect_no_message("gone/x", within=5.0)
        with pytest.raises(ObserverError, match="observer: cannot subscribe: not connected"):
            obs.subscribe("gone/y")
    finally:
        started = time.monotonic()
        obs.close()
        assert time.monotonic() - started < 0.5


def test_bad_arguments_are_one_line_errors(pair: tuple[Observer, Observer]) -> None:
    sub, pub = pair
    with pytest.raises(ObserverError, match="bad subscription 'a/b' qos 3"):
        sub.subscribe("a/b", qos=3)
    with pytest.raises(ObserverError, match="bad publish to 'a/#'"):
        pub.publish("a/#", b"wildcards are not allowed in a topic name")


def test_message_is_immutable_record() -> None:
    m = Message("t", b"p", 1, False, 1.0)
    with pytest.raises(AttributeError):
        m.topic = "other"  # type: ignore[misc]


def test_failed_tls_handshake_is_one_line_and_leaves_no_socket_open() -> None:
    """A broker whose certificate the observer does not trust: one line naming the handshake, and
    nothing left open behind it (paho-mqtt alone leaves the TLS socket, see observer.py)."""
    server_ca, other_ca = trustme.CA(), trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    other_ca.configure_trust(client_ctx)
    with socket.create_server(("127.0.0.1", 0)) as srv:
        port = srv.getsockname()[1]

        def serve() -> None:
            conn, _ = srv.accept()
            with contextlib.suppress(OSError), server_ctx.wrap_socket(conn, server_side=True):
                pass
            conn.close()

        server = threading.Thread(target=serve)
        server.start()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(ObserverError, match=rf"TLS handshake with 127\.0\.0\.1:{port} failed"):
                Observer("127.0.0.1", port, tls=client_ctx).connect(timeout=3)
            gc.collect()
        server.join(5)
    # only this connection's socket: another test's garbage may be collected in the same window
    ours = [str(w.message) for w in caught
            if issubclass(w.category, ResourceWarning) and f"raddr=('127.0.0.1', {port})" in str(w.message)]
    assert ours == []


def test_closed_observers_leave_no_file_descriptor_open(amqtt_broker: EmbeddedBroker) -> None:
    """close() releases every socket at once, not when the garbage collector gets to the client:
    a suite run opens hundreds of observers."""

    assert_cycles_leak_nothing(lambda: Observer(amqtt_broker.host, amqtt_broker.port).connect().close(), 5)
