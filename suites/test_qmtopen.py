"""AT+QMTOPEN (3.3.2): the test, read and write forms, every parameter at its bounds and one
past them, and every <result> provoked by its cause, checked on the UART and on the wire."""

from __future__ import annotations

import pytest
from _write_forms import assert_test_form_line

from harness.at import Response
from harness.at.flows import is_error
from harness.spec.codes import values
from harness.spec.commands import QMTOPEN
from harness.spec.plain import reading

pytestmark = pytest.mark.spec("3.3.2")

CID = QMTOPEN.param("TCP_connectID")
HOST = QMTOPEN.param("host_name")
PORT = QMTOPEN.param("port")
RESULTS = values("+QMTOPEN")
NO_SUCH_HOST = "no-such-broker.invalid"  # RFC 6761: names under .invalid never resolve


def host_of_len(n: int) -> str:
    """A syntactically valid domain name of exactly n bytes under .invalid (labels <= 63 bytes)."""
    rest = n - len(".invalid")
    labels = "a" * rest if rest <= 63 else "a" * 60 + "." + "b" * (rest - 61)
    return labels + ".invalid"


def open_line(cid: int | str, host: str, port: int | str) -> str:
    return f'AT+QMTOPEN={cid},"{host}",{port}'


def refused(qmt, line: str, cid: int | None, observe) -> str:
    """3.3.2: a bad parameter is refused with "ERROR Or +CME ERROR: <err>" or with <result> 1
    "Invalid parameter" after OK; the note does not say which, so the way is observed."""
    urc = qmt.error_or_result(line, "+QMTOPEN", cid)
    if isinstance(urc, Response):
        observe("refusal", urc.final)  # no plain reading: the note allows an error or <result> 1
        return urc.final
    assert urc.args[1:] == [1], f"{line}: expected ERROR/+CME ERROR or <result> 1 (Invalid parameter), got {urc.line}"
    observe("refusal", urc.line)
    return urc.line


def no_connection_reached(wire) -> None:
    assert not wire.log.packets(type="OPEN"), "a refused AT+QMTOPEN must not open a TCP connection"


# -- test and read forms ------------------------------------------------------------------------


@pytest.mark.covers("3.3.2/QMTOPEN/test", "3.3.2/QMTOPEN")
def test_test_form_exact_line(qmt):
    """3.3.2: "+QMTOPEN: (range of supported <TCP_connectID>s),<host_name>,(range of supported <port>s)"."""
    assert_test_form_line(qmt, QMTOPEN)


@pytest.mark.covers("3.3.2/QMTOPEN/read", "unclear/read_form_lines")
def test_read_form_empty_when_nothing_open(modem, qmt):
    """3.3.2 "[+QMTOPEN: <TCP_connectID>,<host_name>,<port>]": the brackets mean no line when nothing is open."""
    assert qmt.lines("AT+QMTOPEN?") == []


@pytest.mark.covers("3.3.2/QMTOPEN/read", "unclear/read_form_lines", "3.3.2/QMTOPEN/TCP_connectID")
def test_read_form_lists_every_open_id(modem, qmt, wire, observe):
    """One line per open connect ID, <host_name> in quotes as 6.1 prints it; all five IDs at once."""
    for cid in range(CID.lo, CID.hi + 1):
        assert qmt.open_result(wire, cid).args == [cid, 0]
    lines = qmt.lines("AT+QMTOPEN?")
    observe("AT+QMTOPEN? order", [ln.split(",", 1)[0] for ln in lines])  # the note gives no order
    assert sorted(lines) == [f'+QMTOPEN: {cid},"{wire.dut_host}",{wire.port}' for cid in range(CID.lo, CID.hi + 1)]
    # the proxy logs OPEN when its accept runs, which may be just after the DUT's +QMTOPEN
    wire.log.wait_for(type="OPEN", count=CID.hi - CID.lo + 1, timeout=qmt.deadline("AT+QMTOPEN"))
    assert len(wire.log.packets(type="OPEN")) == CID.hi - CID.lo + 1


# -- write form: valid values --------------------------------------------------------------------


