"""The emulator's MQTT side (3.3.2-3.3.8, chapter 5) over the real transport.

The emulator runs as a subprocess (`python -m harness.emulator --tcp 127.0.0.1:0`) and is
driven with the AT channel. End-to-end cases use the embedded broker and an observer client;
timer, retry, DUP and CONNACK cases use the scripted peer (harness.peer), scripted step by step
to withhold acknowledgements, never answer PINGREQ or close the socket (a real broker cannot be
told to misbehave). Where a step of the script races a module timer, <pkt_timeout> is 4 module
seconds (200 ms), as in tests/peer/test_scripted_peer.py. Time scale 0.05: one module second is 50 ms.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.at.channel import ATChannel
from harness.at.errors import ATTimeout
from harness.broker.embedded import EmbeddedBroker
from harness.broker.observer import Observer
from harness.emulator.mqtt_client import MqttClient
from harness.emulator.mqtt_types import ConnectParams, Delivered, Retry, SendResult
from harness.mqtt import codec
from harness.peer import Connection, ScriptedPeer

pytestmark = pytest.mark.timeout(30)

SCALE = 0.05
WAIT = 3.0  # real seconds for any URC (module timers here are a few x 50 ms)


# --- fixtures --------------------------------------------------------------------------------


# `emulator` (at SCALE), `at` and `amqtt_broker`: tests/conftest.py


@pytest.fixture
def observer(amqtt_broker: EmbeddedBroker) -> Iterator[Observer]:
    obs = Observer(amqtt_broker.host, amqtt_broker.port).connect()
    for q in (0, 1, 2):  # one topic per QoS: amqtt delivers at the subscription's QoS
        obs.subscribe(f"e2e/q{q}/#", q)
    yield obs
    obs.close()


def cmd_ok(at: ATChannel, line: str) -> None:
    r = at.command(line)
    assert r.ok, f"{line} -> {r.final}"


def urc(at: ATChannel, name: str, timeout: float = WAIT) -> list[int | str]:
    return at.wait_urc(name, timeout).args


def open_conn(at: ATChannel, port: int, cid: int = 0, client_id: str = "emu",
              peer: ScriptedPeer | None = None) -> Connection | None:
    """AT+QMTOPEN and AT+QMTCONN; with `peer`, it accepts and answers CONNACK 0 (its connection returned)."""
    cmd_ok(at, f'AT+QMTOPEN={cid},"127.0.0.1",{port}')
    assert urc(at, "+QMTOPEN") == [cid, 0]
    link = peer.accept() if peer is not None else None
    cmd_ok(at, f'AT+QMTCONN={cid},"{client_id}"')
    if link is not None:
        link.handshake()
    assert urc(at, "+QMTCONN") == [cid, 0, 0]
    return link


def scripted(**kw: Any) -> ScriptedPeer:
    """The scripted peer as these cases use it: PINGREQ answered unless a case says otherwise."""
    return ScriptedPeer(**{"default_timeout": WAIT, "auto_pingresp": True, **kw})


def open_peer(at: ATChannel, peer: ScriptedPeer, cid: int = 0, client_id: str = "emu") -> Connection:
    link = open_conn(at, peer.port, cid, client_id, peer)
    assert link is not None
    return link


def set_timeout(at: ATChannel, cid: int, pkt_timeout: int, retries: int, notice: int) -> None:
    cmd_ok(at, f'AT+QMTCFG="timeout",{cid},{pkt_timeout},{retries},{notice}')


# --- end to end against the embedded broker ------------------------------------------------


def test_full_session_qos012_three_publish_forms(at: ATChannel, amqtt_broker: EmbeddedBroker,
                                                  observer: Observer) -> None:
    """3.3.2-3.3.8 and the chapter 6 example: open, connect, sub, pub, recv, uns, disc."""
    open_conn(at, amqtt_broker.port)
    assert at.command("AT+QMTOPEN?").lines == [f'+QMTOPEN: 0,"127.0.0.1",{amqtt_broker.port}']
    assert at.command("AT+QMTCONN?").lines == ["+QMTCONN: 0,3"]
    cmd_ok(at, 'AT+QMTSUB=0,1,"e2e/in",0,"e2e/in2",2')  # QoS 0: amqtt sends at the granted QoS
    assert urc(at, "+QMTSUB") == [0, 1, 0, 0, 2]
    # QoS 0 in data mode (Ctrl+Z), msgID 0 as 3.3.8 asks
    assert at.send_data('AT+QMTPUB=0,0,0,0,"e2e/q0/a"', b"zero, with comma").ok
    assert urc(at, "+QMTPUB") == [0, 0, 0]
    m = observer.wait_message("e2e/q0/a", WAIT)
    assert (m.payload, m.qos, m.retain) == (b"zero, with comma", 0, False)
    # QoS 1 fixed length in data mode, retained
    assert at.send_data('AT+QMTPUB=0,5,1,1,"e2e/q1/b",6', b"\x01\x02abc\xff", end=None).ok
    assert urc(at, "+QMTPUB") == [0, 5, 0]
    m = observer.wait_message("e2e/q1/b", WAIT)
    assert (m.payload, m.qos) == (b"\x01\x02abc\xff", 1)
    with Observer(amqtt_broker.host, amqtt_broker.port).connect() as late:  # [MQTT-3.3.1-9]: only a new
        late.subscribe("e2e/q1/b", 1)  # subscriber sees RETAIN=1
        m = late.wait_message("e2e/q1/b", WAIT)
        assert (m.payload, m.retain) == (b"\x01\x02abc\xff", True)
        late.publish("e2e/q1/b", b"", qos=1, retain=True)  # clear the retained message
    # QoS 2 inline (chapter 6's JSON payload with quotes and commas)
    cmd_ok(at, 'AT+QMTPUB=0,6,2,0,"e2e/q2/c",17,"{"a":"1","b":"2"}"')
    assert urc(at, "+QMTPUB") == [0, 6, 0]
    m = observer.wait_message("e2e/q2/c", WAIT)
    assert (m.payload, m.qos) == (b'{"a":"1","b":"2"}', 2)
    # inbound: chapter 5.2 +QMTRECV, topic and payload quoted
    observer.publish("e2e/in", b"hello, module", qos=0)
    assert at.wait_urc("+QMTRECV", WAIT).line == '+QMTRECV: 0,0,"e2e/in","hello, module"'
    cmd_ok(at, 'AT+QMTUNS=0,2,"e2e/in"')
    assert urc(at, "+QMTUNS") == [0, 2, 0]
    observer.publish("e2e/in", b"after unsubscribe", qos=0)
    observer.publish("e2e/in2", b"marker", qos=0)  # still subscribed: arrives after the above
    assert at.wait_urc("+QMTRECV", WAIT).args[2:] == ["e2e/in2", "marker"]
    assert [u.line for u in at.drain_urcs() if u.name == "+QMTRECV"] == []
    cmd_ok(at, "AT+QMTDISC=0")
    assert urc(at, "+QMTDISC") == [0, 0]
    assert at.command("AT+QMTOPEN?").lines == []  # 3.3.5: the TCP connection is gone too
    with pytest.raises(ATTimeout):  # DECIDED: no +QMTSTAT after AT+QMTDISC (chapter 6)
        at.wait_urc("+QMTSTAT", 0.3)


def test_qmtrecv_showrecvlen_and_hex_formats(at: ATChannel, amqtt_broker: EmbeddedBroker,
                                             observer: Observer) -> None:
    """5.2 <payload_len> with showrecvlen 1; dataformat 1,1: hex in (3.3.8) and hex out."""
    cmd_ok(at, 'AT+QMTCFG="showrecvlen",0,1')
    cmd_ok(at, 'AT+QMTCFG="dataformat",0,1,1')
    open_conn(at, amqtt_broker.port)
    cmd_ok(at, 'AT+QMTSUB=0,3,"e2e/hex",0')
    assert urc(at, "+QMTSUB") == [0, 3, 0, 0]
    observer.publish("e2e/hex", b"\x00AB\xff", qos=0)
    assert at.wait_urc("+QMTRECV", WAIT).line == '+QMTRECV: 0,0,"e2e/hex",4,"004142FF"'
    cmd_ok(at, 'AT+QMTPUB=0,0,0,0,"e2e/q0/hex",3,"00ff41"')
    assert urc(at, "+QMTPUB") == [0, 0, 0]
    assert observer.wait_message("e2e/q0/hex", WAIT).payload == b"\x00\xffA"
    assert at.command('AT+QMTPUB=0,0,0,0,"e2e/q0/hex",2,"zz00"').final == "+CME ERROR: 8507"
    cmd_ok(at, 'AT+QMTCFG="showrecvlen",0,0')
    cmd_ok(at, 'AT+QMTCFG="dataformat",0,0,0')
    observer.publish("e2e/hex", b"plain", qos=0)
    assert at.wait_urc("+QMTRECV", WAIT).line == '+QMTRECV: 0,0,"e2e/hex","plain"'


@pytest.mark.parametrize("show_len", [0, 1])
def test_qmtrecv_payload_with_line_ends_reaches_the_host_whole(at: ATChannel, amqtt_broker: EmbeddedBroker,
                                                               observer: Observer, show_len: int) -> None:
    """5.2 <payload>: the message as published, pretty-printed JSON with CR/LF and quotes; the
    module sends it as is and the AT channel gives it back whole, with or without <payload_len>."""
    cmd_ok(at, f'AT+QMTCFG="showrecvlen",0,{show_len}')
    open_conn(at, amqtt_broker.port)
    cmd_ok(at, 'AT+QMTSUB=0,4,"e2e/lines",0')
    assert urc(at, "+QMTSUB") == [0, 4, 0, 0]
    message = b'{\r\n  "a": "1",\r\n  "b": 2\n}'
    observer.publish("e2e/lines", message, qos=0)
    got = at.wait_urc("+QMTRECV", WAIT).args
    assert got == [0, 0, "e2e/lines", *([len(message)] if show_len else []), message.decode()]
    assert at.command("AT").ok  # and the lines after it are still framed as they should be


def test_pub_data_mode_truncates_at_1460_and_esc_cancels(at: ATChannel, amqtt_broker: EmbeddedBroker,
                                                          observer: Observer) -> None:
    """3.3.8 NOTE 2: data beyond 1460 bytes is omitted; Esc cancels (DECIDED: OK, no URC)."""
    open_conn(at, amqtt_broker.port)
    data = bytes(range(33, 123)) * 17  # 1530 printable bytes
    assert at.send_data('AT+QMTPUB=0,0,0,0,"e2e/q0/big"', data).ok
    assert urc(at, "+QMTPUB") == [0, 0, 0]
    assert observer.wait_message("e2e/q0/big", WAIT).payload == data[:1460]
    r = at.send_data('AT+QMTPUB=0,9,1,0,"e2e/q1/esc"', b"never sent", end=b"\x1b")
    assert r.ok
    observer.expect_no_message("e2e/q1/esc", within=0.3)
    assert [u for u in at.drain_urcs() if u.name == "+QMTPUB"] == []


def test_parameter_errors_and_states(at: ATChannel, amqtt_broker: EmbeddedBroker) -> None:
    """Range/type errors -> +CME ERROR: 8507; wrong state -> 8503 (both DECIDED)."""
    for line in ('AT+QMTOPEN=5,"127.0.0.1",1883', 'AT+QMTOPEN=0,"127.0.0.1",0',
                 'AT+QMTOPEN=0,"127.0.0.1",65536', f'AT+QMTOPEN=0,"{"h" * 101}",1883',
                 "AT+QMTOPEN=0,127.0.0.1,1883", 'AT+QMTOPEN=0,"127.0.0.1"'):
        assert at.command(line).final == "+CME ERROR: 8507", line
    assert at.command('AT+QMTCONN=0,"x"').final == "+CME ERROR: 8503"  # not open
    assert at.command('AT+QMTPUB=0,0,0,0,"t",1,"x"').final == "+CME ERROR: 8503"
    cmd_ok(at, "AT+QMTCLOSE=1")
    assert urc(at, "+QMTCLOSE") == [1, -1]
    cmd_ok(at, "AT+QMTDISC=1")
    assert urc(at, "+QMTDISC") == [1, -1]
    open_conn(at, amqtt_broker.port)
    for line in ('AT+QMTPUB=0,0,1,0,"t",1,"x"',  # msgID 0 at QoS 1
                 'AT+QMTPUB=0,1,3,0,"t",1,"x"', 'AT+QMTPUB=0,1,1,2,"t",1,"x"',
                 'AT+QMTPUB=0,1,1,0,"t",1461,"x"', 'AT+QMTPUB=0,1,1,0,"t",2,"x"',
                 'AT+QMTSUB=0,0,"t",1', 'AT+QMTSUB=0,1,"t",3', 'AT+QMTSUB=0,1,"t"',
                 'AT+QMTUNS=0,65536,"t"', 'AT+QMTCONN=0,"again"'):
        want = "+CME ERROR: 8503" if "CONN" in line else "+CME ERROR: 8507"
        assert at.command(line).final == want, line
    assert at.command("AT+QMTPUB=?").lines == [
        "+QMTPUB: (0-4),(0-65535),(0-2),(0,1),<topic>,(0-1460),<msg>"]
    assert at.command("AT+QMTCONN=?").lines == ["+QMTCONN: (0-4),<clientID>,<username>,<password>"]
    assert at.command("AT+QMTOPEN=?").lines == ["+QMTOPEN: (0-4),<host_name>,(1-65535)"]
    cmd_ok(at, "AT+QMTCLOSE=0")
    assert urc(at, "+QMTCLOSE") == [0, 0]
    assert at.command("AT+QMTOPEN?").lines == []


def test_open_results_occupied_dns_refused(at: ATChannel, amqtt_broker: EmbeddedBroker) -> None:
    """3.3.2 <result>: 2 socket occupied, 4 DNS failure, -1 refused, 1 invalid host name."""
    cmd_ok(at, f'AT+QMTOPEN=2,"127.0.0.1",{amqtt_broker.port}')
    assert urc(at, "+QMTOPEN") == [2, 0]
    cmd_ok(at, f'AT+QMTOPEN=2,"127.0.0.1",{amqtt_broker.port}')
    assert urc(at, "+QMTOPEN") == [2, 2]
    cmd_ok(at, 'AT+QMTOPEN=3,"no-such-host.invalid",1883')
    assert urc(at, "+QMTOPEN") == [3, 4]
    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        cmd_ok(at, f'AT+QMTOPEN=4,"127.0.0.1",{s.getsockname()[1]}')
        assert urc(at, "+QMTOPEN") == [4, -1]
    cmd_ok(at, 'AT+QMTOPEN=1,"bad host",1883')
    assert urc(at, "+QMTOPEN") == [1, 1]
    assert at.command("AT+QMTCONN?").lines == ["+QMTCONN: 2,1"]


# --- timers, retries and failures against the scripted peer ------------------------------------


@pytest.mark.parametrize("code", [1, 2, 3, 4, 5])
def test_connack_refusal_passed_through(at: ATChannel, code: int) -> None:
    """3.3.4 <ret_code> 1..5 as sent by the server; then the link closes (DECIDED: +QMTSTAT 4)."""
    with scripted() as peer:
        cmd_ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
        assert urc(at, "+QMTOPEN") == [0, 0]
        link = peer.accept()
        cmd_ok(at, 'AT+QMTCONN=0,"c","user","secret"')
        conn = link.handshake(return_code=code, close_on_refusal=False)  # the module closes
        assert urc(at, "+QMTCONN") == [0, 0, code]
        assert urc(at, "+QMTSTAT") == [0, 4]
        assert (conn.username, conn.password, conn.protocol_level) == ("user", b"secret", 4)
        assert codec.validate(conn) == []


def test_connack_timeout_gives_2_then_qmtstat_4(at: ATChannel) -> None:
    """Figure 1 Excep1: CONNECT is not resent; after <pkt_timeout> x (<retry_times>+1) -> 2."""
    set_timeout(at, 0, 2, 1, 1)
    with scripted() as peer:
        cmd_ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
        assert urc(at, "+QMTOPEN") == [0, 0]
        link = peer.accept()
        t0 = time.monotonic()
        cmd_ok(at, 'AT+QMTCONN=0,"c"')
        link.expect(codec.Connect)  # and no CONNACK
        assert urc(at, "+QMTCONN") == [0, 2]
        assert time.monotonic() - t0 >= 2 * 2 * SCALE * 0.9
        assert urc(at, "+QMTSTAT") == [0, 4]
        assert len(link.received(codec.Connect)) == 1


def test_publish_retransmitted_with_dup_then_fails(at: ATChannel) -> None:
    """Figure 1 Excep2 + 3.3.8 <result> 1/2: DUP=1, same packet id, notices, then 2 and
    +QMTSTAT 6 (DECIDED: retries exhausted = "constant packet sending failures")."""
    set_timeout(at, 0, 4, 2, 1)
    with scripted() as peer:
        link = open_peer(at, peer)
        cmd_ok(at, 'AT+QMTPUB=0,42,1,0,"t/r",3,"abc"')  # no PUBACK, ever
        assert urc(at, "+QMTPUB") == [0, 42, 1, 1]
        assert urc(at, "+QMTPUB") == [0, 42, 1, 2]
        assert urc(at, "+QMTPUB") == [0, 42, 2]
        assert urc(at, "+QMTSTAT") == [0, 6]
        pubs = [link.expect(codec.Publish) for _ in range(3)]
        assert [(p.dup, p.packet_id, p.payload) for p in pubs] == [
            (False, 42, b"abc"), (True, 42, b"abc"), (True, 42, b"abc")]
        assert at.command("AT+QMTOPEN?").lines == []


def test_qos2_pubrel_retransmitted_and_notice_off(at: ATChannel) -> None:
    """QoS 2: a lost PUBCOMP makes PUBREL go again (flags 0b0010, no DUP); with
    timeout_notice 0 no result-1 URC is shown, then the final result is 0."""
    set_timeout(at, 0, 4, 2, 0)
    with scripted() as peer:
        link = open_peer(at, peer)
        cmd_ok(at, 'AT+QMTPUB=0,7,2,1,"t/q2",2,"hi"')
        link.send(codec.PubRec(link.expect(codec.Publish).packet_id or 0))
        link.expect(codec.PubRel)  # its PUBCOMP withheld
        link.send(codec.PubComp(link.expect(codec.PubRel).packet_id))
        assert urc(at, "+QMTPUB") == [0, 7, 0]
        rels = [r.packet for r in link.received(codec.PubRel)]
        assert [(r.packet_id, r.flags) for r in rels] == [(7, 0b0010), (7, 0b0010)]
        (pub,) = [r.packet for r in link.received(codec.Publish)]
        assert (pub.qos, pub.retain, pub.dup, pub.packet_id) == (2, True, False, 7)


def test_subscribe_retry_and_rejected_grant(at: ATChannel) -> None:
    """3.3.6: SUBSCRIBE resent after T1 (`+QMTSUB: <id>,<msgID>,1,<count>`), SUBACK 0x80
    reported as 128; 3.3.7 UNSUBSCRIBE retransmission shown without a count (DECIDED)."""
    set_timeout(at, 0, 4, 3, 1)
    with scripted() as peer:
        link = open_peer(at, peer)
        cmd_ok(at, 'AT+QMTSUB=0,9,"ok/t",1,"deny/t",2')
        subs = [link.expect(codec.Subscribe) for _ in range(2)]  # the first SUBACK withheld
        link.send(codec.SubAck(subs[1].packet_id, [0x80 if t.startswith("deny") else q for t, q in subs[1].topics]))
        assert urc(at, "+QMTSUB") == [0, 9, 1, 1]
        assert urc(at, "+QMTSUB") == [0, 9, 0, 1, 128]
        assert subs[0] == subs[1] and subs[0].packet_id == 9
        cmd_ok(at, 'AT+QMTUNS=0,10,"ok/t"')
        link.expect(codec.Unsubscribe)  # its UNSUBACK withheld
        link.send(codec.UnsubAck(link.expect(codec.Unsubscribe).packet_id))
        assert urc(at, "+QMTUNS") == [0, 10, 1]
        assert urc(at, "+QMTUNS") == [0, 10, 0]


def test_keepalive_pingreq_and_missing_pingresp(at: ATChannel) -> None:
    """Figure 1 T2: PINGREQ after keep-alive seconds of silence; no PINGRESP -> +QMTSTAT 2."""
    cmd_ok(at, 'AT+QMTCFG="keepalive",0,2')
    set_timeout(at, 0, 4, 0, 0)
    with scripted(auto_pingresp=False) as peer:
        link = open_peer(at, peer)
        t_conn = link.received(codec.Connect)[0].t
        link.expect(codec.PingReq)
        assert link.received(codec.PingReq)[0].t - t_conn >= 2 * SCALE * 0.9
        assert link.received(codec.Connect)[0].packet.keepalive == 2
        assert urc(at, "+QMTSTAT") == [0, 2]
        assert at.command("AT+QMTCONN?").lines == []


def test_keepalive_answered_keeps_link(at: ATChannel) -> None:
    cmd_ok(at, 'AT+QMTCFG="keepalive",0,1')
    with scripted(auto_pingresp=False) as peer:
        link = open_peer(at, peer)
        for _ in range(3):
            link.answer_ping()  # answered each time, so pinging goes on
        assert at.command("AT+QMTCONN?").lines == ["+QMTCONN: 0,3"]
        assert [u for u in at.drain_urcs() if u.name == "+QMTSTAT"] == []


def test_peer_close_reports_qmtstat_1(at: ATChannel) -> None:
    with scripted() as peer:
        open_peer(at, peer, cid=3).close()
        assert urc(at, "+QMTSTAT") == [3, 1]
        assert at.command("AT+QMTOPEN?").lines == []


def radio_off_while_open(at: ATChannel, peer: ScriptedPeer, *, connect: bool) -> Connection:
    """Open (and connect) on 0, then AT+CFUN=0: the TCP connection stays, the bearer is gone."""
    if connect:
        link = open_peer(at, peer)
    else:
        cmd_ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
        assert urc(at, "+QMTOPEN") == [0, 0]
        link = peer.accept()
    cmd_ok(at, "AT+CFUN=0")
    return link


def test_connect_that_cannot_be_sent_reports_qmtstat_3(at: ATChannel) -> None:
    """Table 4 code 3 "Sending CONNECT packet timed out or failed": the radio goes off between
    AT+QMTOPEN and AT+QMTCONN, so CONNECT cannot leave the module: 3.3.4 <result> 2 "Failed to
    send packet", then +QMTSTAT: 0,3 and the ID is closed; the server never saw a packet."""
    with scripted() as peer:
        link = radio_off_while_open(at, peer, connect=False)
        cmd_ok(at, 'AT+QMTCONN=0,"emu"')
        assert urc(at, "+QMTCONN") == [0, 2]
        assert urc(at, "+QMTSTAT") == [0, 3]
        assert at.command("AT+QMTOPEN?").lines == []
        assert link.wait_closed(WAIT)
        assert link.log == []
        cmd_ok(at, "AT+CFUN=1")  # radio back: the same ID opens and connects again
        open_peer(at, peer)


