"""The scripted MQTT peer (harness/peer) against real clients.

Clients: paho-mqtt 2.2 (CONNECT fields, CONNACK codes, SUBACK 0x80, TLS) and the emulator's MQTT
client driven over AT (in-session retransmission, keep-alive, MQTT 3.1, FIN/RST): paho 2.2
re-sends an unacknowledged PUBLISH only after a reconnect (client.py
_messages_reconnect_reset_out), never within a session, which the test below also pins down.
A raw TCP socket plays a client that breaks rules on purpose, to see the violations named.
Emulator time scale 0.05: one module second is 50 ms.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import trustme

from harness.at.channel import ATChannel
from harness.mqtt import codec
from harness.mqtt.codec import Direction
from harness.peer import (
    Capture,
    Connection,
    Match,
    PeerError,
    PeerMismatch,
    PeerTimeout,
    PeerViolation,
    ScriptedPeer,
)
from harness.spec.timing import GRACE_S, deadline_s

pytestmark = pytest.mark.timeout(30)

SCALE = 0.05
WAIT = 3.0  # real seconds for a step whose timing is not the subject of the test
CONNACK_NAMES = {0: "Success", 1: "Unsupported protocol version", 2: "Client identifier not valid",
                 3: "Server unavailable", 4: "Bad user name or password", 5: "Not authorized"}


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with ScriptedPeer(default_timeout=WAIT) as p:
        yield p
    assert p.errors == []


class Paho:
    """A paho client on its own network thread; callbacks turn into events the test waits on."""

    def __init__(self, client_id: str = "paho", clean_session: bool = True) -> None:
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv311, clean_session=clean_session)
        self.c.reconnect_delay_set(0.05, 0.05)
        self.events: list[tuple[str, Any]] = []
        self._cond = threading.Condition()
        self.c.on_connect = lambda c, u, flags, rc, props: self._ev("connect", (str(rc), flags.session_present))
        self.c.on_subscribe = lambda c, u, mid, rcs, props: self._ev("subscribe", [r.value for r in rcs])
        self.c.on_publish = lambda c, u, mid, rc, props: self._ev("publish", mid)
        self.c.on_disconnect = lambda c, u, flags, rc, props: self._ev("disconnect", str(rc))

    def _ev(self, name: str, value: Any) -> None:
        with self._cond:
            self.events.append((name, value))
            self._cond.notify_all()

    def wait(self, name: str, timeout: float = WAIT) -> Any:
        with self._cond:
            assert self._cond.wait_for(lambda: any(n == name for n, _ in self.events), timeout), \
                f"paho saw no {name} within {timeout} s: {self.events}"
            return next(v for n, v in self.events if n == name)

    def connect(self, port: int, keepalive: int = 60) -> Paho:
        self.c.connect("127.0.0.1", port, keepalive)
        self.c.loop_start()
        return self

    def stop(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def paho() -> Iterator[Paho]:
    p = Paho()
    yield p
    p.stop()


def ok(at: ATChannel, line: str) -> None:
    r = at.command(line)
    assert r.ok, f"{line} -> {r.final}"


def urc(at: ATChannel, name: str, line: str, pkt_timeout: int = 30, retries: int = 0) -> list[int | str]:
    """The next `name` URC, waited for as long as the note allows the command in `line`."""
    return at.wait_urc(name, deadline_s(line, SCALE, pkt_timeout, retries)).args


def module_connected(at: ATChannel, peer: ScriptedPeer, client_id: str = "id", pkt_timeout: int = 30,
                     retries: int = 0, **connect_fields: Any) -> Connection:
    """3.3.2 AT+QMTOPEN then 3.3.4 AT+QMTCONN, the peer accepting and answering CONNACK 0."""
    line = f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}'
    ok(at, line)
    conn = peer.accept(deadline_s(line, SCALE))
    assert urc(at, "+QMTOPEN", line) == [0, 0]
    line = f'AT+QMTCONN=0,"{client_id}"'
    ok(at, line)
    conn.handshake(client_id=client_id, timeout=deadline_s(line, SCALE, pkt_timeout, retries), **connect_fields)
    assert urc(at, "+QMTCONN", line, pkt_timeout, retries) == [0, 0, 0]
    return conn


# --- paho: CONNECT fields, CONNACK codes, SUBACK 0x80, reconnect resend, TLS -------------------------


@pytest.mark.parametrize("code", range(6))
def test_connect_fields_matched_and_connack_code_reaches_paho(peer: ScriptedPeer, paho: Paho, code: int) -> None:
    paho.c.username_pw_set("user", "pw-secret")
    paho.c.will_set("will/t", b"gone", qos=1, retain=True)
    paho.connect(peer.port, keepalive=30)
    conn = peer.accept()
    connect = conn.handshake(return_code=code, client_id="paho", keepalive=30, clean_session=True,
                             protocol_name="MQTT", protocol_level=4, username="user", password=b"pw-secret",
                             will_flag=True, will_topic="will/t", will_payload=b"gone", will_qos=1,
                             will_retain=True)
    assert isinstance(connect, codec.Connect)
    if code == 1:  # paho answers "unacceptable protocol version" by retrying as MQTT 3.1
        conn.wait_closed()
        retry = peer.accept()
        retry.handshake(return_code=code, protocol_name="MQIsdp", protocol_level=3, client_id="paho")
        retry.assert_conformant()
    assert paho.wait("connect") == (CONNACK_NAMES[code], False)
    if code:  # [MQTT-3.2.2-5]: the peer closes after a refusal; paho may hang up first (a race)
        assert conn.wait_closed() in ("peer FIN", "client FIN")
    else:
        paho.c.disconnect()
        conn.expect(codec.Disconnect)
        assert conn.wait_closed() == "client FIN"
    conn.assert_conformant()
    assert [r.direction for r in conn.log[:2]] == [Direction.C2B, Direction.B2C]
    assert str(conn.log[1]).split()[1:3] == ["B>C", "CONNACK(session_present=False,"]  # as the wire log prints it
    assert conn.log[1].raw == bytes([0x20, 2, 0, code])


def test_mismatch_and_timeout_read_as_one_block_without_secrets(peer: ScriptedPeer, paho: Paho) -> None:
    paho.c.username_pw_set("user", "pw-secret")
    paho.connect(peer.port, keepalive=30)
    conn = peer.accept()
    with pytest.raises(PeerMismatch) as err:
        conn.expect(Match(codec.Connect, keepalive=99, client_id="paho"))
    text = str(err.value)
    assert text.startswith("expected CONNECT(keepalive=99, client_id='paho')\ngot      CONNECT(client_id='paho'")
    assert "  - keepalive: expected 99, got 30" in text
    assert "pw-secret" not in text and "<9 bytes hidden>" in text
    with pytest.raises(TypeError, match="no field"):
        Match(codec.Connect, keepalve=30)
    with pytest.raises(PeerTimeout, match=r"expected PINGREQ\(\) within 0.200 s, got nothing \(connection open\)"):
        conn.expect(codec.PingReq, timeout=0.2)


def test_suback_with_0x80_reaches_paho(peer: ScriptedPeer, paho: Paho) -> None:
    paho.connect(peer.port)
    conn = peer.accept()
    conn.handshake()
    paho.wait("connect")
    paho.c.subscribe([("ok/t", 1), ("deny/t", 2)])
    sub = conn.ack_subscribe(granted=[1, 0x80], topics=[("ok/t", 1), ("deny/t", 2)],
                             packet_id=Capture("sub"), flags=0b0010)
    assert conn.captured["sub"] == sub.packet_id
    assert paho.wait("subscribe") == [1, 0x80]
    other = codec.Subscribe(sub.packet_id + 1, [("x", 0)])
    assert Match(codec.Subscribe, packet_id=Capture("sub")).mismatches(other, conn.captured) == [
        f"packet_id: expected <sub> = {sub.packet_id}, got {sub.packet_id + 1}"]
    conn.assert_conformant()


def test_paho_resends_publish_only_after_reconnect(peer: ScriptedPeer) -> None:
    """[MQTT-4.4.0-1]: with clean session 0, the unacknowledged PUBLISH goes again with the
    original packet id and DUP=1 [MQTT-3.3.1-1], after the RST; paho never retries in-session."""
    client = Paho("keeper", clean_session=False)
    try:
        client.connect(peer.port)
        first = peer.accept()
        first.handshake(clean_session=False)
        client.wait("connect")
        client.c.publish("t/1", b"payload", qos=1)
        pub = first.expect(Match(codec.Publish, qos=1, dup=False, topic="t/1", payload=b"payload"))
        first.expect_nothing(0.5)  # withheld PUBACK: no in-session retry
        first.reset()
        assert client.wait("disconnect") != "Success"  # the RST reached paho
        second = peer.accept()
        second.handshake(session_present=True, clean_session=False)
        again = second.expect(Match(codec.Publish, dup=True, packet_id=pub.packet_id, payload=b"payload"))
        second.send(codec.PubAck(again.packet_id))
        assert client.wait("publish") == pub.packet_id
        first.assert_conformant()
        second.assert_conformant()
    finally:
        client.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ca = trustme.CA()
    d = tmp_path_factory.mktemp("pki")
    server, client = ca.issue_cert("127.0.0.1"), ca.issue_cert("device@example.org")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    client.private_key_and_cert_chain_pem.write_to_path(str(d / "client.pem"))
    return {"ca": ca, "server": server, "dir": d}


def server_context(pki: dict[str, Any], verify: ssl.VerifyMode) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki["server"].configure_cert(ctx)
    if verify is ssl.CERT_REQUIRED:
        pki["ca"].configure_trust(ctx)
    ctx.verify_mode = verify
    return ctx


@pytest.mark.parametrize(("verify", "with_cert"), [(ssl.CERT_REQUIRED, True), (ssl.CERT_REQUIRED, False),
                                                   (ssl.CERT_NONE, False)])
def test_tls_server_with_and_without_client_certificates(pki: dict[str, Any], verify: ssl.VerifyMode,
                                                         with_cert: bool) -> None:
    d: Path = pki["dir"]
    client = Paho("tls")
    client.c.tls_set(ca_certs=str(d / "ca.pem"), certfile=str(d / "client.pem") if with_cert else None)
    with ScriptedPeer(tls=server_context(pki, verify), default_timeout=WAIT) as peer:
        try:
            client.connect(peer.port)
            if with_cert or verify is ssl.CERT_NONE:
                conn = peer.accept()
                conn.handshake(client_id="tls")
                assert client.wait("connect") == ("Success", False)
                if with_cert:
                    assert conn.tls_peer_cert is not None and "subjectAltName" in conn.tls_peer_cert
                else:
                    assert not conn.tls_peer_cert
                conn.close()  # close_notify, then FIN
                assert client.wait("disconnect") != "Success"
            else:
                assert "certificate" in peer.wait_tls_failure()
                with pytest.raises(PeerTimeout, match="TLS handshakes failed"):
                    peer.accept(0.1)
        finally:
            client.stop()


# --- a rule-breaking raw client: violations, malformed input, send_raw -------------------------------


def test_violations_are_collected_and_named(peer: ScriptedPeer) -> None:
    with socket.create_connection(("127.0.0.1", peer.port), timeout=WAIT) as s:
        conn = peer.accept()
        s.sendall(codec.encode(codec.PingReq()))  # before CONNECT
        s.sendall(codec.encode(codec.Connect("raw", reserved_flag=True)))
        s.sendall(codec.encode(codec.Publish("t", b"", qos=0, dup=True)))
        conn.expect(codec.PingReq)
        conn.expect(Match(codec.Connect, reserved_flag=True))
        conn.expect(Match(codec.Publish, qos=0))
        conn.send_raw(bytes([0x20, 2, 0, 0]))  # a CONNACK written by hand
        assert s.recv(16) == bytes([0x20, 2, 0, 0])
        assert conn.log[-1].packet == codec.ConnAck(False, 0, 0) and conn.log[-1].note == "raw"
        s.sendall(codec.encode(codec.Publish("q", b"x", qos=2, packet_id=5)))
        conn.expect(Match(codec.Publish, packet_id=5))
        conn.send(codec.PubRec(5))
        assert s.recv(16) == codec.encode(codec.PubRec(5))
        s.sendall(codec.encode(codec.PubRel(5)) + codec.encode(codec.Publish("q", b"x", qos=2, dup=True, packet_id=5)))
        s.sendall(codec.encode(codec.Publish("q1", b"y", qos=1, packet_id=6)) * 2)  # resent without DUP
        conn.expect(codec.PubRel)
        conn.expect(Match(codec.Publish, dup=True))
        conn.expect(Match(codec.Publish, packet_id=6))
        conn.expect(Match(codec.Publish, packet_id=6))
        s.sendall(b"\x00\x00")  # reserved packet type 0: malformed, the peer closes [MQTT-4.8.0-1]
        assert conn.wait_closed() == "peer FIN after malformed input"
        assert s.recv(16) == b""
    rules = [v.rule.split("]")[0] + "]" for v in conn.violations]
    assert rules == ["[MQTT-3.1.0-1]", "[MQTT-3.1.2-3]", "[MQTT-3.3.1-2]", "[MQTT-4.3.3-1]",
                     "[MQTT-3.3.1-1]", "[MQTT-4.8.0-1]"]
    with pytest.raises(PeerViolation, match=r"(?s)client broke MQTT 3.1.1:.*\[MQTT-4.3.3-1\] PUBLISH re-sent"):
        conn.assert_conformant()
    with pytest.raises(PeerError, match="cannot send PINGRESP"):
        conn.send(codec.PingResp())


# --- the emulator's MQTT client: in-session retries, keep-alive, MQTT 3.1, FIN/RST -------------------


def test_emulator_qos1_retransmission_dup_interval_and_count(at: ATChannel, peer: ScriptedPeer) -> None:
    """Figure 1 Excep2, 3.3.1 <pkt_timeout>/<retry_times>, 3.3.8 <result> 1 then 2."""
    pkt, retries = 4, 2
    ok(at, f'AT+QMTCFG="timeout",0,{pkt},{retries},1')
    conn = module_connected(at, peer, pkt_timeout=pkt, retries=retries)
    line = 'AT+QMTPUB=0,1,1,0,"t"'
    assert at.send_data(line, b"hello").ok
    limit = deadline_s(line, SCALE, pkt, retries)
    pubs = [conn.expect(Match(codec.Publish, qos=1, dup=i > 0, topic="t", payload=b"hello",
                              packet_id=Capture("id")), limit) for i in range(retries + 1)]
    assert conn.captured["id"] == 1
    assert urc(at, "+QMTPUB", line, pkt, retries) == [0, 1, 1, 1]
    assert urc(at, "+QMTPUB", line, pkt, retries) == [0, 1, 1, 2]
    assert urc(at, "+QMTPUB", line, pkt, retries) == [0, 1, 2]
    assert urc(at, "+QMTSTAT", line, pkt, retries) == [0, 6]
    assert conn.wait_closed(limit) == "client FIN"
    assert len(conn.received(codec.Publish)) == retries + 1 == len(pubs)  # retry count = retry_times
    times = [r.t for r in conn.received(codec.Publish)]
    t1 = pkt * SCALE
    for gap in (b - a for a, b in itertools.pairwise(times)):
        assert 0.9 * t1 <= gap <= t1 + GRACE_S / 4, f"retry interval {gap:.3f} s, pkt_timeout is {t1:.3f} s"
    conn.assert_conformant()


def test_emulator_qos2_withheld_pubrec_then_pubrel_never_publish_again(at: ATChannel, peer: ScriptedPeer) -> None:
    pkt, retries = 4, 3
    ok(at, f'AT+QMTCFG="timeout",0,{pkt},{retries},1')
    conn = module_connected(at, peer, pkt_timeout=pkt, retries=retries)
    line = 'AT+QMTPUB=0,2,2,0,"t2"'
    limit = deadline_s(line, SCALE, pkt, retries)
    assert at.send_data(line, b"twice").ok
    conn.expect(Match(codec.Publish, qos=2, dup=False, packet_id=2), limit)
    conn.expect(Match(codec.Publish, qos=2, dup=True, packet_id=2), limit)
    conn.send(codec.PubRec(2))
    conn.expect(Match(codec.PubRel, packet_id=2, flags=0b0010), limit)
    conn.send(codec.PubComp(2))
    assert urc(at, "+QMTPUB", line, pkt, retries) == [0, 2, 1, 1]
    assert urc(at, "+QMTPUB", line, pkt, retries) == [0, 2, 0]
    conn.expect_nothing(2 * pkt * SCALE)  # two more T1: no PUBLISH (nor anything) after PUBREL
    kinds = [type(r.packet).__name__ for r in conn.received()]
    assert kinds == ["Connect", "Publish", "Publish", "PubRel"]
    conn.assert_conformant()


def test_emulator_keepalive_gives_up_on_blackhole(at: ATChannel, peer: ScriptedPeer) -> None:
    """Figure 1 T2: PINGREQ after keep-alive seconds of silence; no PINGRESP -> +QMTSTAT: 0,2."""
    keepalive, pkt = 2, 2
    ok(at, f'AT+QMTCFG="keepalive",0,{keepalive}')
    ok(at, f'AT+QMTCFG="timeout",0,{pkt},0,0')
    conn = module_connected(at, peer, pkt_timeout=pkt, keepalive=keepalive)
    conn.blackhole()
    conn.expect(codec.PingReq, keepalive * SCALE + GRACE_S)
    t_connect, t_ping = conn.log[0].t, conn.received(codec.PingReq)[0].t
    assert keepalive * SCALE * 0.9 <= t_ping - t_connect <= keepalive * SCALE + GRACE_S / 4
    assert conn.wait_closed(pkt * SCALE + GRACE_S) == "client FIN"
    assert at.wait_urc("+QMTSTAT", pkt * SCALE + GRACE_S).args == [0, 2]
    conn.assert_keepalive(keepalive * SCALE, slack_s=GRACE_S / 4)
    assert conn.sent() == conn.log[1:2]  # only the CONNACK went out
    conn.assert_conformant()


def test_emulator_mqtt31_connect_is_mqisdp_level_3(at: ATChannel, peer: ScriptedPeer) -> None:
    """3.3.1 "version" 0 = MQTT 3.1."""
    ok(at, 'AT+QMTCFG="version",0,0')
    conn = module_connected(at, peer, client_id="old", protocol_name="MQIsdp", protocol_level=3)
    assert conn.log[0].raw[2:10] == b"\x00\x06MQIsdp"
    conn.assert_conformant()


@pytest.mark.parametrize("how", ["close", "reset"])
def test_emulator_sees_fin_and_rst_as_qmtstat_1(at: ATChannel, peer: ScriptedPeer, how: str) -> None:
    """Table 4 (chapter 5.1) code 1: the server closed or reset the connection."""
    conn = module_connected(at, peer)
    getattr(conn, how)()
    assert conn.closed_how == ("peer FIN" if how == "close" else "peer RST")
    assert at.wait_urc("+QMTSTAT", WAIT).args == [0, 1]
    assert at.command("AT+QMTOPEN?").lines == []


# --- lifecycle ----------------------------------------------------------------------------------------


def _sockets() -> set[str]:
    """This process's open sockets by inode: a socket another test's thread closes meanwhile
    leaves this set, a leaked one stays in it."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # an fd closed while we look
            if (target := os.readlink(f"/proc/self/fd/{fd}")).startswith("socket:"):
                found.add(target)
    return found