@pytest.mark.covers("3.3.2/QMTOPEN/write", "3.3.2/QMTOPEN/TCP_connectID", "3.3.2/QMTOPEN/result/0",
                    "3.3.2/QMTOPEN/urc", "3.3.2/QMTOPEN/port", "3.3.2/QMTOPEN/host_name")
@pytest.mark.parametrize("cid", range(CID.lo, CID.hi + 1))
def test_open_each_connect_id(modem, qmt, wire, cid):
    """3.3.2 "0 Network connection opened successfully", then listed by the read form; TCP reached the proxy."""
    assert qmt.open_result(wire, cid).args == [cid, 0]
    assert qmt.lines("AT+QMTOPEN?") == [f'+QMTOPEN: {cid},"{wire.dut_host}",{wire.port}']
    wire.log.wait_for(type="OPEN", timeout=qmt.deadline("AT+QMTOPEN"))


@pytest.mark.covers("3.3.2/QMTOPEN/write", "3.3.2/QMTOPEN/result/0")
def test_open_sends_no_mqtt_packet(modem, qmt, peer, observe):
    """Figure 1 / 3.3.2: AT+QMTOPEN opens TCP only; CONNECT waits for AT+QMTCONN (3.3.4).

    Closing (3.3.3) makes the DUT send FIN; TCP delivers everything sent before it, so an empty
    log at the close proves nothing was sent while open."""
    conn = qmt.accept(peer)
    state = modem.command("AT+QMTCONN?")
    observe("AT+QMTCONN? after AT+QMTOPEN only", state.lines,
            plain=reading("3.3.4/QMTCONN/state/1", ["+QMTCONN: 0,1"]))
    assert qmt.result("AT+QMTCLOSE=0", "+QMTCLOSE", 0).args == [0, 0]
    conn.wait_closed(qmt.deadline("AT+QMTCLOSE=0"))
    assert conn.received() == [], f"AT+QMTOPEN alone sent {[str(r) for r in conn.received()]}"


@pytest.mark.covers("3.3.2/QMTOPEN/port", "3.3.2/QMTOPEN/result/-1")
@pytest.mark.parametrize("port", [PORT.lo, PORT.hi])
def test_port_bounds_accepted_then_connection_refused(modem, qmt, wire, port):
    """<port> "Range: 1–65535": the bounds are valid, so the answer is OK and, with nothing listening
    there, <result> -1 "Failed to open network connection" (not 1, Invalid parameter)."""
    assert qmt.result(open_line(0, wire.dut_host, port), "+QMTOPEN", 0).args == [0, -1]
    assert qmt.lines("AT+QMTOPEN?") == []


@pytest.mark.covers("3.3.2/QMTOPEN/host_name", "3.3.2/QMTOPEN/result/4")
@pytest.mark.parametrize("length", [HOST.max_len - 10, HOST.max_len])
def test_host_name_up_to_100_bytes_is_accepted(modem, qmt, length):
    """<host_name> "Maximum length: 100 bytes": a 100-byte name is a valid parameter; it does not
    resolve (.invalid), so the result is 4 "Failed to parse the domain name", not 1."""
    host = host_of_len(length)
    assert len(host) == length
    assert qmt.result(open_line(0, host, 1883), "+QMTOPEN", 0).args == [0, 4]


@pytest.mark.covers("3.3.2/QMTOPEN/host_name", "3.3.2/QMTOPEN/result/0")
def test_host_name_as_domain_name(modem, qmt, wire, observe):
    """<host_name> "It can be an IP address or a domain name": localhost names the rig's loopback."""
    if wire.dut_host != "127.0.0.1":
        pytest.skip("the DUT's resolver is the network's: only a loopback rig knows that localhost is the broker")
    assert qmt.result(open_line(0, "localhost", wire.port), "+QMTOPEN", 0).args == [0, 0]
    assert qmt.lines("AT+QMTOPEN?") == [f'+QMTOPEN: 0,"localhost",{wire.port}']


# -- write form: invalid values ------------------------------------------------------------------