def test_pingreq_that_cannot_be_sent_reports_qmtstat_2(at: ATChannel) -> None:
    """Table 4 code 2 "Sending PINGREQ packet timed out or failed", the "failed" half: keep-alive
    falls due with the radio off. (The "timed out" half is test_keepalive_pingreq_and_missing_pingresp.)"""
    cmd_ok(at, 'AT+QMTCFG="keepalive",0,1')
    with scripted() as peer:
        link = radio_off_while_open(at, peer, connect=True)
        assert urc(at, "+QMTSTAT") == [0, 2]
        assert link.received(codec.PingReq) == []
        assert at.command("AT+QMTCONN?").lines == []


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_that_cannot_be_sent_reports_qmtstat_7(at: ATChannel, qos: int) -> None:
    """3.3.8 <result> 2 "Failed to send packet" with the radio off; the module then finds the link
    dead, Table 4 code 7 "The link is not alive" (DECIDED in the emulator: a send that fails at
    once is a dead link, not 6 "constant packet sending failures", which needs retries)."""
    with scripted() as peer:
        link = radio_off_while_open(at, peer, connect=True)
        cmd_ok(at, f'AT+QMTPUB=0,{qos and 1},{qos},0,"t",2,"hi"')
        assert urc(at, "+QMTPUB") == [0, qos and 1, 2]
        assert urc(at, "+QMTSTAT") == [0, 7]
        assert link.received(codec.Publish) == []


