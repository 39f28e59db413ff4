"""AT+QMTCLOSE (3.3.3): test and write forms, connect ID bounds, <result> 0 and -1, the TCP close
on the wire (and no DISCONNECT: Figure 1 draws AT+QMTCLOSE as a TCP disconnection request only),
and the 300 ms maximum response time."""

from __future__ import annotations

import pytest

from harness.at.flows import for_id, is_error, open_connect, result, urc_deadline
from harness.mqtt import codec
from harness.spec.commands import QMTCLOSE

pytestmark = pytest.mark.spec("3.3.3")

CID = QMTCLOSE.param("TCP_connectID")
TEST = QMTCLOSE.form("test")


def open_to(modem, cid: int, host: str, port: int) -> None:
    assert result(modem, f'AT+QMTOPEN={cid},"{host}",{port}', "+QMTOPEN", cid).args == [cid, 0]


def opened(modem) -> list[str]:
    resp = modem.command("AT+QMTOPEN?")
    assert resp.ok
    return resp.lines


def close_failed(modem, line: str, cid: int | None, observe) -> None:
    """3.3.3: "-1 Failed to close network connection" after OK, or "ERROR Or +CME ERROR: <err>";
    which of the two a firmware uses for a given cause is observed."""
    resp = modem.command(line)
    if is_error(resp):
        observe("answer", resp.final)  # no plain reading: the note allows an error or <result> -1
        return
    assert resp.ok, f"{line} answered {resp.final!r}"
    urc = modem.wait_urc("+QMTCLOSE", urc_deadline(modem, line), predicate=for_id(cid) if cid is not None else None)
    observe("answer", urc.line)
    assert urc.args[1:] == [-1], f"{line}: expected ERROR/+CME ERROR or <result> -1, got {urc.line}"


@pytest.mark.covers("3.3.3/QMTCLOSE/test", "3.3.3/QMTCLOSE")
def test_test_form_exact_line(modem):
    """3.3.3: "+QMTCLOSE: (range of supported <TCP_connectID>s)"."""
    resp = modem.command(TEST.syntax)
    assert resp.ok and resp.lines == [TEST.test_line]


@pytest.mark.covers("3.3.3/QMTCLOSE/write", "3.3.3/QMTCLOSE/TCP_connectID", "3.3.3/QMTCLOSE/result/0",
                    "3.3.3/QMTCLOSE/urc")
@pytest.mark.parametrize("cid", range(CID.lo, CID.hi + 1))
def test_close_each_connect_id(modem, wire, cid):
    """3.3.3 "0 Network connection closed successfully"; the ID leaves the AT+QMTOPEN? listing and
    the proxy sees the DUT end the TCP connection."""
    open_to(modem, cid, wire.dut_host, wire.port)
    assert result(modem, f"AT+QMTCLOSE={cid}", "+QMTCLOSE", cid).args == [cid, 0]
    assert opened(modem) == []
    wire.log.wait_for(type="EOF", timeout=urc_deadline(modem, "AT+QMTCLOSE"))


@pytest.mark.covers("3.3.3/QMTCLOSE/write", "3.3.3/QMTCLOSE/result/0")
def test_close_leaves_other_ids_open(modem, wire):
    """The close is per <TCP_connectID>: the other open IDs stay listed."""
    for cid in (0, 1, 2):
        open_to(modem, cid, wire.dut_host, wire.port)
    assert result(modem, "AT+QMTCLOSE=1", "+QMTCLOSE", 1).args == [1, 0]
    assert sorted(opened(modem)) == [f'+QMTOPEN: {c},"{wire.dut_host}",{wire.port}' for c in (0, 2)]


@pytest.mark.spec("2")
@pytest.mark.covers("3.3.3/QMTCLOSE/write", "3.3.3/QMTCLOSE/result/0")
def test_close_of_open_id_sends_fin_and_no_packet(modem, peer):
    """Figure 1: "AT+QMTCLOSE=<TCP_connectID> TCP-REQ TCP disconnection request": an orderly TCP close
    (FIN), no MQTT packet."""
    open_to(modem, 0, peer.dut_host, peer.port)
    conn = peer.accept(urc_deadline(modem, "AT+QMTOPEN"))
    assert result(modem, "AT+QMTCLOSE=0", "+QMTCLOSE", 0).args == [0, 0]
    assert conn.wait_closed(urc_deadline(modem, "AT+QMTCLOSE")) == "client FIN"
    assert conn.received() == []


