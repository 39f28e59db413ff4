"""Retransmission across connections (issue 15 item 4; the yardsticks check none of it): on a
persistent session (AT+QMTCFG="session",<id>,0, 3.3.1) a PUBLISH or PUBREL still unacknowledged when
the link is lost is re-sent once the module reconnects [MQTT-4.4.0-1], with its original packet id,
the PUBLISH with DUP=1 [MQTT-3.3.1-1], the PUBREL with fixed-header flags 0010 [MQTT-3.6.1-1] (MQTT
3.1.1 gives PUBREL no DUP flag); with a clean session nothing of it is [MQTT-3.1.2-6]. Retransmission
within one connection (T1 = <pkt_timeout>, <retry_times>, 3.3.1 and Figure 1: DUP=1 and the same
packet id on every resend) is suites/test_timers.py's. Verdicts from the scripted peer; what the host
hears of the interrupted command is the module's choice (the note has no row for it): observed."""

from __future__ import annotations

import pytest

from harness.at import ATTimeout
from harness.mqtt import codec
from harness.peer import Match

pytestmark = [pytest.mark.spec("3.3.1"), pytest.mark.spec("3.3.8")]

CLIENT_ID = "dut-redeliver"
MID = 77
# Long enough that no resend within the first connection happens before the peer drops the link.
PKT_TIMEOUT = 10
QMTSTAT_CODES = range(1, 8)  # 5.1 Table 4


def _settings(qmt, clean: int) -> None:
    """3.3.1 "session" <clean_session> and "timeout" (no retransmission before the link drops)."""
    qmt.ok(f'AT+QMTCFG="session",0,{clean}')
    qmt.timeout(0, PKT_TIMEOUT)


def _connect(qmt, peer, clean: bool, session_present: bool):
    """AT+QMTOPEN, AT+QMTCONN (3.3.2, 3.3.4); the peer answers CONNACK with `session_present`. The
    +QMTCONN result is left queued: re-sent packets may come before or after it."""
    conn = qmt.accept(peer)
    line = f'AT+QMTCONN=0,"{CLIENT_ID}"'
    qmt.ok(line)
    conn.expect(Match(codec.Connect, client_id=CLIENT_ID, clean_session=clean), qmt.deadline(line))
    conn.send(codec.ConnAck(session_present, 0))
    return conn


def _connected(qmt) -> None:
    line = f'AT+QMTCONN=0,"{CLIENT_ID}"'
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 0, 0]


def _no_session_left(qmt, peer) -> None:
    """Start from an empty session: one connection with CleanSession 1, ended with AT+QMTDISC, makes
    the DUT discard any session an earlier case left on connect ID 0 [MQTT-3.1.2-6]."""
    _settings(qmt, clean=1)
    _connect(qmt, peer, clean=True, session_present=False)
    _connected(qmt)
    assert qmt.result("AT+QMTDISC=0", "+QMTDISC", 0).args == [0, 0]


def _interrupted(qmt, peer, observe, qos: int, stage: str):
    """First connection (CleanSession 0): AT+QMTPUB at `qos`; the peer takes the flow to `stage`
    ("PUBLISH": nothing acknowledged; "PUBREL": PUBREC given, PUBCOMP withheld) and resets the link.
    Returns the PUBLISH as first sent. What the host is told is observed."""
    conn = _connect(qmt, peer, clean=False, session_present=False)
    _connected(qmt)
    line = f'AT+QMTPUB=0,{MID},{qos},0,"rd/{qos}",4,"keep"'
    qmt.ok(line)
    first = conn.expect(Match(codec.Publish, packet_id=MID, qos=qos, dup=False), qmt.deadline(line))
    if stage == "PUBREL":
        conn.send(codec.PubRec(MID))
        conn.expect(Match(codec.PubRel, packet_id=MID, flags=0b0010), qmt.deadline(line))
    conn.assert_conformant()
    conn.reset()
    stat = qmt.urc("+QMTSTAT", 0, line)
    assert stat.args[1] in QMTSTAT_CODES, stat.line
    try:  # the note has no row for a flow cut by the link: observed
        outcome: str | None = qmt.channel.wait_urc("+QMTPUB", qmt.deadline(line),
                                                   predicate=lambda u: u.args[:2] == [0, MID]).line
    except ATTimeout:
        outcome = None
    observe(f"+QMTPUB after the link dropped at {stage} (QoS {qos})", outcome)
    observe(f"+QMTSTAT after the link dropped at {stage}", stat.line)
    return first