def test_reset_closes_sockets(at: ATChannel) -> None:
    """Power-off/reset (AT+QRST=1) closes every MQTT connection; nothing survives it."""
    with scripted() as peer:
        link = open_peer(at, peer, cid=4)
        assert link.closed_how is None
        cmd_ok(at, "AT+QRST=1")
        at.wait_urc("RDY", WAIT)
        assert link.wait_closed(WAIT)
        assert at.command("AT+QMTOPEN?").lines == []


def test_inbound_qos2_delivered_exactly_once(at: ATChannel) -> None:
    """A re-sent PUBLISH (DUP) before PUBREL is acknowledged again but not shown again."""
    with scripted() as peer:
        link = open_peer(at, peer)
        pub = codec.Publish("in/q2", b"once", qos=2, packet_id=77)
        link.send(pub)
        assert at.wait_urc("+QMTRECV", WAIT).line == '+QMTRECV: 0,77,"in/q2","once"'
        link.send(codec.Publish("in/q2", b"once", qos=2, packet_id=77, dup=True))
        for _ in range(2):
            link.expect(codec.PubRec)
        link.send(codec.PubRel(77))
        comp = link.expect(codec.PubComp)
        assert comp.packet_id == 77
        link.send(codec.Publish("in/q1", b"one", qos=1, packet_id=78))
        assert at.wait_urc("+QMTRECV", WAIT).args[:3] == [0, 78, "in/q1"]
        assert link.expect(codec.PubAck).packet_id == 78
        assert [u for u in at.drain_urcs() if u.name == "+QMTRECV"] == []


