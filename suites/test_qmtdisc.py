"""AT+QMTDISC (3.3.5) and the other way a connection ends: the link lost under the client (+QMTSTAT,
5.1 Table 4). The DUT's side on the UART, DISCONNECT and the TCP close on the wire."""

from __future__ import annotations

import pytest
from _write_forms import BAD_ONLY_CID_IDS, assert_test_form_line, bad_only_cid_args

from harness.at import Response
from harness.at.flows import for_id, is_error
from harness.mqtt import codec
from harness.spec.commands import QMTDISC
from harness.spec.plain import qmtstat, reading
from harness.spec.timing import GRACE_S, deadline_s

pytestmark = pytest.mark.spec("3.3.5")

CID = QMTDISC.param("TCP_connectID")
QMTSTAT_CODES = range(1, 8)  # 5.1 Table 4; "8-255 Reserved for future use."
# 3.3.5: DISCONNECT says the client "is about to close its TCP/IP connection": nothing stays open.
CLOSED_AFTER_DISC = reading("3.3.5/QMTDISC/closes_tcp", [])


def disc_failed(qmt, cid: int, observe) -> None:
    """3.3.5 "-1 Failed to disconnect the client" after OK, or "ERROR Or +CME ERROR: <err>"."""
    line = f"AT+QMTDISC={cid}"
    got = qmt.error_or_result(line, "+QMTDISC", cid)
    observe("answer", got.final if isinstance(got, Response) else got.line)  # no plain reading: either way fits
    assert isinstance(got, Response) or got.args == [cid, -1], f"{line}: an error or <result> -1, not {got.line}"


@pytest.mark.covers("3.3.5/QMTDISC/test", "3.3.5/QMTDISC")
def test_test_form_exact_line(qmt):
    """3.3.5: "+QMTDISC: (range of supported <TCP_connectID>s)"."""
    assert_test_form_line(qmt, QMTDISC)


@pytest.mark.covers("3.3.5/QMTDISC/write", "3.3.5/QMTDISC/TCP_connectID", "3.3.5/QMTDISC/result/0",
                    "3.3.5/QMTDISC/urc")
@pytest.mark.parametrize("cid", range(CID.lo, CID.hi + 1))
def test_disconnect_each_connect_id(modem, qmt, wire, cid):
    """3.3.5 "0 Disconnected the client successfully": DISCONNECT reached the broker side, the DUT
    then ended TCP, and the ID is no longer connected."""
    qmt.open_connect(wire, f"dut-disc-{cid}", cid)
    assert qmt.result(f"AT+QMTDISC={cid}", "+QMTDISC", cid).args == [cid, 0]
    wire.log.wait_for(direction="C>B", type=codec.Disconnect, timeout=qmt.deadline("AT+QMTDISC"))
    # The broker may close first on DISCONNECT (MQTT 3.1.1 3.14.4); who sends FIN first is judged with the
    # scripted peer (test_disconnect_sends_disconnect_then_closes_tcp), here only that the link ended.
    wire.log.wait_for(type="EOF", timeout=qmt.deadline("AT+QMTDISC"))
    assert qmt.lines("AT+QMTCONN?") == []


@pytest.mark.spec("5.1")
@pytest.mark.covers("3.3.5/QMTDISC/write", "3.3.5/QMTDISC/result/0", "5.1/QMTSTAT/5", "unclear/qmtstat_codes")
def test_disconnect_sends_disconnect_then_closes_tcp(modem, qmt, peer, observe):
    """3.3.5: "A DISCONNECT message is sent from the client to the server to indicate that it is about to
    close its TCP/IP connection": DISCONNECT is the last packet, then FIN. Whether the ID stays open
    (AT+QMTOPEN?) and whether "+QMTSTAT: 0,5" follows (5.1 Table 4) are observations."""
    conn, _ = qmt.connect_peer(peer, "dut-disc")
    assert qmt.result("AT+QMTDISC=0", "+QMTDISC", 0).args == [0, 0]
    conn.expect(codec.Disconnect, qmt.deadline("AT+QMTDISC"))
    assert conn.wait_closed(qmt.deadline("AT+QMTDISC")) == "client FIN"
    assert isinstance(conn.received()[-1].packet, codec.Disconnect)
    conn.assert_conformant()
    observe("AT+QMTOPEN? after AT+QMTDISC", qmt.lines("AT+QMTOPEN?"), plain=CLOSED_AFTER_DISC)
    # No plain reading: Table 4 row 5 ("This is a normal process") and chapter 6 (no +QMTSTAT after
    # +QMTDISC: 0,0) read differently.
    observe("URCs after AT+QMTDISC", [u.line for u in modem.drain_urcs()])


