"""The MQTT fault proxy and its wire log, between real clients and the real embedded amqtt broker.

The retrying client is the emulator (AT channel, time scale 0.05: one module second is 50 ms);
paho (the Observer) is the client where retries do not matter. Every fault is proved twice: by
what the client reports (the note's URCs, 3.3.2 +QMTOPEN, 3.3.8 +QMTPUB, chapter 5 +QMTSTAT) and
by what the wire log recorded.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from emulated import fresh_module

from harness.at.channel import ATChannel
from harness.broker import EmbeddedBroker, Observer, ObserverError
from harness.emulator.launcher import EmulatorProcess
from harness.mqtt import codec
from harness.mqtt.codec import Direction
from harness.proxy import (
    Blackhole,
    Close,
    Corrupt,
    Delay,
    Drop,
    Duplicate,
    FaultProxy,
    ProxyError,
    Reset,
    Rule,
    RuleError,
    WireLogTimeout,
)
from harness.proxy.server import HALF_CLOSE_S
from harness.spec.timing import GRACE_S, deadline_s

pytestmark = pytest.mark.timeout(30)

SCALE = 0.05
PKT, RETRIES = 4, 2  # AT+QMTCFG="timeout",0,4,2,1: T1 = 200 ms real, two retransmissions
WAIT = 3.0  # real seconds for the paho side and raw sockets on loopback
SECRET = "pw-s3cr3t-Zq9"
C2B, B2C = Direction.C2B, Direction.B2C  # short names for the tables below


def at_deadline(line: str) -> float:
    return deadline_s(line, SCALE, PKT, RETRIES)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def at(emulator: EmulatorProcess) -> Iterator[ATChannel]:
    """A freshly reset module with T1 = PKT module seconds, RETRIES retransmissions, notices on."""
    with fresh_module(emulator.url, SCALE) as ch:
        ch.pkt_timeout, ch.retry_times = PKT, RETRIES
        assert ch.command(f'AT+QMTCFG="timeout",0,{PKT},{RETRIES},1').ok
        yield ch


@pytest.fixture
def watcher(amqtt_broker: EmbeddedBroker) -> Iterator[Observer]:
    """Subscribed straight on the broker (not through the proxy) to everything under px/."""
    with Observer(amqtt_broker.host, amqtt_broker.port).connect() as obs:
        obs.subscribe("px/#", 1)
        yield obs


def urc(at: ATChannel, name: str, timeout: float) -> list[int | str]:
    return at.wait_urc(name, timeout).args


def open_and_connect(at: ATChannel, port: int, client_id: str = "dut") -> None:
    """3.3.2 AT+QMTOPEN and 3.3.4 AT+QMTCONN through the proxy."""
    line = f'AT+QMTOPEN=0,"127.0.0.1",{port}'
    assert at.command(line).ok
    assert urc(at, "+QMTOPEN", at_deadline(line)) == [0, 0]
    line = f'AT+QMTCONN=0,"{client_id}"'
    assert at.command(line).ok
    assert urc(at, "+QMTCONN", at_deadline(line)) == [0, 0, 0]


def summary(rec: object) -> tuple[object, ...]:
    return tuple(getattr(rec, f) for f in ("direction", "type", "qos", "dup", "retain", "packet_id", "topic",
                                           "payload_len"))


# --- the wire log -----------------------------------------------------------------------------


def test_wire_log_records_every_packet_both_ways(proxy: FaultProxy) -> None:
    with Observer("127.0.0.1", proxy.port, client_id="wl-client").connect() as client:
        client.subscribe("wl/#", 1)
        client.publish("wl/a", b"hello, wire!", qos=1, retain=False)
        assert client.wait_message("wl/a", WAIT).payload == b"hello, wire!"
    proxy.log.wait_for(type="EOF", timeout=WAIT)  # after the DISCONNECT went on
    recs = proxy.log.packets()
    assert [(r.direction, r.type) for r in recs] == [
        (C2B, "CONNECT"), (B2C, "CONNACK"), (C2B, "SUBSCRIBE"), (B2C, "SUBACK"), (C2B, "PUBLISH"),
        (B2C, "PUBACK"), (B2C, "PUBLISH"), (C2B, "PUBACK"), (C2B, "DISCONNECT")]
    connect, connack, sub, suback, pub_in, puback, pub_out, puback_out, _ = recs
    assert isinstance(connect.packet, codec.Connect) and connect.packet.client_id == "wl-client"
    assert (connack.packet, connack.flags) == (codec.ConnAck(False, 0, 0), 0)
    assert isinstance(sub.packet, codec.Subscribe) and sub.packet.topics == [("wl/#", 1)]
    assert sub.flags == 0b0010 and suback.packet_id == sub.packet_id
    assert summary(pub_in) == (C2B, "PUBLISH", 1, False, False, pub_in.packet_id, "wl/a", 12)
    assert puback.packet_id == pub_in.packet_id and puback_out.packet_id == pub_out.packet_id
    assert summary(pub_out)[:5] == (B2C, "PUBLISH", 1, False, False)
    assert pub_in.raw == codec.encode(codec.Publish("wl/a", b"hello, wire!", 1, False, False, pub_in.packet_id))
    assert {r.conn for r in recs} == {1} and all(r.forwarded and r.fault is None for r in recs)
    times = [r.t for r in recs]
    assert times == sorted(times) and all(abs(r.wall - time.time()) < 60 for r in recs)

    text = proxy.log.render()
    assert re.search(rf"^\+\d+\.\d{{3}}s #1 C>B PUBLISH qos=1 dup=0 retain=0 id={pub_in.packet_id} "
                     r"topic='wl/a' len=12 payload=b'hello, wire!'$", text, re.M), text
    assert re.search(r"^\+\d+\.\d{3}s #1 B>C CONNACK rc=0 session_present=0$", text, re.M), text
    assert re.search(r"#1 -- OPEN from 127\.0\.0\.1:\d+$", text, re.M), text
    doc = json.loads(proxy.log.to_json())
    assert [r["type"] for r in doc["records"] if r["kind"] == "packet"] == [r.type for r in recs]
    j_pub = next(r for r in doc["records"] if r["type"] == "PUBLISH" and r["direction"] == C2B)
    assert (j_pub["qos"], j_pub["dup"], j_pub["packet_id"], j_pub["topic"], j_pub["payload_len"]) == \
        (1, False, pub_in.packet_id, "wl/a", 12)
    assert bytes.fromhex(j_pub["raw_hex"]) == pub_in.raw


def test_payloads_are_shown_truncated_and_mark_slices_the_log(proxy: FaultProxy, watcher: Observer) -> None:
    with Observer("127.0.0.1", proxy.port).connect() as client:
        client.publish("px/first", b"a", qos=1)
        mark = proxy.log.mark()
        client.publish("px/big", bytes(range(200)), qos=1)
    watcher.wait_message("px/big", WAIT)
    text = proxy.log.render(since=mark)
    assert "px/first" not in text and "len=200 payload=b'\\x00\\x01" in text
    assert text.count("\\x1f") == 1 and "\\x20" not in text and "'..." in text  # 32 bytes shown
    assert [r.topic for r in proxy.log.packets(C2B, codec.Publish, since=mark)] == ["px/big"]


def test_password_is_redacted_in_render_json_and_records(proxy: FaultProxy) -> None:
    with Observer("127.0.0.1", proxy.port, username="dev-user", password=SECRET).connect():
        pass
    (rec,) = proxy.log.packets(C2B, codec.Connect)
    assert isinstance(rec.packet, codec.Connect)
    assert (rec.packet.username, rec.packet.password, rec.raw) == ("dev-user", b"***", None)
    text, doc = proxy.log.render(), proxy.log.to_json()
    assert "user='dev-user' password=***" in text
    for out in (text, doc, repr(proxy.log.records())):
        assert SECRET not in out and SECRET.encode().hex() not in out


def test_wait_for_times_out_with_one_line(proxy: FaultProxy) -> None:
    started = time.monotonic()
    with pytest.raises(WireLogTimeout) as info:
        proxy.log.wait_for(lambda r: True, 0.2, direction=B2C, type=codec.PubRec)
    assert time.monotonic() - started < 1.5
    assert str(info.value) == "wire log: 0 of 1 B>C PUBREC matching the predicate within 0.2 s (last record: empty)"


# --- faults against the emulator (a client that retries) ---------------------------------------


def test_drop_first_puback_emulator_resends_with_dup_and_same_id(at: ATChannel, proxy: FaultProxy,
                                                                watcher: Observer) -> None:
    """Figure 1 Excep2 / 3.3.8: no PUBACK within T1 -> PUBLISH again, DUP=1, same <msgID>."""
    rule = proxy.add_rule(Rule(direction=B2C, type=codec.PubAck, action=Drop()))
    open_and_connect(at, proxy.port)
    line = 'AT+QMTPUB=0,1,1,0,"px/dup"'
    assert at.send_data(line, b"dropped-ack").ok
    assert urc(at, "+QMTPUB", at_deadline(line)) == [0, 1, 1, 1]  # retransmission notice
    assert urc(at, "+QMTPUB", at_deadline(line)) == [0, 1, 0]
    pubs = proxy.log.packets(C2B, codec.Publish)
    assert [(p.dup, p.packet_id, p.qos, p.payload_len) for p in pubs] == [(False, 1, 1, 11), (True, 1, 1, 11)]
    acks = proxy.log.packets(B2C, codec.PubAck)
    assert [(a.packet_id, a.fault, a.forwarded) for a in acks] == [
        (1, f"rule#{rule.id} Drop()", False), (1, None, True)]
    assert (rule.seen, rule.fired, rule.done) == (1, 1, True)  # done: later PUBACKs not even counted
    assert watcher.wait_message("px/dup", WAIT).payload == b"dropped-ack"
    assert re.search(r"B>C PUBACK id=1 \[rule#\d+ Drop\(\)\] \(not forwarded\)", proxy.log.render())


def test_corrupt_puback_makes_the_emulator_drop_the_link(at: ATChannel, proxy: FaultProxy) -> None:
    """A reserved packet type is malformed (MQTT 2.2.1, 4.8): the module closes, chapter 5 +QMTSTAT."""
    proxy.add_rule(Rule(Corrupt(), direction=B2C, type=codec.PubAck))
    open_and_connect(at, proxy.port)
    line = 'AT+QMTPUB=0,2,1,0,"px/corrupt"'
    assert at.send_data(line, b"x").ok
    assert urc(at, "+QMTSTAT", at_deadline(line)) == [0, 7]  # DECIDED in the emulator: link not alive
    (ack,) = proxy.log.packets(B2C, codec.PubAck)
    assert ack.forwarded and ack.fault is not None and "Corrupt" in ack.fault
    proxy.log.wait_for(lambda r: r.direction == C2B, WAIT, type="EOF")  # the emulator hung up


@pytest.mark.parametrize("action", [Close(), Reset()], ids=["fin", "rst"])
def test_close_and_reset_give_qmtstat_1(at: ATChannel, proxy: FaultProxy, action: Close | Reset) -> None:
    """Chapter 5 +QMTSTAT 1: the connection was closed or reset by the peer."""
    proxy.add_rule(Rule(action, direction=C2B, type=codec.Subscribe))
    open_and_connect(at, proxy.port)
    line = 'AT+QMTSUB=0,1,"px/s",0'
    assert at.command(line).ok
    assert urc(at, "+QMTSTAT", at_deadline(line)) == [0, 1]
    (event,) = [e for e in proxy.log.events() if e.type in ("CLOSE", "RESET")]
    assert event.type == type(action).__name__.upper()
    (sub,) = proxy.log.packets(C2B, codec.Subscribe)
    assert not sub.forwarded


def test_blackhole_makes_keepalive_give_up(at: ATChannel, proxy: FaultProxy) -> None:
    """Figure 1 T2: PINGREQ after keep-alive; no PINGRESP within T1 -> +QMTSTAT 2; sockets stay open."""
    keepalive = 1
    assert at.command(f'AT+QMTCFG="keepalive",0,{keepalive}').ok
    open_and_connect(at, proxy.port)
    proxy.blackhole()
    assert urc(at, "+QMTSTAT", (keepalive + PKT) * SCALE * 2 + GRACE_S) == [0, 2]
    pings = proxy.log.packets(C2B, codec.PingReq)
    holed = [p for p in pings if p.fault == "blackhole"]
    assert holed and all(not p.forwarded for p in holed)
    assert not proxy.log.packets(B2C, codec.PingResp, since=holed[0].seq)
    assert not [e for e in proxy.log.events() if e.type in ("CLOSE", "RESET")]  # the proxy closed nothing
    proxy.log.wait_for(lambda r: r.direction == C2B, WAIT, type="EOF")  # the module gave up and closed
    assert proxy.connections == 1  # the broker side is held open (a blackhole forwards no FIN either)


def test_blackhole_rule_holds_the_connack(at: ATChannel, proxy: FaultProxy) -> None:
    """3.3.4 <result> 2: no CONNACK within <pkt_timeout> x (<retry_times>+1); then +QMTSTAT 4."""
    proxy.add_rule(Rule(Blackhole(), direction=B2C, type=codec.ConnAck))
    line = f'AT+QMTOPEN=0,"127.0.0.1",{proxy.port}'
    assert at.command(line).ok
    assert urc(at, "+QMTOPEN", at_deadline(line)) == [0, 0]
    line = 'AT+QMTCONN=0,"held"'
    assert at.command(line).ok
    assert urc(at, "+QMTCONN", at_deadline(line)) == [0, 2]
    assert urc(at, "+QMTSTAT", at_deadline(line)) == [0, 4]
    (connack,) = proxy.log.packets(B2C, codec.ConnAck)
    assert not connack.forwarded and connack.fault is not None and "Blackhole" in connack.fault


def test_refuse_connections_then_accept_again(at: ATChannel, proxy: FaultProxy) -> None:
    """3.3.2 <result> -1: failed to open the network (nothing listens); the same port works again."""
    with Observer("127.0.0.1", proxy.port, client_id="old").connect() as old:
        proxy.refuse_connections(True)
        line = f'AT+QMTOPEN=0,"127.0.0.1",{proxy.port}'
        assert at.command(line).ok
        assert urc(at, "+QMTOPEN", at_deadline(line)) == [0, -1]
        old.publish("px/old", b"still here", qos=1)  # connections made before are left alone
        proxy.refuse_connections(False)
        mark = proxy.log.mark()
        open_and_connect(at, proxy.port)
    assert [(r.conn, r.type) for r in proxy.log.packets(since=mark)][:2] == [(2, "CONNECT"), (2, "CONNACK")]


# --- faults against paho and raw sockets --------------------------------------------------------


def test_delay_connack_is_visible_in_the_timestamps(proxy: FaultProxy) -> None:
    delay = 0.4
    proxy.add_rule(Rule(direction=B2C, type=codec.ConnAck, action=Delay(delay)))
    started = time.monotonic()
    with Observer("127.0.0.1", proxy.port).connect(timeout=WAIT):
        assert time.monotonic() - started >= delay
    (connect,) = proxy.log.packets(C2B, codec.Connect)
    (connack,) = proxy.log.packets(B2C, codec.ConnAck)
    assert connack.t - connect.t < delay  # the broker answered at once ...
    assert connack.t_out is not None and connack.t_out - connack.t >= delay  # ... the proxy held it
    assert re.search(r"B>C CONNACK rc=0 session_present=0 \[rule#\d+ Delay\(seconds=0\.4\)\] "
                     r"\(sent \+0\.4\d\ds\)", proxy.log.render())


def test_duplicate_the_nth_publish(proxy: FaultProxy, watcher: Observer) -> None:
    rule = proxy.add_rule(Rule(Duplicate(), direction=C2B, type=codec.Publish, nth=2))
    with Observer("127.0.0.1", proxy.port).connect() as client:
        for n in (1, 2, 3):
            client.publish("px/dupl", f"m{n}", qos=0)
        client.publish("px/end", b"", qos=1)
    watcher.wait_message("px/end", WAIT)
    got = [m.payload for m in watcher.messages() if m.topic == "px/dupl"]
    assert got == [b"m1", b"m2", b"m2", b"m3"]
    assert (rule.seen, rule.fired) == (2, 1)


def test_drop_the_next_n_and_persistent_rules(proxy: FaultProxy, watcher: Observer) -> None:
    two = proxy.add_rule(Rule(Drop(), direction=C2B, type="publish", count=2,
                              where=lambda p: isinstance(p, codec.Publish) and p.topic == "px/two"))
    every = proxy.add_rule(Rule(Drop(), direction=C2B, type=codec.Publish, count=None,
                                where=lambda p: isinstance(p, codec.Publish) and p.topic == "px/never"))
    with Observer("127.0.0.1", proxy.port).connect() as client:
        for n in range(4):
            client.publish("px/two", f"t{n}", qos=0)
            client.publish("px/never", f"n{n}", qos=0)
        client.publish("px/end", b"", qos=1)
    watcher.wait_message("px/end", WAIT)
    assert [m.payload for m in watcher.messages() if m.topic == "px/two"] == [b"t2", b"t3"]
    assert [m for m in watcher.messages() if m.topic == "px/never"] == []
    assert (two.fired, two.done, every.fired, every.done) == (2, True, 4, False)
    proxy.clear_rules()
    assert list(proxy.rules) == []


@pytest.mark.parametrize("action", [Close(), Reset()], ids=["fin", "rst"])
def test_close_is_fin_and_reset_is_rst_on_the_socket(proxy: FaultProxy, action: Close | Reset) -> None:
    proxy.add_rule(Rule(action, direction=C2B, type=codec.Connect))
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as s:
        s.sendall(codec.encode(codec.Connect("raw")))
        if isinstance(action, Reset):
            with pytest.raises(ConnectionResetError):
                s.recv(10)
        else:
            assert s.recv(10) == b""


@pytest.mark.parametrize("mode", ["close", "reset"])
def test_refuse_by_accepting_and_closing(proxy: FaultProxy, mode: str) -> None:
    proxy.refuse_connections(True, mode=mode)
    if mode == "reset":
        with pytest.raises(ConnectionResetError), \
                socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as s:  # the RST may
            s.recv(10)  # beat connect() itself on loopback
    else:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as s:
            assert s.recv(10) == b""
    assert [e.note.split()[0] for e in proxy.log.events() if e.type == "REFUSED"] == [mode]
    with pytest.raises(ProxyError, match="refuse mode must be one of refuse, close, reset"):
        proxy.refuse_connections(True, mode="maybe")


def test_malformed_bytes_are_forwarded_and_logged() -> None:
    """Undecodable frames still cross; after a reserved type the stream is forwarded as it comes."""
    with socket.create_server(("127.0.0.1", 0)) as upstream, \
            FaultProxy("127.0.0.1", upstream.getsockname()[1]) as proxy, \
            socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as client:
        upstream.settimeout(WAIT)
        peer, _ = upstream.accept()
        with peer:
            peer.settimeout(WAIT)
            sent = b"\xc0\x00" + b"\x40\x01\x00" + b"\xd0\x00" + b"\xf0\x05garbage" + b"\xc0\x00"
            client.sendall(sent)
            got = b""
            while len(got) < len(sent):
                got += peer.recv(100)
            assert got == sent
            proxy.log.wait_for(lambda r: r.kind == "malformed", WAIT, count=2)
            recs = [(r.type, r.note) for r in proxy.log.packets(C2B)]
            assert recs[:3] == [("PINGREQ", ""), ("MALFORMED", "PUBACK: truncated at byte 0 (need 2 more)"),
                                ("PINGRESP", "")]
            assert recs[3] == ("MALFORMED", "reserved packet type 15")
            assert all(r.forwarded for r in proxy.log.packets(C2B))
            client.close()
            assert peer.recv(10) == b""  # the client's FIN reached the upstream


# --- lifecycle and bad input ------------------------------------------------------------------


def test_many_connections_each_with_its_own_upstream(proxy: FaultProxy) -> None:
    clients = [Observer("127.0.0.1", proxy.port, client_id=f"many-{n}").connect() for n in range(3)]
    try:
        assert proxy.connections == 3
        for n, c in enumerate(clients):
            c.subscribe(f"many/{n}", 0)
        assert sorted(r.conn for r in proxy.log.packets(C2B, codec.Subscribe)) == [1, 2, 3]
        clients[0].close()
        proxy.log.wait_for(lambda r: r.conn == 1, WAIT, type="EOF")
        assert clients[1].connected and clients[2].connected  # one client leaving ends only its pair
        proxy.drop_connections()
        with pytest.raises(ObserverError, match="connection lost"):
            clients[1].wait_message("never", WAIT)
        assert {2, 3} <= {e.conn for e in proxy.log.events() if e.type == "CLOSE"}
    finally:
        for c in clients:
            c.close()


def test_stop_is_fast_idempotent_and_closes_everything(amqtt_broker: EmbeddedBroker) -> None:
    before = set(threading.enumerate())
    proxy = FaultProxy(amqtt_broker.host, amqtt_broker.port).start()
    port = proxy.port
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(codec.encode(codec.Connect("held")))
        assert codec.Decoder().feed(s.recv(4)) == [codec.ConnAck(False, 0, 0)]
        started = time.monotonic()
        proxy.stop()
        proxy.stop()
        assert time.monotonic() - started < 1.0
        assert s.recv(10) == b""  # the client connection was closed
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
    with pytest.raises(ProxyError, match="not running"):
        proxy.drop_connections()


def test_upstream_down_closes_the_client_and_is_logged() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, never listening: connection refused
        with FaultProxy("127.0.0.1", unused.getsockname()[1]) as proxy, \
                socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as s:
            assert s.recv(10) == b""
            ev = proxy.log.events()[-1]  # logged before the client was closed
            assert ev.type == "UPSTREAM-FAILED" and "refused" in ev.note.lower()


def test_bad_arguments_are_one_line_errors(amqtt_broker: EmbeddedBroker) -> None:
    with pytest.raises(ProxyError, match=r"^proxy: upstream_port must be an integer 1\.\.65535, got 0$"):
        FaultProxy("127.0.0.1", 0)
    with FaultProxy(amqtt_broker.host, amqtt_broker.port) as first, \
            pytest.raises(ProxyError, match=rf"^proxy: cannot listen on 127\.0\.0\.1:{first.port}: "):
        FaultProxy(amqtt_broker.host, amqtt_broker.port, listen_port=first.port).start()
    with pytest.raises(RuleError, match=r"^Rule direction must be 'C>B', 'B>C' or None, got 'up'$"):
        Rule(Drop(), direction="up")
    with pytest.raises(RuleError, match="not an MQTT packet type"):
        Rule(Drop(), type="PUBLSH")
    with pytest.raises(RuleError, match="nth must be an integer >= 1"):
        Rule(Drop(), nth=0)
    with pytest.raises(RuleError, match="must be an Action"):
        Rule("drop")  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="Delay seconds must be a number"):
        Delay(-1)


def test_rule_matching_by_packet_id_direction_and_nth() -> None:
    """The match half of a rule on its own: what it counts and when it fires."""
    acks = [codec.PubAck(n) for n in (5, 6, 5, 5)]
    by_id = Rule(Drop(), type=codec.PubAck, packet_id=5, nth=2, count=None)
    assert [by_id.offer(B2C, a, 1) for a in acks] == [False, False, True, True]
    assert (by_id.seen, by_id.fired, by_id.done) == (3, 2, False)
    one_way = Rule(Drop(), direction=C2B, conn=2)
    assert [one_way.offer(d, codec.PingReq(), c) for d, c in ((B2C, 2), (C2B, 1), (C2B, 2), (C2B, 2))] == \
        [False, False, True, False]  # count=1: one-shot
    bad = Rule(Drop(), type="MALFORMED")
    assert (bad.offer(C2B, codec.PingReq(), 1), bad.offer(C2B, None, 1)) == (False, True)
    puback = codec.encode(codec.PubAck(7))
    assert Corrupt().corrupted(puback) == b"\xf0" + puback[1:]  # reserved type 15, flags kept
    assert Corrupt(xor={-1: 0xFF}).corrupted(puback) == puback[:-1] + bytes([7 ^ 0xFF])
    assert Corrupt(data=b"\x00").corrupted(puback) == b"\x00"


def test_the_clients_fin_goes_on_and_the_brokers_end_is_logged(proxy: FaultProxy, watcher: Observer) -> None:
    """A client's DISCONNECT and FIN reach the broker, and the broker's own close comes back as its
    EOF in the wire log: that is how a case knows the broker took the DISCONNECT in before it
    publishes to the session that went offline (suites/test_qos.py). The broker closes on the
    DISCONNECT, so its EOF may be logged before or after the client's (both are). A FIN alone shows
    that the FIN goes on: the broker can close only once it got it, so its EOF comes after."""
    for disconnect in (True, False):
        mark = proxy.log.mark()
        with socket.create_connection((proxy.host, proxy.port), timeout=WAIT) as sock:
            sock.sendall(codec.encode(codec.Connect(f"half-close-{disconnect}", clean_session=False)))
            conn = proxy.log.wait_for(direction=B2C, type=codec.ConnAck, since=mark).conn
            if disconnect:
                sock.sendall(codec.encode(codec.Disconnect()))
            sock.shutdown(socket.SHUT_WR)
            # within half the proxy's half-close window: a proxy that held the FIN back until it
            # ends both sides itself (HALF_CLOSE_S) would be too late
            ended = proxy.log.wait_for(type="EOF", direction=B2C, conn=conn, timeout=HALF_CLOSE_S / 2)
        assert ended.note == "the broker closed"
        client_eof = proxy.log.wait_for(type="EOF", direction=C2B, conn=conn)
        assert client_eof.note == "the client closed"
        if not disconnect:
            assert client_eof.seq < ended.seq
