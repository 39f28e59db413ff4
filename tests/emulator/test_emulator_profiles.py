"""Faulty firmware profiles (harness/emulator/profiles.py): each fault is there with its profile
and absent with `conformant`, over the real transport.

The suites team proves "the suite fails in exactly the intended case" against these profiles,
so this file pins the faults themselves: every test runs the same AT/MQTT exchange against
the conformant firmware and against one faulty firmware and asserts the one difference. The
MQTT side is the scripted peer (harness.peer), which records every packet with its
flags. Time scale 0.05: one module second is 50 ms.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from emulated import emulator_logged, fresh_module

from harness.at.channel import ATChannel
from harness.emulator import profiles
from harness.emulator.launcher import EmulatorProcess
from harness.mqtt import codec
from harness.peer import Connection, Match, ScriptedPeer
from harness.spec.timing import deadline_s

pytestmark = pytest.mark.timeout(30)

SCALE = 0.05
OPEN_WAIT = deadline_s('AT+QMTOPEN=0,"127.0.0.1",1', SCALE)  # 3.3.2: 176 module s
URC_WAIT = deadline_s('AT+QMTPUB=0,1,1,0,"t"', SCALE)  # 3.3.8: <pkt_timeout> x (<retry_times> + 1)
PEER_WAIT = URC_WAIT
EMULATOR_DIR = Path(__file__).resolve().parents[2] / "harness" / "emulator"
OK = profiles.DEFAULT_FIRMWARE


# --- one emulator per firmware, started on first use --------------------------------------------


@pytest.fixture(scope="module")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], EmulatorProcess]]:
    running: dict[str, EmulatorProcess] = {}
    logs = tmp_path_factory.mktemp("emulators")
    with contextlib.ExitStack() as stack:  # at the end: each stopped, and no handler crashed on the way

        def get(firmware: str) -> EmulatorProcess:
            if firmware not in running:
                log = logs / f"{firmware}.log"  # its name says the firmware, should it hold a crash
                running[firmware] = stack.enter_context(emulator_logged(log, SCALE, firmware=firmware))
            return running[firmware]

        yield get


@pytest.fixture
def at(emulators: Callable[[str], EmulatorProcess], firmware: str) -> Iterator[ATChannel]:
    """A freshly reset module of `firmware` (AT+QRST=1: connections closed, defaults back)."""
    with fresh_module(emulators(firmware).url, SCALE) as ch:
        yield ch


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with ScriptedPeer(default_timeout=PEER_WAIT) as p:
        yield p


def pair(fault: str) -> pytest.MarkDecorator:
    """Run the test against `conformant` and against the faulty firmware `fault`."""
    return pytest.mark.parametrize("firmware", [OK, fault])


def ok(at: ATChannel, line: str) -> None:
    r = at.command(line)
    assert r.ok, f"{line} -> {r.final}"


def connect(at: ATChannel, peer: ScriptedPeer) -> Connection:
    """AT+QMTOPEN + AT+QMTCONN to the scripted peer (3.3.2, 3.3.4)."""
    ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
    conn = peer.accept(OPEN_WAIT)
    assert at.wait_urc("+QMTOPEN", OPEN_WAIT).args == [0, 0]
    ok(at, 'AT+QMTCONN=0,"profile"')
    conn.handshake()
    assert at.wait_urc("+QMTCONN", URC_WAIT).args == [0, 0, 0]
    return conn


def publish_with_two_lost_acks(at: ATChannel, peer: ScriptedPeer) -> tuple[list[codec.Publish], list[str]]:
    """QoS 1 PUBLISH whose first two PUBACKs are "lost" (the peer stays silent): the module
    resends after each <pkt_timeout> (Figure 1 Excep2). Returns the three PUBLISHes seen and
    every +QMTPUB URC line up to the final `+QMTPUB: 0,7,0`."""
    ok(at, 'AT+QMTCFG="timeout",0,1,2,1')  # T1 = 1 module s, 2 retries, timeout_notice 1
    conn = connect(at, peer)
    assert at.send_data('AT+QMTPUB=0,7,1,0,"prof/dup",2', b"hi", end=None).ok
    pubs = [conn.expect(Match(codec.Publish, packet_id=7, qos=1)) for _ in range(3)]
    conn.send(codec.PubAck(7))
    final = at.wait_urc("+QMTPUB", deadline_s("AT+QMTPUB=0,7,1,0,\"t\"", SCALE, 1, 2),
                        lambda u: u.args[2:3] == [0])
    earlier = [u.line for u in at.drain_urcs() if u.name == "+QMTPUB"]
    return pubs, [*earlier, final.line]


# --- the faults ------------------------------------------------------------------------------


@pair("no-dup-on-retransmit")
def test_no_dup_on_retransmit(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """Figure 1 Excep2 / [MQTT-3.3.1-1]: a resent PUBLISH carries DUP=1; the fault keeps DUP=0."""
    pubs, _ = publish_with_two_lost_acks(at, peer)
    assert pubs[0].dup is False
    assert [p.dup for p in pubs[1:]] == ([False, False] if firmware != OK else [True, True])


@pair("missing-timeout-notice")
def test_missing_timeout_notice(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """3.3.1 <timeout_notice> 1 / 3.3.8 <result> 1: each retransmission is reported as
    `+QMTPUB: <id>,<msgID>,1,<count>`; the fault reports only the final result."""
    _, urcs = publish_with_two_lost_acks(at, peer)
    notices = [] if firmware != OK else ["+QMTPUB: 0,7,1,1", "+QMTPUB: 0,7,1,2"]
    assert urcs == [*notices, "+QMTPUB: 0,7,0"]


@pair("wrong-error-code")
def test_wrong_error_code(at: ATChannel, firmware: str) -> None:
    """Chapter 4 Table 2: an invalid AT+QMTCFG parameter is 8507 "MQTT invalid parameter";
    the fault answers 8504 "MQTT illegal packet"."""
    code = 8504 if firmware != OK else 8507
    for line in ('AT+QMTCFG="keepalive",0,3601', 'AT+QMTCFG="timeout",0,0', 'AT+QMTCFG="version",5'):
        assert at.command(line).cme_error == code, line
    assert at.command('AT+QMTCFG="keepalive",0,3600').ok  # valid values are not affected


@pair("pkt-timeout-max-61")
def test_pkt_timeout_max_61(at: ATChannel, firmware: str) -> None:
    """3.3.1 <pkt_timeout> "Range: 1–60"; the fault accepts 61 (and still refuses 62)."""
    r = at.command('AT+QMTCFG="timeout",1,61')
    assert (r.ok, r.cme_error) == ((True, None) if firmware != OK else (False, 8507))
    assert at.command('AT+QMTCFG="timeout",1').lines == [f"+QMTCFG: {61 if firmware != OK else 30},0,0"]
    assert at.command('AT+QMTCFG="timeout",1,62').cme_error == 8507
    assert at.command('AT+QMTCFG="timeout",1,60').ok


@pair("qmtrecv-no-len")
def test_qmtrecv_no_len(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """5.2 / 3.3.1 "showrecvlen" 1: +QMTRECV carries <payload_len>; the fault leaves it out."""
    ok(at, 'AT+QMTCFG="showrecvlen",0,1')
    conn = connect(at, peer)
    ok(at, 'AT+QMTSUB=0,1,"prof/in",1')
    conn.ack_subscribe()
    assert at.wait_urc("+QMTSUB", URC_WAIT).args == [0, 1, 0, 1]
    conn.deliver(codec.Publish("prof/in", b"five!", 1, False, False, 9))
    length = "" if firmware != OK else "5,"
    assert at.wait_urc("+QMTRECV", URC_WAIT).line == f'+QMTRECV: 0,9,"prof/in",{length}"five!"'


@pair("no-truncate-1460")
def test_no_truncate_1460(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """3.3.8 NOTE 2: in the Ctrl+Z form "the part of data that exceeds 1460 bytes is omitted";
    the fault publishes all of it."""
    conn = connect(at, peer)
    data = bytes(ord("a") + i % 26 for i in range(1500))
    assert at.send_data('AT+QMTPUB=0,0,0,0,"prof/big"', data).ok
    pub = conn.expect(Match(codec.Publish, topic="prof/big", qos=0))
    assert pub.payload == (data if firmware != OK else data[:1460])
    assert at.wait_urc("+QMTPUB", URC_WAIT).args == [0, 0, 0]


@pair("open-occupied-ok")
def test_open_occupied_ok(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """3.3.2 <result> 2 "The MQTT socket is occupied": a second AT+QMTOPEN on an open connect
    ID; the fault answers 0 (success) although nothing new was opened."""
    ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
    conn = peer.accept(OPEN_WAIT)
    assert at.wait_urc("+QMTOPEN", OPEN_WAIT).args == [0, 0]
    ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
    assert at.wait_urc("+QMTOPEN", OPEN_WAIT).args == [0, 0 if firmware != OK else 2]
    assert conn.state == "connection open"  # the first connection is untouched either way
    assert at.command("AT+QMTOPEN?").lines == [f'+QMTOPEN: 0,"127.0.0.1",{peer.port}']


@pair("sub-no-granted-qos")
def test_sub_no_granted_qos(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """3.3.6 `+QMTSUB: <id>,<msgID>,<result>[,<value>]`: <value> lists the granted QoS of each
    topic (128 for a refused one); the fault prints no vector."""
    conn = connect(at, peer)
    ok(at, 'AT+QMTSUB=0,4,"prof/a",2,"prof/b",1')
    conn.ack_subscribe([1, 0x80])
    want = "+QMTSUB: 0,4,0" if firmware != OK else "+QMTSUB: 0,4,0,1,128"
    assert at.wait_urc("+QMTSUB", URC_WAIT).line == want


@pair("wrong-keepalive-default")
def test_wrong_keepalive_default(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """3.3.1 <keep_alive_time> "Default value: 120": the query and the CONNECT both show it."""
    want = 60 if firmware != OK else 120
    assert at.command('AT+QMTCFG="keepalive",0').lines == [f"+QMTCFG: {want}"]
    ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
    conn = peer.accept(OPEN_WAIT)
    assert at.wait_urc("+QMTOPEN", OPEN_WAIT).args == [0, 0]
    ok(at, 'AT+QMTCONN=0,"profile"')
    assert conn.handshake().keepalive == want


@pair("keepalive-off-by-one")
def test_keepalive_off_by_one(at: ATChannel, firmware: str) -> None:
    """3.3.1 <keep_alive_time> "Range: 0–3600"; the fault accepts 3601 (not 3602)."""
    r = at.command('AT+QMTCFG="keepalive",0,3601')
    assert (r.ok, r.cme_error) == ((True, None) if firmware != OK else (False, 8507))
    assert at.command('AT+QMTCFG="keepalive",0,3602').cme_error == 8507


@pair("qmtstat-peer-close-7")
def test_qmtstat_peer_close_7(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """5.1 Table 4 "1 Connection is closed or reset by its remote peer"; the fault reports 7 "The
    link is not alive" instead (other losses keep their codes)."""
    conn = connect(at, peer)
    conn.close()
    assert at.wait_urc("+QMTSTAT", URC_WAIT).args == [0, 7 if firmware != OK else 1]