@pytest.mark.covers("3.3.5/QMTDISC/result/-1")
@pytest.mark.parametrize("cid", [CID.lo, CID.hi])
def test_disconnect_of_id_not_open_fails(modem, qmt, observe, cid):
    """3.3.5 "-1 Failed to disconnect the client": there is no client on that ID."""
    disc_failed(qmt, cid, observe)


@pytest.mark.covers("3.3.5/QMTDISC/write", "3.3.5/QMTDISC/result/-1")
def test_disconnect_of_open_but_unconnected_id(modem, qmt, peer, observe):
    """No MQTT session yet (Figure 1: OPEN, then CONNECT): the answer is observed; on the wire no
    DISCONNECT may precede CONNECT ([MQTT-3.1.0-1] the first packet is CONNECT)."""
    conn = qmt.accept(peer)
    resp = modem.command("AT+QMTDISC=0")
    observe("answer", resp.final)  # no plain reading: the note does not say what DISC does before CONNECT
    if resp.ok:
        observe("result", qmt.urc("+QMTDISC", 0).line)
    if qmt.lines("AT+QMTOPEN?"):
        assert qmt.result("AT+QMTCLOSE=0", "+QMTCLOSE", 0).args == [0, 0]
    conn.wait_closed(qmt.deadline("AT+QMTOPEN"))
    assert conn.received(codec.Disconnect) == [], "DISCONNECT sent on a connection that never had CONNECT"


@pytest.mark.covers("3.3.5/QMTDISC/result/-1", "3.3.5/QMTDISC/result/0")
def test_second_disconnect_fails(modem, qmt, wire, observe):
    qmt.open_connect(wire, "dut-disc-twice")
    assert qmt.result("AT+QMTDISC=0", "+QMTDISC", 0).args == [0, 0]
    # +QMTDISC may come before the proxy has relayed the DISCONNECT: wait for it, bounded
    wire.log.wait_for(direction="C>B", type=codec.Disconnect, timeout=deadline_s("AT", modem.time_scale))
    disc_failed(qmt, 0, observe)
    assert len(wire.log.packets(direction="C>B", type=codec.Disconnect)) == 1


@pytest.mark.covers("3.3.5/QMTDISC/TCP_connectID")
@pytest.mark.parametrize("arg", bad_only_cid_args(CID), ids=BAD_ONLY_CID_IDS)
def test_bad_connect_id_is_refused(modem, qmt, wire, arg):
    """<TCP_connectID> "Integer type ... Range: 0–4": refused, and connected ID 0 stays connected."""
    qmt.open_connect(wire, "dut-disc-bad")
    resp = modem.command(f"AT+QMTDISC={arg}")
    assert is_error(resp), f"AT+QMTDISC={arg} answered {resp.final}"
    assert qmt.lines("AT+QMTCONN?") == ["+QMTCONN: 0,3"]
    assert not wire.log.packets(direction="C>B", type=codec.Disconnect)


@pytest.mark.covers("3.3.5/QMTDISC/result/0", "3.3.4/QMTCONN/result/0")
def test_connect_again_after_disconnect(modem, qmt, wire, observe):
    """After AT+QMTDISC the client can connect again (closing the ID first if it is still open)."""
    qmt.open_connect(wire, "dut-again")
    assert qmt.result("AT+QMTDISC=0", "+QMTDISC", 0).args == [0, 0]
    still_open = qmt.lines("AT+QMTOPEN?")
    observe("AT+QMTOPEN? after AT+QMTDISC", still_open, plain=CLOSED_AFTER_DISC)
    if still_open:
        assert qmt.result("AT+QMTCLOSE=0", "+QMTCLOSE", 0).args == [0, 0]
    qmt.open_connect(wire, "dut-again")


