"""The embedded amqtt broker: real listeners on loopback, clean lifecycle, auth, TLS, and the
amqtt deviations the ``capabilities`` table claims (checked on the wire, not taken on faith)."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from emulated import ACCEPTED, Raw, back_after_offline, given_password_checked, password_checked
from leaks import assert_cycles_leak_nothing

from harness.broker import BrokerError, EmbeddedBroker, Observer, ObserverError
from harness.pki import TlsFiles

pytestmark = pytest.mark.timeout(30)


# raw MQTT over a socket (our codec, not an MQTT client library), each answer a decoded packet: tests/emulated.py


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, TlsFiles]]:
    directory: Path = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(certfile=directory / "server.pem", keyfile=directory / "server.key",
                     cafile=directory / "ca.pem")
    server.cert_chain_pems[0].write_to_path(files.certfile)
    server.private_key_pem.write_to_path(files.keyfile)
    ca.cert_pem.write_to_path(files.cafile)
    yield ca, files


# -- listener ---------------------------------------------------------------------------------------

def test_port_zero_binds_a_real_loopback_listener_that_answers_connack(amqtt_broker: EmbeddedBroker) -> None:
    assert amqtt_broker.host == "127.0.0.1"
    assert amqtt_broker.port > 0
    with Raw(amqtt_broker.port) as raw:
        assert raw.connect("raw-check") == ACCEPTED  # CONNACK, session present 0, accepted


def test_port_in_use_is_one_line_broker_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        threads = threading.active_count()
        with pytest.raises(BrokerError) as info:
            EmbeddedBroker(port=port).start()
    text = str(info.value)
    assert text == f"amqtt broker: cannot listen on 127.0.0.1:{port}: address in use"
    assert "\n" not in text
    assert threading.active_count() == threads  # the failed start left no broker thread behind


def test_tls_port_in_use_names_the_tls_port(pki: tuple[trustme.CA, TlsFiles]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BrokerError, match=rf"cannot listen on 127\.0\.0\.1:{port}: address in use"):
            EmbeddedBroker(tls=pki[1], tls_port=port).start()


def test_host_name_is_resolved_to_one_ipv4_address() -> None:
    with EmbeddedBroker(host="localhost") as running, Raw(running.port) as raw:
        assert running.host == "127.0.0.1"
        assert raw.connect("by-name") == ACCEPTED


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"port": 70000}, "port must be an integer 0..65535"),
    ({"host": "::1"}, "IPv6"),
    ({"host": "no-such-host.invalid"}, "cannot resolve host"),
    ({"tls": TlsFiles(Path("/nonexistent/cert.pem"), Path("/nonexistent/key.pem"))}, "certfile not found"),
])
def test_bad_configuration_is_one_line_broker_error(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(BrokerError) as info:
        EmbeddedBroker(**kwargs).start()  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_start_twice_is_refused(amqtt_broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerError, match="already running"):
        amqtt_broker.start()


# -- lifecycle --------------------------------------------------------------------------------------

def test_stop_is_quick_quiet_and_idempotent_with_clients_and_traffic(
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.WARNING)
    running = EmbeddedBroker().start()
    port = running.port
    with Observer("127.0.0.1", port).connect() as sub, Observer("127.0.0.1", port).connect() as pub:
        sub.subscribe("load/#", qos=2)
        for qos in (0, 1, 2):
            pub.publish(f"load/{qos}", b"x" * 100, qos=qos)
        sub.wait_message("load/2")
        idle = Raw(port)  # a TCP client that never sends CONNECT
        started = time.monotonic()
        running.stop()
        elapsed = time.monotonic() - started
        with capfd.disabled():
            print(f"\nEmbeddedBroker.stop() with 2 clients + 1 idle socket: {elapsed * 1000:.1f} ms")
        assert elapsed < 3.0
        assert idle.next() is None  # the broker closed the idle connection, not just the listener
        idle.close()
    running.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    noisy = [r for r in caplog.records
             if r.levelno >= logging.WARNING and r.name.startswith(("amqtt", "asyncio"))]
    assert noisy == []
    assert "Traceback" not in capfd.readouterr().err


def test_fifty_start_stop_cycles_leak_no_thread_and_no_fd(pki: tuple[trustme.CA, TlsFiles]) -> None:
    def cycle() -> None:
        with EmbeddedBroker(tls=pki[1]) as running, Raw(running.port) as raw:
            assert running.tls_port is not None and running.tls_port != running.port
            assert raw.connect("leak-check") == ACCEPTED  # a live client connection at stop time
            running.stop()
            assert raw.next() is None  # EOF, or RST when it was still in the listen backlog

    assert_cycles_leak_nothing(cycle, 50)


# -- authentication ---------------------------------------------------------------------------------

def test_users_right_password_connects_wrong_password_gets_connack_5() -> None:
    threads = set(threading.enumerate())
    with EmbeddedBroker(users={"dut": "s3cret"}, allow_anonymous=False) as running:
        password_checked(running.port)  # amqtt answers a failed password check with 5 (not authorized), never 4
    assert set(threading.enumerate()) == threads  # refused observers stopped their network threads


def test_users_with_anonymous_allowed_still_checks_given_passwords() -> None:
    with EmbeddedBroker(users={"dut": "s3cret"}, allow_anonymous=True) as running:
        given_password_checked(running.port)


# -- TLS --------------------------------------------------------------------------------------------

def test_tls_listener_serves_clients_that_trust_the_ca(pki: tuple[trustme.CA, TlsFiles]) -> None:
    ca, files = pki
    with EmbeddedBroker(tls=files) as running:
        trusted = ssl.create_default_context()
        ca.configure_trust(trusted)
        with Observer("127.0.0.1", running.tls_port or 0, tls=trusted).connect() as obs:
            obs.subscribe("tls/echo", qos=1)
            obs.publish("tls/echo", b"over tls", qos=1)
            assert obs.wait_message("tls/echo").payload == b"over tls"
        with pytest.raises(ObserverError, match=r"TLS handshake .* failed: CERTIFICATE_VERIFY_FAILED"):
            Observer("127.0.0.1", running.tls_port or 0, tls=ssl.create_default_context()).connect()
        with Raw(running.port) as raw:  # the plain listener keeps working beside it
            assert raw.connect("plain-beside-tls") == ACCEPTED


def test_mutual_tls_refuses_clients_without_a_certificate(pki: tuple[trustme.CA, TlsFiles]) -> None:
    ca, files = pki
    mtls = TlsFiles(files.certfile, files.keyfile, files.cafile, require_client_cert=True)
    with EmbeddedBroker(tls=mtls) as running:
        assert running.capabilities["mtls_required"] is True
        with_cert = ssl.create_default_context()
        ca.configure_trust(with_cert)
        ca.issue_cert("observer.test").configure_cert(with_cert)
        with Observer("127.0.0.1", running.tls_port or 0, tls=with_cert).connect() as obs:
            assert obs.connected
        without_cert = ssl.create_default_context()
        ca.configure_trust(without_cert)
        # TLS 1.3: the client finishes its handshake first, so the refusal shows as a close.
        with pytest.raises(ObserverError, match="closed the connection before CONNACK"):
            Observer("127.0.0.1", running.tls_port or 0, tls=without_cert).connect(timeout=3)
        foreign = ssl.create_default_context()
        ca.configure_trust(foreign)
        trustme.CA().issue_cert("stranger.test").configure_cert(foreign)
        with pytest.raises(ObserverError, match="closed the connection before CONNACK"):
            Observer("127.0.0.1", running.tls_port or 0, tls=foreign).connect(timeout=3)


# -- the amqtt deviations the capabilities table records --------------------------------------------

def test_capabilities_mqtt31_false_connect_mqisdp_gets_no_connack(amqtt_broker: EmbeddedBroker) -> None:
    assert amqtt_broker.capabilities["mqtt31"] is False
    with Raw(amqtt_broker.port) as raw:
        # closed without CONNACK (a 3.1 broker answers 0x20 0x02 ..)
        assert raw.connect("v31", protocol_name="MQIsdp", protocol_level=3) is None


def test_capabilities_pubrel_retry_false_second_pubrel_gets_no_pubcomp(amqtt_broker: EmbeddedBroker) -> None:
    assert amqtt_broker.capabilities["pubrel_retry_ok"] is False
    with Raw(amqtt_broker.port, timeout=1.0) as raw:
        raw.retransmit_pubrel()
        with pytest.raises(TimeoutError):  # no PUBCOMP for the retransmitted PUBREL
            raw.next()


def test_capabilities_qos_downgrade_false_delivery_uses_subscription_qos(amqtt_broker: EmbeddedBroker) -> None:
    assert amqtt_broker.capabilities["qos_downgrade"] is False
    with Observer("127.0.0.1", amqtt_broker.port).connect() as obs:
        obs.subscribe("qos/up", qos=2)
        obs.publish("qos/up", b"sent at qos 0", qos=0)
        assert obs.wait_message("qos/up").qos == 2  # 3.1.1 3.8.4 says min(0, 2) = 0


def test_capabilities_keepalive_not_enforced(amqtt_broker: EmbeddedBroker) -> None:
    assert amqtt_broker.capabilities["keepalive_enforced"] is False
    with Raw(amqtt_broker.port, timeout=2.5) as raw:
        assert raw.connect("silent", keepalive=1) == ACCEPTED
        with pytest.raises(TimeoutError):  # 3.1.1 3.1.2.10: closed after 1.5 s of silence
            raw.next()


def test_capabilities_persistent_session_survives_with_anonymous_allowed(amqtt_broker: EmbeddedBroker) -> None:
    assert amqtt_broker.capabilities["persistent_sessions"] is True
    with back_after_offline(amqtt_broker.port):
        pass  # persist-1 back was sent what was published while it was away