STAGES = {"qos1-PUBLISH": (1, "PUBLISH"), "qos2-PUBLISH": (2, "PUBLISH"), "qos2-PUBREL": (2, "PUBREL")}


@pytest.mark.covers("3.3.1/session", "3.3.1/session/clean_session", "3.3.8/QMTPUB/QoS")
@pytest.mark.parametrize(("qos", "stage"), STAGES.values(), ids=STAGES.keys())
def test_unacknowledged_flow_is_resent_after_reconnect(modem, qmt, peer, observe, qos, stage):
    """paho client_test test_redelivery_on_reconnect. "When a Client reconnects with CleanSession set to 0,
    both the Client and Server MUST re-send any unacknowledged PUBLISH Packets (where QoS > 0) and PUBREL
    Packets using their original Packet Identifiers" [MQTT-4.4.0-1]. A flow cut before its
    acknowledgement (3.3.1 "session" 0: "the server saves client subscriptions" and the session goes on):
    after AT+QMTOPEN/AT+QMTCONN again and a CONNACK with session present, the module re-sends the
    PUBLISH, DUP=1 [MQTT-3.3.1-1], same packet id, topic, payload and QoS; or, once PUBREC had come, the
    PUBREL (flags 0010, [MQTT-3.6.1-1]) and never the PUBLISH again [MQTT-4.3.3-1]. The peer then
    completes the flow and judges the new connection (its session rules take a PUBREL on a
    CleanSession 0 connection as the resumed session's)."""
    _no_session_left(qmt, peer)
    _settings(qmt, clean=0)
    first = _interrupted(qmt, peer, observe, qos, stage)
    conn = _connect(qmt, peer, clean=False, session_present=True)
    within = qmt.deadline("AT+QMTCONN")
    if stage == "PUBLISH":
        again = conn.expect(Match(codec.Publish, packet_id=MID), within, ignore=(codec.PingReq,))
        assert again.dup, f"re-sent PUBLISH has DUP=0: {again}"
        assert (again.topic, again.payload, again.qos, again.retain) == \
            (first.topic, first.payload, first.qos, first.retain), f"re-sent {again} differs from {first}"
        conn.send(codec.PubAck(MID) if qos == 1 else codec.PubRec(MID))
        if qos == 2:
            conn.expect(Match(codec.PubRel, packet_id=MID, flags=0b0010), within, ignore=(codec.PingReq,))
            conn.send(codec.PubComp(MID))
    else:
        conn.expect(Match(codec.PubRel, packet_id=MID, flags=0b0010), within, ignore=(codec.PingReq,))
        conn.send(codec.PubComp(MID))
    _connected(qmt)
    _fence(qmt, conn)
    conn.assert_conformant()


@pytest.mark.covers("3.3.1/session", "3.3.1/session/clean_session", "3.3.1/note/2")
def test_clean_session_discards_the_unacknowledged_flow(modem, qmt, peer, observe):
    """"If CleanSession is set to 1, the Client and Server MUST discard any previous Session and start a
    new one" [MQTT-3.1.2-6] (3.3.1 "session" 1: "the server deletes all the previously retained
    information about the client"): the same QoS 1 flow cut on a persistent session, then "session" 1
    and a reconnect: nothing of the old flow is re-sent; the first packet after CONNACK is the next
    command's (a QoS 0 PUBLISH as a fence)."""
    _no_session_left(qmt, peer)
    _settings(qmt, clean=0)
    _interrupted(qmt, peer, observe, 1, "PUBLISH")
    _settings(qmt, clean=1)
    conn = _connect(qmt, peer, clean=True, session_present=False)
    _connected(qmt)
    _fence(qmt, conn)
    conn.assert_conformant()


def _fence(qmt, conn) -> None:
    """AT+QMTPUB at QoS 0 (3.3.8): its PUBLISH is the next packet the module sends."""
    line = 'AT+QMTPUB=0,0,0,0,"rd/fence",5,"fence"'
    qmt.ok(line)
    conn.expect(Match(codec.Publish, topic="rd/fence", qos=0), qmt.deadline(line), ignore=(codec.PingReq,))
    assert qmt.channel.wait_urc("+QMTPUB", qmt.deadline(line), predicate=lambda u: u.args[:2] == [0, 0]).args \
        == [0, 0, 0]