def test_connect_options_version_will_aliauth(at: ATChannel) -> None:
    """3.3.1 options reach the CONNECT: MQTT 3.1 (MQIsdp/3), will, clean session, and
    Alibaba-derived credentials when user name and password are omitted (NOTE 4)."""
    cmd_ok(at, 'AT+QMTCFG="version",1,0')
    cmd_ok(at, 'AT+QMTCFG="will",1,1,1,1,"w/t","gone"')
    cmd_ok(at, 'AT+QMTCFG="session",1,0')
    cmd_ok(at, 'AT+QMTCFG="aliauth",1,"pk1","dn1","s3cret"')
    with scripted() as peer:
        link = open_peer(at, peer, cid=1, client_id="dev")
        (c,) = [r.packet for r in link.received(codec.Connect)]
        sign = hmac.new(b"s3cret", b"clientIddevdeviceNamedn1productKeypk1", hashlib.sha1).hexdigest()
        assert (c.protocol_name, c.protocol_level, c.clean_session) == ("MQIsdp", 3, False)
        assert (c.will_flag, c.will_topic, c.will_payload, c.will_qos, c.will_retain) == \
            (True, "w/t", b"gone", 1, True)
        assert c.client_id == "dev|securemode=3,signmethod=hmacsha1|"
        assert (c.username, c.password) == ("dn1&pk1", sign.encode())


# --- the engine on its own, against the real broker -----------------------------------------


def test_engine_against_broker(amqtt_broker: EmbeddedBroker) -> None:
    async def scenario() -> list[Delivered]:
        got: list[Delivered] = []
        arrived = asyncio.Event()

        def on_event(ev: object) -> None:
            if isinstance(ev, Delivered):
                got.append(ev)
                arrived.set()

        client = MqttClient(0, lambda: Retry(2.0, 0), on_event)
        assert await client.open("127.0.0.1", amqtt_broker.port, 5.0) == 0
        runner = asyncio.create_task(client.run())
        out = await client.connect(ConnectParams("engine", keepalive=60, keepalive_s=60))
        assert out.result is SendResult.ACKED and out.values == (0,)
        assert (await client.subscribe(1, [("eng/#", 1)])).values == (1,)
        assert (await client.publish(2, "eng/x", b"\x00loop", 1, False)).result is SendResult.ACKED
        await asyncio.wait_for(arrived.wait(), WAIT)
        await client.disconnect()
        await asyncio.wait_for(runner, WAIT)
        return got

    (msg,) = asyncio.run(scenario())
    assert (msg.topic, msg.payload, msg.qos) == ("eng/x", b"\x00loop", 1)
