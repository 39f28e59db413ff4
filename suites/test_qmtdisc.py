"""AT+QMTDISC (3.3.5) and the other way a connection ends: the link lost under the client (+QMTSTAT,
5.1 Table 4). The DUT's side on the UART, DISCONNECT and the TCP close on the wire."""

from __future__ import annotations

import pytest

from harness.at.flows import for_id, is_error, open_connect, result, urc_deadline
from harness.mqtt import codec
from harness.rig import uplink
from harness.spec.commands import QMTDISC
from harness.spec.plain import qmtstat, reading
from harness.spec.timing import GRACE_S, deadline_s

pytestmark = pytest.mark.spec("3.3.5")

CID = QMTDISC.param("TCP_connectID")
TEST = QMTDISC.form("test")
QMTSTAT_CODES = range(1, 8)  # 5.1 Table 4; "8-255 Reserved for future use."
# 3.3.5: DISCONNECT says the client "is about to close its TCP/IP connection": nothing stays open.
CLOSED_AFTER_DISC = reading("3.3.5/QMTDISC/closes_tcp", [])


def connect_peer(modem, peer, cid: int = 0, client_id: str = "dut-disc"):
    assert result(modem, f'AT+QMTOPEN={cid},"{peer.dut_host}",{peer.port}', "+QMTOPEN", cid).args == [cid, 0]
    conn = peer.accept(urc_deadline(modem, "AT+QMTOPEN"))
    line = f'AT+QMTCONN={cid},"{client_id}"'
    assert modem.command(line).ok
    conn.handshake(timeout=urc_deadline(modem, line))
    assert modem.wait_urc("+QMTCONN", urc_deadline(modem, line), predicate=for_id(cid)).args == [cid, 0, 0]
    return conn


def lines(modem, query: str) -> list[str]:
    resp = modem.command(query)
    assert resp.ok, f"{query} answered {resp.final}"
    return resp.lines


def disc_failed(modem, cid: int, observe) -> None:
    """3.3.5 "-1 Failed to disconnect the client" after OK, or "ERROR Or +CME ERROR: <err>"."""
    line = f"AT+QMTDISC={cid}"
    resp = modem.command(line)
    if is_error(resp):
        observe("answer", resp.final)  # no plain reading: the note allows an error or <result> -1
        return
    assert resp.ok, f"{line} answered {resp.final!r}"
    urc = modem.wait_urc("+QMTDISC", urc_deadline(modem, line), predicate=for_id(cid))
    observe("answer", urc.line)
    assert urc.args == [cid, -1], f"{line}: expected ERROR/+CME ERROR or <result> -1, got {urc.line}"


@pytest.mark.covers("3.3.5/QMTDISC/test", "3.3.5/QMTDISC")
def test_test_form_exact_line(modem):
    """3.3.5: "+QMTDISC: (range of supported <TCP_connectID>s)"."""
    resp = modem.command(TEST.syntax)
    assert resp.ok and resp.lines == [TEST.test_line]


@pytest.mark.covers("3.3.5/QMTDISC/write", "3.3.5/QMTDISC/TCP_connectID", "3.3.5/QMTDISC/result/0",
                    "3.3.5/QMTDISC/urc")
@pytest.mark.parametrize("cid", range(CID.lo, CID.hi + 1))
def test_disconnect_each_connect_id(modem, wire, cid):
    """3.3.5 "0 Disconnected the client successfully": DISCONNECT reached the broker side, the DUT
    then ended TCP, and the ID is no longer connected."""
    open_connect(modem, wire.dut_host, wire.port, f"dut-disc-{cid}", cid=cid, account=wire.account)
    assert result(modem, f"AT+QMTDISC={cid}", "+QMTDISC", cid).args == [cid, 0]
    wire.log.wait_for(direction="C>B", type=codec.Disconnect, timeout=urc_deadline(modem, "AT+QMTDISC"))
    # The broker may close first on DISCONNECT (MQTT 3.1.1 3.14.4); who sends FIN first is judged with the
    # scripted peer (test_disconnect_sends_disconnect_then_closes_tcp), here only that the link ended.
    wire.log.wait_for(type="EOF", timeout=urc_deadline(modem, "AT+QMTDISC"))
    assert lines(modem, "AT+QMTCONN?") == []