@pytest.mark.covers("3.3.2/QMTOPEN/TCP_connectID", "3.3.2/QMTOPEN/result/1")
@pytest.mark.parametrize("cid", CID.invalid_values())
def test_connect_id_out_of_range_is_refused(modem, qmt, wire, observe, cid):
    """<TCP_connectID> "Range: 0–4"."""
    refused(qmt, open_line(cid, wire.dut_host, wire.port), cid, observe)
    assert qmt.lines("AT+QMTOPEN?") == []
    no_connection_reached(wire)


@pytest.mark.covers("3.3.2/QMTOPEN/port", "3.3.2/QMTOPEN/result/1")
@pytest.mark.parametrize("port", PORT.invalid_values())
def test_port_out_of_range_is_refused(modem, qmt, wire, observe, port):
    """<port> "Range: 1–65535"."""
    refused(qmt, open_line(0, wire.dut_host, port), 0, observe)
    assert qmt.lines("AT+QMTOPEN?") == []
    no_connection_reached(wire)


@pytest.mark.covers("3.3.2/QMTOPEN/host_name", "3.3.2/QMTOPEN/result/1")
def test_host_name_of_101_bytes_is_refused(modem, qmt, observe):
    """<host_name> "Maximum length: 100 bytes": one byte more is an invalid parameter (ERROR or
    <result> 1), not a lookup that fails (4)."""
    refused(qmt, open_line(0, host_of_len(HOST.max_len + 1), 1883), 0, observe)
    assert qmt.lines("AT+QMTOPEN?") == []


BAD_FORMS = {
    "cid_not_integer": 'AT+QMTOPEN=a,"{h}",{p}',
    "cid_empty": 'AT+QMTOPEN=,"{h}",{p}',
    "port_not_integer": 'AT+QMTOPEN=0,"{h}",abc',
    "port_fraction": 'AT+QMTOPEN=0,"{h}",1883.5',
    "port_quoted": 'AT+QMTOPEN=0,"{h}","{p}"',
    "port_missing": 'AT+QMTOPEN=0,"{h}"',
    "host_and_port_missing": "AT+QMTOPEN=0",
    "no_parameters": "AT+QMTOPEN=",
    "extra_parameter": 'AT+QMTOPEN=0,"{h}",{p},1',
}


@pytest.mark.covers("3.3.2/QMTOPEN/write", "3.3.2/QMTOPEN/result/1")
@pytest.mark.parametrize("form", BAD_FORMS.values(), ids=BAD_FORMS.keys())
def test_malformed_write_is_refused(modem, qmt, wire, observe, form):
    """The write form is AT+QMTOPEN=<TCP_connectID>,<host_name>,<port>, all three required, integers where
    the note says "Integer type"."""
    refused(qmt, form.format(h=wire.dut_host, p=wire.port), None, observe)
    assert qmt.lines("AT+QMTOPEN?") == []
    no_connection_reached(wire)


@pytest.mark.covers("unclear/quoted_strings", "3.3.2/QMTOPEN/host_name")
@pytest.mark.parametrize("host", ["", "unquoted"], ids=["empty_host", "unquoted_host"])
def test_host_name_edge_forms_are_observed(modem, qmt, wire, observe, host):
    """The note gives <host_name> no minimum and quotes every string in its examples: an empty name
    and an unquoted address are observations (harness.spec.unclear "quoted_strings")."""
    line = open_line(0, "", wire.port) if host == "" else f"AT+QMTOPEN=0,{wire.dut_host},{wire.port}"
    resp = modem.command(line)
    observe("answer", resp.final)  # no plain reading: the note sets no minimum and never unquotes
    if resp.ok:
        urc = qmt.urc("+QMTOPEN", 0, line)
        observe("result", urc.line)
        assert urc.args[1] in RESULTS, f"{urc.line}: <result> not one the note defines"
    else:
        assert is_error(resp)


# -- each <result> from its cause ------------------------------------------------------------------


def occupied(qmt, line: str, cid: int) -> None:
    """3.3.2 write form: "OK", then "+QMTOPEN: <TCP_connectID>,<result>" with <result> "2 The MQTT socket
    is occupied". The message quotes the note and what the module answered (a real A05 answers
    +CME ERROR: operation not allowed instead, observations fact 32)."""
    note = f'3.3.2: an open connect ID answers OK, then +QMTOPEN: {cid},2 ("2 The MQTT socket is occupied")'
    resp = qmt.channel.command(line)
    assert resp.final == "OK", f"{note}; {line} answered {resp.final!r}"
    urc = qmt.urc("+QMTOPEN", cid, line)
    assert urc.args == [cid, 2], f"{note}; {line} answered OK, then {urc.line}"


