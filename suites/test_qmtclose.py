"""AT+QMTCLOSE (3.3.3): test and write forms, connect ID bounds, <result> 0 and -1, the TCP close
on the wire (and no DISCONNECT: Figure 1 draws AT+QMTCLOSE as a TCP disconnection request only),
and the 300 ms maximum response time."""

from __future__ import annotations

import pytest
from _write_forms import BAD_ONLY_CID_IDS, assert_test_form_line, bad_only_cid_args

from harness.at import Response
from harness.at.flows import for_id, is_error
from harness.mqtt import codec
from harness.spec.commands import QMTCLOSE

pytestmark = pytest.mark.spec("3.3.3")

CID = QMTCLOSE.param("TCP_connectID")


def close_failed(qmt, line: str, cid: int | None, observe) -> None:
    """3.3.3: "-1 Failed to close network connection" after OK, or "ERROR Or +CME ERROR: <err>";
    which of the two a firmware uses for a given cause is observed."""
    got = qmt.error_or_result(line, "+QMTCLOSE", cid)
    # no plain reading: the note allows an error or <result> -1
    observe("answer", got.final if isinstance(got, Response) else got.line)
    assert isinstance(got, Response) or got.args[1:] == [-1], \
        f"{line}: expected ERROR/+CME ERROR or <result> -1, got {got.line}"


@pytest.mark.covers("3.3.3/QMTCLOSE/test", "3.3.3/QMTCLOSE")
def test_test_form_exact_line(qmt):
    """3.3.3: "+QMTCLOSE: (range of supported <TCP_connectID>s)"."""
    assert_test_form_line(qmt, QMTCLOSE)


@pytest.mark.covers("3.3.3/QMTCLOSE/write", "3.3.3/QMTCLOSE/TCP_connectID", "3.3.3/QMTCLOSE/result/0",
                    "3.3.3/QMTCLOSE/urc")
@pytest.mark.parametrize("cid", range(CID.lo, CID.hi + 1))
def test_close_each_connect_id(modem, qmt, wire, cid):
    """3.3.3 "0 Network connection closed successfully"; the ID leaves the AT+QMTOPEN? listing and
    the proxy sees the DUT end the TCP connection."""
    qmt.open(wire, cid)
    assert qmt.result(f"AT+QMTCLOSE={cid}", "+QMTCLOSE", cid).args == [cid, 0]
    assert qmt.lines("AT+QMTOPEN?") == []
    wire.log.wait_for(type="EOF", timeout=qmt.deadline("AT+QMTCLOSE"))


@pytest.mark.covers("3.3.3/QMTCLOSE/write", "3.3.3/QMTCLOSE/result/0")
def test_close_leaves_other_ids_open(modem, qmt, wire):
    """The close is per <TCP_connectID>: the other open IDs stay listed."""
    for cid in (0, 1, 2):
        qmt.open(wire, cid)
    assert qmt.result("AT+QMTCLOSE=1", "+QMTCLOSE", 1).args == [1, 0]
    assert sorted(qmt.lines("AT+QMTOPEN?")) == [f'+QMTOPEN: {c},"{wire.dut_host}",{wire.port}' for c in (0, 2)]


@pytest.mark.spec("2")
@pytest.mark.covers("3.3.3/QMTCLOSE/write", "3.3.3/QMTCLOSE/result/0")
def test_close_of_open_id_sends_fin_and_no_packet(modem, qmt, peer):
    """Figure 1: "AT+QMTCLOSE=<TCP_connectID> TCP-REQ TCP disconnection request": an orderly TCP close
    (FIN), no MQTT packet."""
    conn = qmt.accept(peer)
    assert qmt.result("AT+QMTCLOSE=0", "+QMTCLOSE", 0).args == [0, 0]
    assert conn.wait_closed(qmt.deadline("AT+QMTCLOSE")) == "client FIN"
    assert conn.received() == []