@pytest.mark.spec("5.1")
@pytest.mark.covers("3.3.5/QMTDISC/write", "3.3.5/QMTDISC/result/0", "5.1/QMTSTAT/5", "unclear/qmtstat_codes")
def test_disconnect_sends_disconnect_then_closes_tcp(modem, peer, observe):
    """3.3.5: "A DISCONNECT message is sent from the client to the server to indicate that it is about to
    close its TCP/IP connection": DISCONNECT is the last packet, then FIN. Whether the ID stays open
    (AT+QMTOPEN?) and whether "+QMTSTAT: 0,5" follows (5.1 Table 4) are observations."""
    conn = connect_peer(modem, peer)
    assert result(modem, "AT+QMTDISC=0", "+QMTDISC", 0).args == [0, 0]
    conn.expect(codec.Disconnect, urc_deadline(modem, "AT+QMTDISC"))
    assert conn.wait_closed(urc_deadline(modem, "AT+QMTDISC")) == "client FIN"
    assert isinstance(conn.received()[-1].packet, codec.Disconnect)
    conn.assert_conformant()
    observe("AT+QMTOPEN? after AT+QMTDISC", lines(modem, "AT+QMTOPEN?"), plain=CLOSED_AFTER_DISC)
    # No plain reading: Table 4 row 5 ("This is a normal process") and chapter 6 (no +QMTSTAT after
    # +QMTDISC: 0,0) read differently.
    observe("URCs after AT+QMTDISC", [u.line for u in modem.drain_urcs()])


@pytest.mark.covers("3.3.5/QMTDISC/result/-1")
@pytest.mark.parametrize("cid", [CID.lo, CID.hi])
def test_disconnect_of_id_not_open_fails(modem, observe, cid):
    """3.3.5 "-1 Failed to disconnect the client": there is no client on that ID."""
    disc_failed(modem, cid, observe)


@pytest.mark.covers("3.3.5/QMTDISC/write", "3.3.5/QMTDISC/result/-1")
def test_disconnect_of_open_but_unconnected_id(modem, peer, observe):
    """No MQTT session yet (Figure 1: OPEN, then CONNECT): the answer is observed; on the wire no
    DISCONNECT may precede CONNECT ([MQTT-3.1.0-1] the first packet is CONNECT)."""
    assert result(modem, f'AT+QMTOPEN=0,"{peer.dut_host}",{peer.port}', "+QMTOPEN", 0).args == [0, 0]
    conn = peer.accept(urc_deadline(modem, "AT+QMTOPEN"))
    resp = modem.command("AT+QMTDISC=0")
    observe("answer", resp.final)  # no plain reading: the note does not say what DISC does before CONNECT
    if resp.ok:
        observe("result", modem.wait_urc("+QMTDISC", urc_deadline(modem, "AT+QMTDISC"), predicate=for_id(0)).line)
    if lines(modem, "AT+QMTOPEN?"):
        assert result(modem, "AT+QMTCLOSE=0", "+QMTCLOSE", 0).args == [0, 0]
    conn.wait_closed(urc_deadline(modem, "AT+QMTOPEN"))
    assert conn.received(codec.Disconnect) == [], "DISCONNECT sent on a connection that never had CONNECT"


@pytest.mark.covers("3.3.5/QMTDISC/result/-1", "3.3.5/QMTDISC/result/0")
def test_second_disconnect_fails(modem, wire, observe):
    open_connect(modem, wire.dut_host, wire.port, "dut-disc-twice", account=wire.account)
    assert result(modem, "AT+QMTDISC=0", "+QMTDISC", 0).args == [0, 0]
    # +QMTDISC may come before the proxy has relayed the DISCONNECT: wait for it, bounded
    wire.log.wait_for(direction="C>B", type=codec.Disconnect, timeout=deadline_s("AT", modem.time_scale))
    disc_failed(modem, 0, observe)
    assert len(wire.log.packets(direction="C>B", type=codec.Disconnect)) == 1


@pytest.mark.covers("3.3.5/QMTDISC/TCP_connectID")
@pytest.mark.parametrize("arg", [*map(str, CID.invalid_values()), "a", "", '"0"', "0,1"],
                         ids=["below", "above", "not_integer", "missing", "quoted", "extra"])
def test_bad_connect_id_is_refused(modem, wire, arg):
    """<TCP_connectID> "Integer type ... Range: 0–4": refused, and connected ID 0 stays connected."""
    open_connect(modem, wire.dut_host, wire.port, "dut-disc-bad", account=wire.account)
    resp = modem.command(f"AT+QMTDISC={arg}")
    assert is_error(resp), f"AT+QMTDISC={arg} answered {resp.final}"
    assert lines(modem, "AT+QMTCONN?") == ["+QMTCONN: 0,3"]
    assert not wire.log.packets(direction="C>B", type=codec.Disconnect)


@pytest.mark.covers("3.3.5/QMTDISC/result/0", "3.3.4/QMTCONN/result/0")
def test_connect_again_after_disconnect(modem, wire, observe):
    """After AT+QMTDISC the client can connect again (closing the ID first if it is still open)."""
    open_connect(modem, wire.dut_host, wire.port, "dut-again", account=wire.account)
    assert result(modem, "AT+QMTDISC=0", "+QMTDISC", 0).args == [0, 0]
    still_open = lines(modem, "AT+QMTOPEN?")
    observe("AT+QMTOPEN? after AT+QMTDISC", still_open, plain=CLOSED_AFTER_DISC)
    if still_open:
        assert result(modem, "AT+QMTCLOSE=0", "+QMTCLOSE", 0).args == [0, 0]
    open_connect(modem, wire.dut_host, wire.port, "dut-again", account=wire.account)