@pytest.mark.covers("3.3.2/QMTOPEN/result/2")
def test_same_connect_id_twice_is_occupied(modem, qmt, wire):
    """3.3.2 "2 The MQTT socket is occupied": the first connection stays as it was."""
    assert qmt.open_result(wire, 1).args == [1, 0]
    occupied(qmt, open_line(1, wire.dut_host, PORT.lo), 1)
    assert qmt.lines("AT+QMTOPEN?") == [f'+QMTOPEN: 1,"{wire.dut_host}",{wire.port}']
    wire.log.wait_for(type="OPEN", timeout=qmt.deadline("AT+QMTOPEN"))
    assert len(wire.log.packets(type="OPEN")) == 1


@pytest.mark.spec("3.3.4")
@pytest.mark.covers("3.3.2/QMTOPEN/result/2", "3.3.4/QMTCONN/state/3")
def test_connected_id_is_occupied_and_session_survives(modem, qmt, wire):
    """An MQTT-connected ID is occupied too; the session is not disturbed (still state 3, connected)."""
    qmt.open_connect(wire, "dut-occupied")
    occupied(qmt, open_line(0, wire.dut_host, wire.port), 0)
    assert modem.command("AT+QMTCONN?").lines == ["+QMTCONN: 0,3"]
    assert len(wire.log.packets(type="OPEN")) == 1


@pytest.mark.covers("3.3.2/QMTOPEN/result/-1")
def test_connection_refused_is_failed_to_open(modem, qmt, wire):
    """3.3.2 "-1 Failed to open network connection": nothing listens at the broker's address."""
    wire.proxy.refuse_connections()
    assert qmt.open_result(wire, 2).args == [2, -1]
    assert qmt.lines("AT+QMTOPEN?") == []


@pytest.mark.covers("3.3.2/QMTOPEN/result/-1", "3.3.2/QMTOPEN/result/0")
def test_failed_open_leaves_id_free(modem, qmt, wire):
    """After -1 the ID is not occupied: the next open of it succeeds (0), not 2."""
    wire.proxy.refuse_connections()
    assert qmt.open_result(wire, 0).args == [0, -1]
    wire.proxy.refuse_connections(False)
    assert qmt.open_result(wire, 0).args == [0, 0]


@pytest.mark.covers("3.3.2/QMTOPEN/result/4")
@pytest.mark.parametrize("host", [NO_SUCH_HOST, "mqtt.sub.domain.invalid"])
def test_unresolvable_name_fails_to_parse(modem, qmt, host):
    """3.3.2 "4 Failed to parse the domain name": RFC 6761 names under .invalid never resolve."""
    assert qmt.result(open_line(3, host, 1883), "+QMTOPEN", 3).args == [3, 4]
    assert qmt.lines("AT+QMTOPEN?") == []


@pytest.mark.covers("3.3.2/QMTOPEN/result/3")
def test_pdp_activation_failure(modem, qmt, wire):
    """3.3.2 "3 Failed to activate the PDP": with the radio off (AT+CFUN=0) the module has no PDP
    context to activate; the case opens, then turns the radio back on."""
    assert modem.command("AT+CFUN=0").ok
    try:
        assert qmt.open_result(wire, 0).args == [0, 3]
    finally:
        assert modem.command("AT+CFUN=1").ok


@pytest.mark.covers("3.3.2/QMTOPEN/max_response_time")
def test_result_within_maximum_response_time(modem, qmt, wire, observe):
    """3.3.2 "Maximum Response Time 176 s, determined by network": on loopback the result is
    measured and recorded; the deadline (scaled) is what fails the case."""
    line = open_line(4, wire.dut_host, wire.port)
    resp = modem.command(line)
    assert resp.ok
    urc = qmt.urc("+QMTOPEN", 4, line)
    assert urc.args == [4, 0]
    observe("OK to +QMTOPEN latency (real ms)", round((urc.t - resp.finished) * 1000))  # a measurement