# --- issue 15: the MQTT 3.1.1 client duties of the yardsticks (suites/test_yardstick_gaps.py,
# suites/test_retransmission.py) --------------------------------------------------------------------


@pair("connack-bad-flags-accepted")
def test_connack_bad_flags_accepted(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """[MQTT-2.2.2-2]: a CONNACK with fixed-header flags 1111 makes the client close the link (then
    +QMTSTAT, chapter 5); the fault takes it for a CONNACK 0 and stays connected."""
    ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
    conn = peer.accept(OPEN_WAIT)
    assert at.wait_urc("+QMTOPEN", OPEN_WAIT).args == [0, 0]
    ok(at, 'AT+QMTCONN=0,"profile"')
    conn.expect(codec.Connect)
    conn.send_raw(bytes([0x2F, 0x02, 0x00, 0x00]))
    if firmware == OK:
        conn.wait_closed()
        assert at.wait_urc("+QMTSTAT", URC_WAIT).args == [0, 4]
    else:
        assert at.wait_urc("+QMTCONN", URC_WAIT).args == [0, 0, 0]
        assert conn.state == "connection open"


@pair("puback-on-qos0")
def test_puback_on_qos0(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """[MQTT-3.3.4-1]: nothing answers a QoS 0 PUBLISH; the fault sends PUBACK (packet id 0)."""
    conn = connect(at, peer)
    conn.send(codec.Publish("prof/q0", b"x", 0, False, False, None))
    assert at.wait_urc("+QMTRECV", URC_WAIT).args[:3] == [0, 0, "prof/q0"]
    conn.send(codec.Publish("prof/q1", b"y", 1, False, False, 5))
    first = conn.expect(codec.PubAck)
    assert first.packet_id == (0 if firmware != OK else 5)


@pair("connect-will-after-credentials")
def test_connect_will_after_credentials(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """[MQTT-3.1.3-1]: client id, will topic, will message, user name, password; the fault puts the
    credentials where the will belongs (the flags stay right)."""
    ok(at, 'AT+QMTCFG="will",0,1,0,0,"prof/will","bye"')
    ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
    conn = peer.accept(OPEN_WAIT)
    assert at.wait_urc("+QMTOPEN", OPEN_WAIT).args == [0, 0]
    ok(at, 'AT+QMTCONN=0,"profile","user","pw"')
    c = conn.handshake()
    want = ("prof/will", b"bye", "user", b"pw") if firmware == OK else ("user", b"pw", "prof/will", b"bye")
    assert (c.will_topic, c.will_payload, c.username, c.password) == want
    assert c.will_flag and c.username is not None and c.password is not None


@pair("empty-client-id-clean-0")
def test_empty_client_id_clean_0(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """[MQTT-3.1.3-7]: a zero-byte client id needs CleanSession 1; with "session" 0 the conformant
    firmware refuses AT+QMTCONN=0,"" (8507), the fault sends CONNECT with CleanSession 0."""
    ok(at, 'AT+QMTCFG="session",0,0')
    ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
    conn = peer.accept(OPEN_WAIT)
    assert at.wait_urc("+QMTOPEN", OPEN_WAIT).args == [0, 0]
    r = at.command('AT+QMTCONN=0,""')
    if firmware == OK:
        assert r.cme_error == 8507
    else:
        assert r.ok
        c = conn.expect(codec.Connect)
        assert (c.client_id, c.clean_session) == ("", False)


def _cut_qos1_flow(at: ATChannel, peer: ScriptedPeer, clean_after: int) -> Connection:
    """QoS 1 PUBLISH on a CleanSession 0 connection, the link reset before PUBACK; then "session"
    `clean_after` and a reconnect that the peer accepts with session present."""
    ok(at, 'AT+QMTCFG="session",0,0')
    conn = connect(at, peer)
    ok(at, 'AT+QMTPUB=0,9,1,0,"prof/rd",2,"hi"')
    conn.expect(Match(codec.Publish, packet_id=9, dup=False))
    conn.reset()
    assert at.wait_urc("+QMTSTAT", URC_WAIT).args[0] == 0
    ok(at, f'AT+QMTCFG="session",0,{clean_after}')
    ok(at, f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}')
    again = peer.accept(OPEN_WAIT)
    assert at.wait_urc("+QMTOPEN", OPEN_WAIT).args == [0, 0]
    ok(at, 'AT+QMTCONN=0,"profile"')
    again.handshake(session_present=not clean_after)
    assert at.wait_urc("+QMTCONN", URC_WAIT).args == [0, 0, 0]
    return again


@pair("no-redelivery-on-reconnect")
def test_no_redelivery_on_reconnect(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """[MQTT-4.4.0-1]: reconnected with CleanSession 0, the unacknowledged PUBLISH goes out again
    (DUP=1, same id) before the next command's; the fault keeps no session state."""
    conn = _cut_qos1_flow(at, peer, 0)
    ok(at, 'AT+QMTPUB=0,0,0,0,"prof/next",1,"n"')
    nxt = conn.expect(codec.Publish)
    want = ("prof/rd", 9, True) if firmware == OK else ("prof/next", None, False)
    assert (nxt.topic, nxt.packet_id, nxt.dup) == want


@pair("session-kept-on-clean")
def test_session_kept_on_clean(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """[MQTT-3.1.2-6]: reconnected with CleanSession 1, nothing of the old session goes out; the fault
    re-sends its unacknowledged PUBLISH."""
    conn = _cut_qos1_flow(at, peer, 1)
    ok(at, 'AT+QMTPUB=0,0,0,0,"prof/next",1,"n"')
    assert conn.expect(codec.Publish).topic == ("prof/next" if firmware == OK else "prof/rd")


@pair("inflight-msgid-reused")
def test_inflight_msgid_reused(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """[MQTT-2.3.1-2] / 3.3.8: a <msgID> still in flight is refused (8507); the fault sends a new
    PUBLISH with the same packet id while the first is unacknowledged."""
    conn = connect(at, peer)
    ok(at, 'AT+QMTPUB=0,3,1,0,"prof/a",1,"a"')
    conn.expect(Match(codec.Publish, packet_id=3))
    r = at.command('AT+QMTPUB=0,3,1,0,"prof/b",1,"b"')
    if firmware == OK:
        assert r.cme_error == 8507
    else:
        assert r.ok
        assert conn.expect(Match(codec.Publish, packet_id=3)).topic == "prof/b"


@pair("pubrel-dup-on-retransmit")
def test_pubrel_dup_on_retransmit(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """Figure 1 Excep2 / [MQTT-3.6.1-1]: a re-sent PUBREL is the same packet, flags 0010; the fault
    sets the DUP bit on the resend (1010)."""
    ok(at, 'AT+QMTCFG="timeout",0,1,1,0')  # T1 = 1 module s, 1 retry
    conn = connect(at, peer)
    ok(at, 'AT+QMTPUB=0,8,2,0,"prof/rel",1,"r"')
    conn.expect(Match(codec.Publish, packet_id=8))
    conn.send(codec.PubRec(8))
    rels = [conn.expect(Match(codec.PubRel, packet_id=8)) for _ in range(2)]
    assert [r.flags for r in rels] == [0b0010, 0b0010 if firmware == OK else 0b1010]


@pair("pub-wildcard-topic-sent")
def test_pub_wildcard_topic_sent(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """[MQTT-3.3.2-2]: no wildcard in a PUBLISH topic name; AT+QMTPUB with one is refused (8505, DECIDED),
    the fault publishes it."""
    conn = connect(at, peer)
    r = at.command('AT+QMTPUB=0,0,0,0,"prof/+/x",1,"w"')
    if firmware == OK:
        assert r.cme_error == 8505
    else:
        assert r.ok
        assert conn.expect(codec.Publish).topic == "prof/+/x"


@pair("utf8-passthrough")
def test_utf8_passthrough(at: ATChannel, peer: ScriptedPeer, firmware: str) -> None:
    """[MQTT-1.5.3-1]/[MQTT-1.5.3-2]: a <topic> that is not UTF-8 is refused with 8506, one holding
    U+0000 with 8505 (DECIDED); the fault publishes both as they are."""
    conn = connect(at, peer)
    bad = b"\xff\xfe".decode("utf-8", "surrogateescape")  # crosses the UART as the raw bytes ff fe
    for topic, code in ((f"prof/{bad}", 8506), ("prof/\x00", 8505)):
        r = at.command(f'AT+QMTPUB=0,0,0,0,"{topic}",1,"u"')
        if firmware == OK:
            assert r.cme_error == code, r.final
        else:
            assert r.ok, r.final
            assert conn.expect(codec.Publish).topic == topic


# --- the registry --------------------------------------------------------------------------------

COVERED = {"no-dup-on-retransmit", "missing-timeout-notice", "wrong-error-code", "pkt-timeout-max-61",
           "qmtrecv-no-len", "no-truncate-1460", "open-occupied-ok", "sub-no-granted-qos",
           "wrong-keepalive-default", "keepalive-off-by-one", "qmtstat-peer-close-7",
           "connack-bad-flags-accepted", "puback-on-qos0", "connect-will-after-credentials",
           "empty-client-id-clean-0", "no-redelivery-on-reconnect", "session-kept-on-clean",
           "inflight-msgid-reused", "pubrel-dup-on-retransmit", "pub-wildcard-topic-sent",
           "utf8-passthrough"}


def test_every_faulty_profile_has_a_fault_test_here() -> None:
    """A new profile without a test proving its fault fails here (the suites team relies on them)."""
    assert {p.name for p in profiles.faulty()} == COVERED


def test_profiles_are_introspectable_and_tell_apart_by_revision() -> None:
    revisions = [p.revision for p in profiles.PROFILES.values()]
    assert len(set(revisions)) == len(revisions)
    assert profiles.PROFILES[OK].revision == "BC660KGLAAR01A05" and not profiles.PROFILES[OK].faulty
    for p in profiles.faulty():
        assert re.fullmatch(r"BC660KGL\w+", p.revision), p  # the shape suites/test_general.py checks
        assert p.summary.startswith("fault: ") and "\n" not in p.summary
        assert re.search(r"\d\.\d|Figure|chapter", p.section), p
        assert p.section in p.summary and p.where


def test_each_switch_is_checked_in_exactly_one_place() -> None:
    """A switch named in a profile is read by exactly one `.has("<name>")` in the emulator."""
    source = "\n".join(f.read_text() for f in sorted(EMULATOR_DIR.glob("*.py")))
    asked = re.findall(r'\.has\("([^"]+)"\)', source)
    switches = {s for p in profiles.PROFILES.values() for s in p.switches}
    for s in switches:
        assert asked.count(s) == 1, f"switch {s!r} is checked {asked.count(s)} times"


@pytest.mark.parametrize("firmware", [OK, "sub-no-granted-qos"])
def test_ati_and_cgmr_report_the_profile_revision(at: ATChannel, firmware: str) -> None:
    rev = profiles.get(firmware).revision
    assert at.command("ATI").lines[2] == f"Revision: {rev}"
    assert at.command("AT+CGMR").lines == [f"Revision: {rev}"]


def test_unknown_profile_is_one_line() -> None:
    with pytest.raises(KeyError, match=r"unknown firmware 'nope'; known: conformant, ") as exc:
        profiles.get("nope")
    assert "\n" not in str(exc.value)