@pytest.mark.spec("2", "3.3.4")
@pytest.mark.covers("3.3.3/QMTCLOSE/write", "3.3.3/QMTCLOSE/result/0")
def test_close_of_connected_id_closes_tcp_without_disconnect(modem, qmt, peer, observe):
    """Figure 1 draws DISC-REQ (a DISCONNECT packet) for AT+QMTDISC and only a TCP disconnection
    request for AT+QMTCLOSE: the connection ends with FIN and no DISCONNECT."""
    conn, _ = qmt.connect_peer(peer, "dut-close")
    assert qmt.result("AT+QMTCLOSE=0", "+QMTCLOSE", 0).args == [0, 0]
    how = conn.wait_closed(qmt.deadline("AT+QMTCLOSE"))
    observe("TCP close after AT+QMTCLOSE", how)  # no plain reading: FIN or RST
    assert how in ("client FIN", "client RST")
    assert conn.received(codec.Disconnect) == [], "AT+QMTCLOSE sent DISCONNECT (Figure 1: TCP close only)"
    assert modem.command("AT+QMTCONN?").lines == []
    conn.assert_conformant()


@pytest.mark.covers("3.3.3/QMTCLOSE/result/-1")
@pytest.mark.parametrize("cid", [CID.lo, CID.hi])
def test_close_of_id_not_open_fails(modem, qmt, observe, cid):
    """3.3.3 "-1 Failed to close network connection": there is no connection to close."""
    close_failed(qmt, f"AT+QMTCLOSE={cid}", cid, observe)


@pytest.mark.covers("3.3.3/QMTCLOSE/result/-1", "3.3.3/QMTCLOSE/result/0")
def test_second_close_fails(modem, qmt, wire, observe):
    """The first close succeeds (0); the ID is then closed, so the second fails (-1 or error)."""
    qmt.open(wire, 2)
    assert qmt.result("AT+QMTCLOSE=2", "+QMTCLOSE", 2).args == [2, 0]
    close_failed(qmt, "AT+QMTCLOSE=2", 2, observe)


@pytest.mark.covers("3.3.3/QMTCLOSE/TCP_connectID")
@pytest.mark.parametrize("arg", bad_only_cid_args(CID), ids=BAD_ONLY_CID_IDS)
def test_bad_connect_id_is_refused(modem, qmt, wire, arg):
    """<TCP_connectID> "Integer type ... Range: 0–4", the only parameter: an open ID 0 stays open."""
    qmt.open(wire, 0)
    resp = modem.command(f"AT+QMTCLOSE={arg}")
    assert is_error(resp), f"AT+QMTCLOSE={arg} answered {resp.final}"
    assert qmt.lines("AT+QMTOPEN?") == [f'+QMTOPEN: 0,"{wire.dut_host}",{wire.port}']


@pytest.mark.covers("3.3.3/QMTCLOSE/result/0", "3.3.2/QMTOPEN/result/0")
def test_closed_id_can_be_opened_again(modem, qmt, wire):
    """After a close the ID is free: AT+QMTOPEN gives 0 again, not 2 (occupied)."""
    qmt.open(wire, 3)
    assert qmt.result("AT+QMTCLOSE=3", "+QMTCLOSE", 3).args == [3, 0]
    qmt.open(wire, 3)


@pytest.mark.covers("3.3.3/QMTCLOSE/max_response_time", "unclear/disc_close_time")
@pytest.mark.parametrize("connected", [False, True], ids=["open", "connected"])
def test_close_within_300_ms(modem, qmt, wire, observe, connected):
    """3.3.3 "Maximum Response Time 300 ms": OK and the result URC within 300 ms x time scale plus the
    transport grace (harness.spec.unclear "disc_close_time"); the real latency is recorded."""
    if connected:
        qmt.open_connect(wire, "dut-close-time")
    else:
        qmt.open(wire, 0)
    deadline = qmt.deadline("AT+QMTCLOSE=0")
    resp = modem.command("AT+QMTCLOSE=0", timeout=deadline)
    assert resp.ok
    urc = modem.wait_urc("+QMTCLOSE", deadline, predicate=for_id(0))
    assert urc.args == [0, 0]
    assert urc.t - resp.started <= deadline
    observe("command to +QMTCLOSE latency (real ms)", round((urc.t - resp.started) * 1000))  # a measurement