@pytest.mark.spec("2", "3.3.4")
@pytest.mark.covers("3.3.3/QMTCLOSE/write", "3.3.3/QMTCLOSE/result/0")
def test_close_of_connected_id_closes_tcp_without_disconnect(modem, peer, observe):
    """Figure 1 draws DISC-REQ (a DISCONNECT packet) for AT+QMTDISC and only a TCP disconnection
    request for AT+QMTCLOSE: the connection ends with FIN and no DISCONNECT."""
    assert result(modem, f'AT+QMTOPEN=0,"{peer.dut_host}",{peer.port}', "+QMTOPEN", 0).args == [0, 0]
    conn = peer.accept(urc_deadline(modem, "AT+QMTOPEN"))
    line = 'AT+QMTCONN=0,"dut-close"'
    assert modem.command(line).ok
    conn.handshake(timeout=urc_deadline(modem, line))
    assert modem.wait_urc("+QMTCONN", urc_deadline(modem, line), predicate=for_id(0)).args == [0, 0, 0]
    assert result(modem, "AT+QMTCLOSE=0", "+QMTCLOSE", 0).args == [0, 0]
    how = conn.wait_closed(urc_deadline(modem, "AT+QMTCLOSE"))
    observe("TCP close after AT+QMTCLOSE", how)  # no plain reading: FIN or RST
    assert how in ("client FIN", "client RST")
    assert conn.received(codec.Disconnect) == [], "AT+QMTCLOSE sent DISCONNECT (Figure 1: TCP close only)"
    assert modem.command("AT+QMTCONN?").lines == []
    conn.assert_conformant()


@pytest.mark.covers("3.3.3/QMTCLOSE/result/-1")
@pytest.mark.parametrize("cid", [CID.lo, CID.hi])
def test_close_of_id_not_open_fails(modem, observe, cid):
    """3.3.3 "-1 Failed to close network connection": there is no connection to close."""
    close_failed(modem, f"AT+QMTCLOSE={cid}", cid, observe)


@pytest.mark.covers("3.3.3/QMTCLOSE/result/-1", "3.3.3/QMTCLOSE/result/0")
def test_second_close_fails(modem, wire, observe):
    """The first close succeeds (0); the ID is then closed, so the second fails (-1 or error)."""
    open_to(modem, 2, wire.dut_host, wire.port)
    assert result(modem, "AT+QMTCLOSE=2", "+QMTCLOSE", 2).args == [2, 0]
    close_failed(modem, "AT+QMTCLOSE=2", 2, observe)


@pytest.mark.covers("3.3.3/QMTCLOSE/TCP_connectID")
@pytest.mark.parametrize("arg", [*map(str, CID.invalid_values()), "a", "", '"0"', "0,1"],
                         ids=["below", "above", "not_integer", "missing", "quoted", "extra"])
def test_bad_connect_id_is_refused(modem, wire, arg):
    """<TCP_connectID> "Integer type ... Range: 0–4", the only parameter: an open ID 0 stays open."""
    open_to(modem, 0, wire.dut_host, wire.port)
    resp = modem.command(f"AT+QMTCLOSE={arg}")
    assert is_error(resp), f"AT+QMTCLOSE={arg} answered {resp.final}"
    assert opened(modem) == [f'+QMTOPEN: 0,"{wire.dut_host}",{wire.port}']


@pytest.mark.covers("3.3.3/QMTCLOSE/result/0", "3.3.2/QMTOPEN/result/0")
def test_closed_id_can_be_opened_again(modem, wire):
    """After a close the ID is free: AT+QMTOPEN gives 0 again, not 2 (occupied)."""
    open_to(modem, 3, wire.dut_host, wire.port)
    assert result(modem, "AT+QMTCLOSE=3", "+QMTCLOSE", 3).args == [3, 0]
    open_to(modem, 3, wire.dut_host, wire.port)


@pytest.mark.covers("3.3.3/QMTCLOSE/max_response_time", "unclear/disc_close_time")
@pytest.mark.parametrize("connected", [False, True], ids=["open", "connected"])
def test_close_within_300_ms(modem, wire, observe, connected):
    """3.3.3 "Maximum Response Time 300 ms": OK and the result URC within 300 ms x time scale plus the
    transport grace (harness.spec.unclear "disc_close_time"); the real latency is recorded."""
    if connected:
        open_connect(modem, wire.dut_host, wire.port, "dut-close-time", account=wire.account)
    else:
        open_to(modem, 0, wire.dut_host, wire.port)
    deadline = urc_deadline(modem, "AT+QMTCLOSE=0")
    resp = modem.command("AT+QMTCLOSE=0", timeout=deadline)
    assert resp.ok
    urc = modem.wait_urc("+QMTCLOSE", deadline, predicate=for_id(0))
    assert urc.args == [0, 0]
    assert urc.t - resp.started <= deadline
    observe("command to +QMTCLOSE latency (real ms)", round((urc.t - resp.started) * 1000))  # a measurement