@pytest.mark.covers("3.3.5/QMTDISC/max_response_time", "unclear/disc_close_time", "3.3.4/QMTCONN/state/4")
def test_disconnect_within_300_ms(modem, qmt, wire, observe):
    """3.3.5 "Maximum Response Time 300 ms": OK and +QMTDISC within 300 ms x time scale plus grace
    (unclear "disc_close_time"); the real latency and the state right after OK ("4 disconnecting",
    if the firmware is ever caught in it) are recorded."""
    qmt.open_connect(wire, "dut-disc-time")
    deadline = qmt.deadline("AT+QMTDISC=0")
    resp = modem.command("AT+QMTDISC=0", timeout=deadline)
    assert resp.ok
    observe("AT+QMTCONN? right after OK", qmt.lines("AT+QMTCONN?"))  # timing decides: no plain reading
    urc = modem.wait_urc("+QMTDISC", deadline, predicate=for_id(0))
    assert urc.args == [0, 0]
    assert urc.t - resp.started <= deadline
    observe("command to +QMTDISC latency (real ms)", round((urc.t - resp.started) * 1000))  # a measurement


# -- the link lost under the client: +QMTSTAT (5.1) ------------------------------------------------


def link_lost(qmt, cid: int, timeout: float, observe, expected: int) -> None:
    """5.1: "When the state of the MQTT link layer is changed, the client will close the MQTT connection
    and report the URC": some +QMTSTAT: <id>,<1..7> (verdict; the code against the stance is observed)
    and the ID is closed."""
    stat = qmt.channel.wait_urc("+QMTSTAT", timeout, predicate=for_id(cid))
    observe(f"+QMTSTAT code (expected {expected})", stat.args[1], plain=qmtstat(expected))
    assert stat.args[1] in QMTSTAT_CODES, f"{stat.line}: not a code of 5.1 Table 4 (8-255 are reserved)"
    assert qmt.lines("AT+QMTOPEN?") == [], "5.1: the client closes the MQTT connection"
    assert qmt.lines("AT+QMTCONN?") == []


@pytest.mark.spec("5.1")
@pytest.mark.covers("5.1/QMTSTAT/1", "5.1/QMTSTAT/urc", "5.1/QMTSTAT/closes", "5.1/QMTSTAT/8-255",
                    "unclear/qmtstat_codes")
@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize("connected", [False, True], ids=["open", "connected"])
def test_peer_closes_or_resets(modem, qmt, peer, observe, how, connected):
    """Table 4 "1 Connection is closed or reset by its remote peer"."""
    if connected:
        conn, _ = qmt.connect_peer(peer, "dut-disc")
    else:
        conn = qmt.accept(peer)
    conn.close() if how == "fin" else conn.reset()
    link_lost(qmt, 0, qmt.deadline("AT+QMTOPEN"), observe, 1)


@pytest.mark.spec("5.1")
@pytest.mark.covers("5.1/QMTSTAT/1", "5.1/QMTSTAT/closes", "unclear/qmtstat_codes")
@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_broker_side_drops_connection(modem, qmt, wire, observe, reset):
    """The same through the rig's broker path: the proxy ends the connection under a connected client."""
    qmt.open_connect(wire, "dut-dropped", 2)
    wire.proxy.drop_connections(reset=reset)
    link_lost(qmt, 2, qmt.deadline("AT+QMTOPEN"), observe, 1)


@pytest.mark.spec("5.1", "3.3.1")
@pytest.mark.covers("5.1/QMTSTAT/2", "5.1/QMTSTAT/7", "5.1/QMTSTAT/closes", "unclear/qmtstat_codes")
def test_link_silent_pingresp_lost(modem, qmt, peer, observe):
    """Table 4 "2 Sending PINGREQ packet timed out or failed" / "7 The link is not alive": the peer
    keeps the socket but answers nothing; after the keep-alive the DUT pings, gets no PINGRESP within
    <pkt_timeout>, and reports the link (code observed against 2)."""
    assert modem.command('AT+QMTCFG="keepalive",0,1').ok
    qmt.uplink_timeout(0, 1)  # 1 s, or just above a slow uplink's round trip (CONNACK must come)
    conn, _ = qmt.connect_peer(peer, "dut-disc")
    conn.blackhole()
    keepalive = 1 * modem.time_scale
    conn.expect(codec.PingReq, keepalive + GRACE_S)  # [MQTT-3.1.2-23]
    link_lost(qmt, 0, keepalive + qmt.deadline("AT+QMTPUB=0,1,1,0,\"t\""), observe, 2)