def test_stop_is_bounded_and_leaks_nothing() -> None:
    before_sockets, before_threads = _sockets(), set(threading.enumerate())
    peer = ScriptedPeer(auto_pingresp=True).start()
    port = peer.port
    client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    conn = peer.accept()
    client.sendall(codec.encode(codec.Connect("x")) + codec.encode(codec.PingReq()))
    conn.expect(codec.Connect)
    assert client.recv(16) == codec.encode(codec.PingResp())  # auto_pingresp answered
    conn.expect_nothing(0.05)  # the auto-answered PINGREQ is logged, not handed to expect()
    assert len(conn.received(codec.PingReq)) == 1
    t0 = time.monotonic()
    peer.stop()  # with the connection still open
    assert time.monotonic() - t0 < 2.0
    peer.stop()  # idempotent
    assert client.recv(16) == b""  # the client saw its connection end
    client.close()
    assert conn.closed_how == "peer stopped"
    with pytest.raises(PeerError, match="peer stopped"):
        conn.send(codec.PingResp())
    assert set(threading.enumerate()) - before_threads == set()
    assert _sockets() - before_sockets == set()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
    assert peer.errors == []


def test_bad_arguments_give_one_line_errors() -> None:
    before = set(threading.enumerate())
    with pytest.raises(PeerError, match=r"^scripted peer cannot listen on 256\.0\.0\.1: .*$"):
        ScriptedPeer(host="256.0.0.1").start()
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(TypeError, match=r"tls must be an ssl\.SSLContext"):
        ScriptedPeer(tls="ca.pem")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="codec packet class"):
        Match(int)