@pytest.mark.covers("3.3.5/QMTDISC/max_response_time", "unclear/disc_close_time", "3.3.4/QMTCONN/state/4")
def test_disconnect_within_300_ms(modem, wire, observe):
    """3.3.5 "Maximum Response Time 300 ms": OK and +QMTDISC within 300 ms x time scale plus grace
    (unclear "disc_close_time"); the real latency and the state right after OK ("4 disconnecting",
    if the firmware is ever caught in it) are recorded."""
    open_connect(modem, wire.dut_host, wire.port, "dut-disc-time", account=wire.account)
    deadline = urc_deadline(modem, "AT+QMTDISC=0")
    resp = modem.command("AT+QMTDISC=0", timeout=deadline)
    assert resp.ok
    observe("AT+QMTCONN? right after OK", lines(modem, "AT+QMTCONN?"))  # timing decides: no plain reading
    urc = modem.wait_urc("+QMTDISC", deadline, predicate=for_id(0))
    assert urc.args == [0, 0]
    assert urc.t - resp.started <= deadline
    observe("command to +QMTDISC latency (real ms)", round((urc.t - resp.started) * 1000))  # a measurement


# -- the link lost under the client: +QMTSTAT (5.1) ------------------------------------------------


def link_lost(modem, cid: int, timeout: float, observe, expected: int) -> None:
    """5.1: "When the state of the MQTT link layer is changed, the client will close the MQTT connection
    and report the URC": some +QMTSTAT: <id>,<1..7> (verdict; the code against the stance is observed)
    and the ID is closed."""
    stat = modem.wait_urc("+QMTSTAT", timeout, predicate=for_id(cid))
    observe(f"+QMTSTAT code (expected {expected})", stat.args[1], plain=qmtstat(expected))
    assert stat.args[1] in QMTSTAT_CODES, f"{stat.line}: not a code of 5.1 Table 4 (8-255 are reserved)"
    assert lines(modem, "AT+QMTOPEN?") == [], "5.1: the client closes the MQTT connection"
    assert lines(modem, "AT+QMTCONN?") == []


@pytest.mark.spec("5.1")
@pytest.mark.covers("5.1/QMTSTAT/1", "5.1/QMTSTAT/urc", "5.1/QMTSTAT/closes", "5.1/QMTSTAT/8-255",
                    "unclear/qmtstat_codes")
@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize("connected", [False, True], ids=["open", "connected"])
def test_peer_closes_or_resets(modem, peer, observe, how, connected):
    """Table 4 "1 Connection is closed or reset by its remote peer"."""
    if connected:
        conn = connect_peer(modem, peer)
    else:
        assert result(modem, f'AT+QMTOPEN=0,"{peer.dut_host}",{peer.port}', "+QMTOPEN", 0).args == [0, 0]
        conn = peer.accept(urc_deadline(modem, "AT+QMTOPEN"))
    conn.close() if how == "fin" else conn.reset()
    link_lost(modem, 0, urc_deadline(modem, "AT+QMTOPEN"), observe, 1)


@pytest.mark.spec("5.1")
@pytest.mark.covers("5.1/QMTSTAT/1", "5.1/QMTSTAT/closes", "unclear/qmtstat_codes")
@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_broker_side_drops_connection(modem, wire, observe, reset):
    """The same through the rig's broker path: the proxy ends the connection under a connected client."""
    open_connect(modem, wire.dut_host, wire.port, "dut-dropped", cid=2, account=wire.account)
    wire.proxy.drop_connections(reset=reset)
    link_lost(modem, 2, urc_deadline(modem, "AT+QMTOPEN"), observe, 1)


@pytest.mark.spec("5.1", "3.3.1")
@pytest.mark.covers("5.1/QMTSTAT/2", "5.1/QMTSTAT/7", "5.1/QMTSTAT/closes", "unclear/qmtstat_codes")
def test_link_silent_pingresp_lost(modem, peer, observe):
    """Table 4 "2 Sending PINGREQ packet timed out or failed" / "7 The link is not alive": the peer
    keeps the socket but answers nothing; after the keep-alive the DUT pings, gets no PINGRESP within
    <pkt_timeout>, and reports the link (code observed against 2)."""
    assert modem.command('AT+QMTCFG="keepalive",0,1').ok
    pkt = uplink.current().pkt_timeout(1)  # 1 s, or just above a slow uplink's round trip (CONNACK must come)
    assert modem.command(f'AT+QMTCFG="timeout",0,{pkt},0,0').ok
    modem.pkt_timeout, modem.retry_times = pkt, 0
    conn = connect_peer(modem, peer)
    conn.blackhole()
    keepalive = 1 * modem.time_scale
    conn.expect(codec.PingReq, keepalive + GRACE_S)  # [MQTT-3.1.2-23]
    link_lost(modem, 0, keepalive + urc_deadline(modem, "AT+QMTPUB=0,1,1,0,\"t\""), observe, 2)
