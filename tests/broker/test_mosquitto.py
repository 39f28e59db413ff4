"""mosquitto as the second real broker: lifecycle, TLS and mutual TLS, password auth, and every entry
of MosquittoBroker.CAPABILITIES checked on the wire (raw MQTT via our codec, or paho)."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from emulated import WAIT, Raw, back_after_offline, given_password_checked, password_checked
from leaks import assert_cycles_leak_nothing
from run_project import run

from harness.broker import BrokerError, EmbeddedBroker, Observer, ObserverError
from harness.broker import mosquitto as mosquitto_module
from harness.broker.capabilities import require
from harness.broker.mosquitto import INSTALL_HINT, MosquittoBroker, missing_reason
from harness.mqtt.codec import ConnAck, PubComp, Publish
from harness.pki import SessionPki, TlsFiles

pytestmark = [pytest.mark.timeout(30)]
MISSING = missing_reason()
needs_mosquitto = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


# raw MQTT over a socket (`Raw`, our codec), `mosquitto_broker` and `session_pki`: tests/emulated.py, tests/conftest.py


def _children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{entry}/stat").read_text().split(") ", 1)[1].split()[1] == me:
                    found.add(int(entry))
    return found


# -- lifecycle --------------------------------------------------------------------------------------

@needs_mosquitto
def test_start_answers_connack_and_stop_frees_the_port() -> None:
    running = MosquittoBroker().start()
    port = running.port
    assert running.kind == "mosquitto" and running.host == "127.0.0.1" and port > 0
    assert running.version is not None and running.version.startswith("2.")
    with Raw(port) as raw:
        assert raw.connect("plain") == ConnAck(False, 0, flags=0)
        started = time.monotonic()
        running.stop()
        assert time.monotonic() - started < 3.0
        assert raw.next() is None  # the live client was disconnected by the stop
    running.stop()  # idempotent
    assert not running.running and running.tls_port is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@needs_mosquitto
def test_fixed_port_in_use_is_one_line_broker_error() -> None:
    children = _children()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(BrokerError) as info:
            MosquittoBroker(port=port).start()
    assert str(info.value) == f"mosquitto broker: cannot listen on 127.0.0.1:{port}: address in use"
    assert _children() == children  # the refused mosquitto was reaped


@needs_mosquitto
def test_port_zero_picks_again_when_the_chosen_port_was_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        picks = iter([busy])
        real = mosquitto_module._free_port
        monkeypatch.setattr(mosquitto_module, "_free_port", lambda host: next(picks, None) or real(host))
        with MosquittoBroker() as running, Raw(running.port) as raw:
            assert running.port != busy
            assert raw.connect("second-pick") == ConnAck(False, 0, flags=0)


@needs_mosquitto
def test_start_twice_is_refused(mosquitto_broker: MosquittoBroker) -> None:
    with pytest.raises(BrokerError, match="already running"):
        mosquitto_broker.start()


@needs_mosquitto
def test_fifty_start_stop_cycles_leak_no_process_thread_fd_or_tmpdir(session_pki: SessionPki) -> None:
    def cycle() -> None:
        with MosquittoBroker(tls=session_pki.server_files()) as running, Raw(running.port) as raw:
            assert running.tls_port is not None and running.tls_port != running.port
            assert raw.connect("leak-check") == ConnAck(False, 0, flags=0)
            work = running.log_path
            assert work is not None and work.parent.is_dir()
        assert not work.parent.exists()  # config, password file and log are gone

    assert_cycles_leak_nothing(cycle, 50, also=_children)  # no mosquitto of these cycles left behind


# -- errors are one line ----------------------------------------------------------------------------

def test_missing_binary_is_one_line_broker_error_with_the_install_hint(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without mosquitto
    monkeypatch.setattr(mosquitto_module, "SBIN_DIRS", (str(tmp_path / "sbin"),))
    assert mosquitto_module.find_mosquitto() is None
    with pytest.raises(BrokerError) as info:
        MosquittoBroker().start()
    text = str(info.value)
    assert text.startswith("mosquitto broker: mosquitto is not installed") and INSTALL_HINT in text
    assert "\n" not in text
    assert missing_reason() is not None and INSTALL_HINT in (missing_reason() or "")


@needs_mosquitto
def test_mosquitto_refusing_its_config_quotes_the_last_log_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    children = _children()
    with pytest.raises(BrokerError) as info:
        MosquittoBroker(tls=TlsFiles(garbage, garbage)).start()
    text = str(info.value)
    assert text.startswith("mosquitto broker: exited with status") and "Error" in text, text
    assert "\n" not in text
    assert _children() == children


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"port": 70000}, "port must be an integer 0..65535"),
    ({"host": "::1"}, "host must be an IPv4 address"),
    ({"users": {"a:b": "x"}}, "cannot go in a mosquitto password file"),
    ({"require_certificate": True}, "require_certificate needs a TLS listener"),
    ({"tls": TlsFiles(Path("/nonexistent/cert.pem"), Path("/nonexistent/key.pem"))}, "certfile not found"),
])
def test_bad_configuration_is_one_line_broker_error(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(BrokerError) as info:
        MosquittoBroker(**kwargs).start()  # type: ignore[arg-type]
    assert fragment in str(info.value) and "\n" not in str(info.value)


# -- TLS and mutual TLS -----------------------------------------------------------------------------

@needs_mosquitto
def test_tls_listener_serves_clients_that_trust_the_ca(session_pki: SessionPki) -> None:
    with MosquittoBroker(tls=session_pki.server_files()) as running:
        assert running.capabilities["mtls_required"] is False
        with Observer("127.0.0.1", running.tls_port or 0, tls=session_pki.client_context("none")).connect() as obs:
            obs.subscribe("tls/echo", qos=1)
            obs.publish("tls/echo", b"over tls", qos=1)
            assert obs.wait_message("tls/echo").payload == b"over tls"
        with pytest.raises(ObserverError, match="CERTIFICATE_VERIFY_FAILED"):
            Observer("127.0.0.1", running.tls_port or 0, tls=ssl.create_default_context()).connect()
        with Raw(running.port) as raw:  # the plain listener keeps working beside it
            assert raw.connect("plain-beside-tls") == ConnAck(False, 0, flags=0)


@needs_mosquitto
@pytest.mark.parametrize("via", ["require_certificate", "TlsFiles.require_client_cert"])
def test_require_certificate_admits_the_good_client_cert_only(session_pki: SessionPki, via: str) -> None:
    if via == "require_certificate":
        running = MosquittoBroker(tls=session_pki.server_files(), require_certificate=True)
    else:
        running = MosquittoBroker(tls=session_pki.server_files(require_client_cert=True))
    with running:
        assert running.capabilities["mtls_required"] is True
        assert require("mtls_required", running) is None
        with Observer("127.0.0.1", running.tls_port or 0, tls=session_pki.client_context("good")).connect() as obs:
            assert obs.connected
        for cert in ("none", "foreign"):
            # TLS 1.3: the client finishes its handshake first, so the refusal shows as a close.
            refused = Observer("127.0.0.1", running.tls_port or 0, tls=session_pki.client_context(cert))  # type: ignore[arg-type]
            with pytest.raises(ObserverError, match=r"closed the connection before CONNACK|TLS handshake"):
                refused.connect(timeout=WAIT)


# -- password authentication ------------------------------------------------------------------------

@needs_mosquitto
def test_password_file_right_password_connects_wrong_gets_connack_5() -> None:
    with MosquittoBroker(users={"dut": "s3cret"}, allow_anonymous=False) as running:
        password_checked(running.port)  # recorded: mosquitto 2.0 answers a failed password check with 5, not 4
        assert running.log_path is not None
        written = "\n".join(p.read_text() for p in running.log_path.parent.iterdir() if p.is_file())
        assert "s3cret" not in written  # neither the config, the password file nor the log holds it


@needs_mosquitto
def test_users_with_anonymous_allowed_still_check_given_passwords() -> None:
    with MosquittoBroker(users={"dut": "s3cret"}) as running:
        given_password_checked(running.port)


# -- the capabilities, each checked on the wire -----------------------------------------------------

def test_capability_table_has_amqtts_keys_and_the_qos2_duplicate_limit() -> None:
    assert set(EmbeddedBroker.CAPABILITIES) <= set(MosquittoBroker.CAPABILITIES)
    assert set(MosquittoBroker.CAPABILITIES) == set(EmbeddedBroker.CAPABILITIES)


@needs_mosquitto
def test_capability_mqtt31_mqisdp_connect_gets_connack_0(mosquitto_broker: MosquittoBroker) -> None:
    assert mosquitto_broker.capabilities["mqtt31"] is True and mosquitto_broker.capabilities["mqtt311"] is True
    with Raw(mosquitto_broker.port) as raw:
        assert raw.connect("v31", protocol_name="MQIsdp", protocol_level=3) == ConnAck(False, 0, flags=0)
    with Raw(mosquitto_broker.port) as raw:
        assert raw.connect("v311") == ConnAck(False, 0, flags=0)


@needs_mosquitto
def test_capability_keepalive_enforced_will_published_after_one_and_a_half_keepalive(
        mosquitto_broker: MosquittoBroker) -> None:
    """mosquitto 2.0 checks keep-alives only every ~6 s (src/keepalive.c: ``last_check + 5 < now``, in
    whole seconds), so the close comes between 1.5 x keep-alive and that plus ~6 s: enforced, late."""
    assert mosquitto_broker.capabilities["keepalive_enforced"] is True and mosquitto_broker.capabilities["will"] is True
    keepalive, check_period = 1, 6.0
    latest = keepalive * 1.5 + check_period + 1.0
    with Observer("127.0.0.1", mosquitto_broker.port).connect() as obs, \
            Raw(mosquitto_broker.port, timeout=latest) as raw:
        obs.subscribe("will/silent", qos=1)
        assert raw.connect("silent", keepalive=keepalive, will_flag=True, will_topic="will/silent",
                           will_payload=b"gone", will_qos=1) == ConnAck(False, 0, flags=0)
        started = time.monotonic()
        assert raw.next() is None  # 3.1.1 3.1.2.10: closed after 1.5 x keep-alive of silence
        elapsed = time.monotonic() - started
        assert keepalive <= elapsed <= latest  # keepalive*3/2 is integer arithmetic in mosquitto: 1 s here
        assert obs.wait_message("will/silent", timeout=WAIT).payload == b"gone"


@needs_mosquitto
def test_capability_pubrel_retry_ok_second_pubrel_gets_pubcomp(mosquitto_broker: MosquittoBroker) -> None:
    assert mosquitto_broker.capabilities["pubrel_retry_ok"] is True
    with Raw(mosquitto_broker.port) as raw:
        raw.retransmit_pubrel(7)
        assert raw.next() == PubComp(7, flags=0)  # 3.1.1 4.3.3: PUBCOMP again


@needs_mosquitto
def test_capability_qos_downgrade_delivery_at_min_of_publish_and_subscription(
        mosquitto_broker: MosquittoBroker) -> None:
    assert mosquitto_broker.capabilities["qos_downgrade"] is True and mosquitto_broker.capabilities["max_qos"] == 2
    with Observer("127.0.0.1", mosquitto_broker.port).connect() as obs:
        assert obs.subscribe("qos/down", qos=2) == 2  # granted QoS 2: max_qos
        obs.publish("qos/down", b"sent at qos 0", qos=0)
        assert obs.wait_message("qos/down").qos == 0  # 3.1.1 3.8.4: min(0, 2)
        obs.publish("qos/down", b"sent at qos 1", qos=1)
        assert obs.wait_message("qos/down").qos == 1


@needs_mosquitto
def test_capability_persistent_sessions_and_retain(mosquitto_broker: MosquittoBroker) -> None:
    capabilities = mosquitto_broker.capabilities
    assert capabilities["persistent_sessions"] is True and capabilities["retain"] is True
    def retain(pub: Observer) -> None:
        pub.publish("persist/retained", b"kept", qos=1, retain=True)

    with back_after_offline(mosquitto_broker.port, retain) as again:
        again.subscribe("persist/retained", qos=1)
        message = again.wait_message("persist/retained", timeout=WAIT)
        assert message.payload == b"kept" and message.retain


@needs_mosquitto
def test_capability_duplicate_qos2_limit_one_duplicate_then_disconnect(mosquitto_broker: MosquittoBroker) -> None:
    limit = mosquitto_broker.capabilities["duplicate_qos2_limit"]
    assert limit == 1
    with Raw(mosquitto_broker.port) as raw:
        raw.duplicate_qos2("dup-qos2", limit, 9)  # 3.1.1 4.3.3: a duplicate before PUBREL is acknowledged again
        raw.send(Publish("dup/qos2", b"x", qos=2, packet_id=9, dup=True))
        assert raw.next() is None  # mosquitto issue #3602: closed instead of PUBREC
    reason = require("duplicate_qos2_limit", mosquitto_broker, at_least=limit + 1)
    assert reason is not None and "mosquitto 2.0" in reason and "#3602" in reason


def test_amqtt_acknowledges_as_many_duplicate_qos2_publishes_as_it_declares() -> None:
    with EmbeddedBroker() as amqtt:  # __enter__ starts it
        limit = amqtt.capabilities["duplicate_qos2_limit"]
        with Raw(amqtt.port) as raw:
            raw.duplicate_qos2("dup-qos2-amqtt", limit, 9)  # 3.1.1 4.3.3: each acknowledged again


@pytest.mark.parametrize("kind", ["amqtt", "mosquitto"])
def test_client_id_takeover_is_as_declared(kind: str) -> None:
    """[MQTT-3.1.4-2]: a second CONNECT with the same client id disconnects the first client."""
    if kind == "mosquitto" and missing_reason():
        pytest.skip(missing_reason())
    server = EmbeddedBroker() if kind == "amqtt" else MosquittoBroker()
    with server:
        first = Observer("127.0.0.1", server.port, client_id="same-id").connect()
        second = Observer("127.0.0.1", server.port, client_id="same-id").connect()
        try:
            # amqtt keeps the first client: waiting the full deadline is how "never" is observed.
            dropped = first.wait_disconnected(WAIT if server.capabilities["client_id_takeover"] else 1.0)
            assert dropped is server.capabilities["client_id_takeover"]
        finally:
            first.close()
            second.close()


# -- require(): the skip reasons --------------------------------------------------------------------

def test_require_names_broker_version_and_upstream_issue() -> None:
    amqtt = EmbeddedBroker()  # never started: the table is a class fact
    reason = require("keepalive_enforced", amqtt)
    assert reason == ("amqtt 0.12.1 does not enforce keep-alive: a silent client is not disconnected after "
                      "1.5 x keep-alive (amqtt issue #308)")
    assert require("retain", amqtt) is None
    assert require("max_qos", amqtt, at_least=2) is None
    assert require("duplicate_qos2_limit", amqtt, at_least=4) is None
    assert require("pubrel_retry_ok", amqtt) == ("amqtt 0.12.1 answers a retransmitted PUBREL with no PUBCOMP, "
                                                 "against [MQTT-4.3.3-2] (amqtt issue #100)")
    with pytest.raises(ValueError, match="yes/no capability"):
        require("retain", amqtt, at_least=1)


MARKED_CASES = '''
import pytest

@pytest.mark.needs_broker("keepalive_enforced")
def test_needs_keepalive(broker):
    assert broker.capabilities["keepalive_enforced"]

@pytest.mark.needs_broker("no_such_thing")
def test_typo(broker):
    pass
'''


def _run_marked(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real pytest run of two marked cases with the project's plugin and broker fixtures (in
    tmp_path, not under a suites/ directory: a run of tests that writes no report)."""
    (tmp_path / "test_marked.py").write_text(MARKED_CASES)
    (tmp_path / "rig.yaml").write_text("broker:\n  kind: amqtt\n")
    return run(tmp_path, "-rs", "--rig", "rig.yaml", *args, timeout=60)


def test_needs_broker_marker_skips_with_the_reason_and_fails_a_typo(tmp_path: Path) -> None:
    proc = _run_marked(tmp_path)
    out = proc.stdout + proc.stderr
    assert "1 skipped, 1 error" in out, out  # a typo fails the setup, loudly
    assert "SKIPPED [1] test_marked.py:4: amqtt 0.12.1 does not enforce keep-alive" in out
    assert "(amqtt issue #308)" in out
    assert "needs_broker: unknown capability 'no_such_thing'" in out and "Traceback" not in out


@needs_mosquitto
def test_needs_broker_marker_runs_the_case_on_mosquitto(tmp_path: Path) -> None:
    proc = _run_marked(tmp_path, "--broker", "mosquitto", "-k", "keepalive")
    assert "1 passed" in proc.stdout, proc.stdout + proc.stderr
