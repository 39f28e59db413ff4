"""AT+QMTCONN (3.3.4): test, read and write forms; <clientID>, <user_name>, <pass_word> at their
maximum lengths and one byte past; the CONNECT packet as configured (3.3.1); every <result>,
<ret_code> and <state> from its cause; CONNECT/CONNACK failures and their +QMTSTAT (5.1); and
note 1 (the same client ID twice). Verdicts on the client's packets come from the scripted peer."""

from __future__ import annotations

import pytest
from _write_forms import assert_test_form_line

from harness.at import ATTimeout
from harness.at.flows import for_id, is_error
from harness.mqtt import codec
from harness.spec.codes import values
from harness.spec.commands import QMTCONN
from harness.spec.plain import qmtstat, reading

pytestmark = pytest.mark.spec("3.3.4")

CID = QMTCONN.param("TCP_connectID")
CLIENT_ID = QMTCONN.param("clientID")
USER = QMTCONN.param("user_name")
PASSWORD = QMTCONN.param("pass_word")
RET_CODES = values("+QMTCONN", "ret_code")
QMTSTAT_CODES = range(1, 8)


def conn_line(cid: int, client_id: str, user: str | None = None, password: str | None = None) -> str:
    creds = "".join(f',"{v}"' for v in (user, password) if v is not None)
    return f'AT+QMTCONN={cid},"{client_id}"{creds}'


def no_connect_sent(qmt, conn, cid: int = 0) -> None:
    """Close the ID and wait for the FIN: everything the DUT sent before it has arrived by then."""
    qmt.close_peer(conn, cid)
    assert conn.received(codec.Connect) == [], "a refused AT+QMTCONN sent CONNECT"


# -- test and read forms ------------------------------------------------------------------------


@pytest.mark.covers("3.3.4/QMTCONN/test", "3.3.4/QMTCONN", "unclear/conn_test_names")
def test_test_form_exact_line(qmt):
    """3.3.4 test form, printed in 6.1 as "+QMTCONN: (0-4),<clientID>,<username>,<password>"."""
    assert_test_form_line(qmt, QMTCONN)


@pytest.mark.covers("3.3.4/QMTCONN/read", "unclear/read_form_lines")
def test_read_form_empty_when_nothing_connected(modem, qmt):
    assert qmt.lines("AT+QMTCONN?") == []


@pytest.mark.covers("3.3.4/QMTCONN/read", "3.3.4/QMTCONN/state/3", "3.3.4/QMTCONN/state", "unclear/read_form_lines")
def test_read_form_lists_every_connected_id_as_connected(modem, qmt, wire):
    """3.3.4 "[+QMTCONN: <TCP_connectID>,<state>]", "3 connected": one line per connected ID."""
    for cid in range(CID.lo, CID.hi + 1):
        qmt.open_connect(wire, f"dut-read-{cid}", cid)
    assert sorted(qmt.lines("AT+QMTCONN?")) == [f"+QMTCONN: {cid},3" for cid in range(CID.lo, CID.hi + 1)]


@pytest.mark.covers("3.3.4/QMTCONN/state/1", "unclear/read_form_lines")
def test_state_after_open_before_connect(modem, qmt, peer, observe):
    """"1 MQTT connection is initializing": whether an open, not yet connected ID is listed is an
    observation (harness.spec.unclear "read_form_lines"); listed, it cannot be connected (3) yet."""
    qmt.accept(peer, 1)
    lines = qmt.lines("AT+QMTCONN?")
    observe("AT+QMTCONN? after AT+QMTOPEN", lines, plain=reading("3.3.4/QMTCONN/state/1", ["+QMTCONN: 1,1"]))
    assert all(ln.startswith("+QMTCONN: 1,") for ln in lines) and "+QMTCONN: 1,3" not in lines


@pytest.mark.covers("3.3.4/QMTCONN/state/2", "3.3.4/QMTCONN/state/3", "unclear/read_form_lines")
def test_state_while_connack_withheld_then_connected(modem, qmt, peer, observe):
    """"2 connecting" while the peer holds CONNACK back (observed); "3 connected" once it arrives."""
    conn = qmt.accept(peer)
    line = conn_line(0, "dut-connecting")
    qmt.ok(line)
    conn.expect(codec.Connect, qmt.deadline(line))
    lines = qmt.lines("AT+QMTCONN?")
    observe("AT+QMTCONN? while CONNACK is withheld", lines, plain=reading("3.3.4/QMTCONN/state/2", ["+QMTCONN: 0,2"]))
    assert "+QMTCONN: 0,3" not in lines, "connected (3) before any CONNACK"
    conn.send(codec.ConnAck(False, 0))
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 0, 0]
    assert qmt.lines("AT+QMTCONN?") == ["+QMTCONN: 0,3"]


# -- write form: parameters and the CONNECT they produce --------------------------------------------


@pytest.mark.covers("3.3.4/QMTCONN/write", "3.3.4/QMTCONN/clientID", "3.3.4/QMTCONN/result/0",
                    "3.3.4/QMTCONN/ret_code/0", "3.3.4/QMTCONN/urc", "unclear/conn_ret_code_presence")
@pytest.mark.parametrize("client_id", CLIENT_ID.valid_values(), ids=lambda v: f"len{len(v)}")
def test_client_id_up_to_128_bytes_is_sent_as_given(modem, qmt, peer, client_id):
    """<clientID> "Maximum length: 128 bytes": CONNECT carries it unchanged; "+QMTCONN: 0,0,0"."""
    conn = qmt.accept(peer)
    line = conn_line(0, client_id)
    qmt.ok(line)
    conn.handshake(client_id=client_id, timeout=qmt.deadline(line))
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 0, 0]
    conn.assert_conformant()


@pytest.mark.covers("3.3.4/QMTCONN/clientID", "3.3.4/QMTCONN/user_name", "3.3.4/QMTCONN/pass_word")
@pytest.mark.parametrize("which", ["clientID", "user_name", "pass_word"])
def test_string_one_byte_too_long_is_refused(modem, qmt, peer, which):
    """<clientID> 128, <user_name> 256, <pass_word> 256 bytes at most: one more is refused with ERROR or
    +CME ERROR, and no CONNECT goes out."""
    conn = qmt.accept(peer)
    too_long = {"clientID": CLIENT_ID, "user_name": USER, "pass_word": PASSWORD}[which]
    value = too_long.sample(too_long.max_len + 1)
    args = {"clientID": (value, "u", "p"), "user_name": ("dut", value, "p"), "pass_word": ("dut", "u", value)}[which]
    resp = modem.command(conn_line(0, *args))
    assert is_error(resp), f"<{which}> of {len(value)} bytes answered {resp.final}"
    no_connect_sent(qmt, conn)


CREDS = {
    "none": (None, None),
    "user_only": ("u", None),
    "user_and_password": ("u", "p4ss"),
    "user_256": (USER.sample(USER.max_len), None),
    "password_256": ("u", PASSWORD.sample(PASSWORD.max_len)),
}


@pytest.mark.covers("3.3.4/QMTCONN/write", "3.3.4/QMTCONN/user_name", "3.3.4/QMTCONN/pass_word")
@pytest.mark.parametrize(("user", "password"), CREDS.values(), ids=CREDS.keys())
def test_credentials_presence_in_connect(modem, qmt, peer, user, password):
    """AT+QMTCONN=<TCP_connectID>,<clientID>[,<username>[,<password>]]: CONNECT carries exactly the
    credentials given (user name/password flags set only then), at their full length."""
    conn = qmt.accept(peer)
    line = conn_line(0, "dut-creds", user, password)
    qmt.ok(line)
    connect = conn.handshake(timeout=qmt.deadline(line))
    assert connect.username == user
    assert connect.password == (password.encode() if password is not None else None)
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 0, 0]
    conn.assert_conformant()


@pytest.mark.covers("3.3.4/QMTCONN/write", "3.3.4/QMTCONN/pass_word")
def test_explicit_empty_password_is_sent(modem, qmt, peer):
    """<pass_word> "String type with double quotes ... Maximum length: 256 bytes" sets no minimum: `""` is a
    password of 0 bytes, which CONNECT carries (password flag set, [MQTT-3.1.2-21]). A real A05 refuses
    it with +CME ERROR: Incorrect parameters (observations fact 37), not a chapter 4 code either."""
    conn = qmt.accept(peer)
    line = conn_line(0, "dut-empty-password", "u", "")
    resp = modem.command(line)
    assert resp.ok, ('3.3.4: <pass_word> is a "String type with double quotes ... Maximum length: 256 bytes", '
                     f'no minimum, so "" is a password and {line} answers OK, then +QMTCONN: 0,0,0; the module '
                     f"answered {resp.final!r}")
    connect = conn.handshake(timeout=qmt.deadline(line))
    assert (connect.username, connect.password) == ("u", b""), "CONNECT must carry the empty password as given"
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 0, 0]
    conn.assert_conformant()


@pytest.mark.covers("unclear/quoted_strings", "3.3.4/QMTCONN/clientID")
@pytest.mark.parametrize("line", ['AT+QMTCONN=0,""', "AT+QMTCONN=0,unquoted"], ids=["empty", "unquoted"])
def test_client_id_edge_forms_are_observed(modem, qmt, peer, observe, line):
    """The note sets no minimum for <clientID> and quotes strings in every example: an empty and an
    unquoted client ID are observations (answer, CONNECT's client id, result)."""
    conn = qmt.accept(peer)
    resp = modem.command(line)
    observe("answer", resp.final)  # no plain reading: no minimum, and every example quotes
    if not resp.ok:
        assert is_error(resp)
        return
    connect = conn.expect(codec.Connect, qmt.deadline(line))
    observe("CONNECT client id", repr(connect.client_id))
    conn.send(codec.ConnAck(False, 0))
    urc = qmt.urc("+QMTCONN", 0, line)
    observe("result", urc.line)
    assert urc.args[1] in values("+QMTCONN")


BAD_FORMS = {
    "cid_below": 'AT+QMTCONN=-1,"dut"',
    "cid_above": 'AT+QMTCONN=5,"dut"',
    "cid_not_integer": 'AT+QMTCONN=a,"dut"',
    "client_id_missing": "AT+QMTCONN=0",
    "no_parameters": "AT+QMTCONN=",
    "extra_parameter": 'AT+QMTCONN=0,"dut","u","p","x"',
}


@pytest.mark.covers("3.3.4/QMTCONN/write", "3.3.4/QMTCONN/TCP_connectID")
@pytest.mark.parametrize("line", BAD_FORMS.values(), ids=BAD_FORMS.keys())
def test_malformed_write_is_refused(modem, qmt, peer, line):
    """<TCP_connectID> "Range: 0–4", <clientID> required, at most <username> and <password> after it."""
    conn = qmt.accept(peer)
    resp = modem.command(line)
    assert is_error(resp), f"{line} answered {resp.final}"
    no_connect_sent(qmt, conn)


@pytest.mark.covers("3.3.4/QMTCONN/write", "3.3.4/QMTCONN/result/2")
def test_connect_on_id_not_open_does_not_succeed(modem, qmt, observe):
    """Figure 1: AT+QMTCONN follows +QMTOPEN. On a closed ID it cannot succeed: ERROR, or a result
    other than 0 (which is observed)."""
    line = conn_line(2, "dut-not-open")
    resp = modem.command(line)
    observe("answer", resp.final)  # no plain reading: an error and <result> 2 both fit
    if resp.ok:
        urc = qmt.urc("+QMTCONN", 2, line)
        observe("result", urc.line)
        assert urc.args[1] != 0, urc.line
    else:
        assert is_error(resp)
    assert qmt.lines("AT+QMTCONN?") == []


CONFIGS = {
    "keepalive_0": ('"keepalive",0,0', {"keepalive": 0}),
    "keepalive_60": ('"keepalive",0,60', {"keepalive": 60}),
    "keepalive_3600": ('"keepalive",0,3600', {"keepalive": 3600}),
    "keepalive_default": (None, {"keepalive": 120}),
    "clean_session_0": ('"session",0,0', {"clean_session": False}),
    "clean_session_1": ('"session",0,1', {"clean_session": True}),
    "will": ('"will",0,1,1,1,"dut/will","gone"', {"will_flag": True, "will_qos": 1, "will_retain": True,
                                                  "will_topic": "dut/will", "will_payload": b"gone"}),
    "will_qos2": ('"will",0,1,2,0,"w","x"', {"will_flag": True, "will_qos": 2, "will_retain": False}),
    "no_will": ('"will",0,0', {"will_flag": False}),
    "version_3_1": ('"version",0,0', {"protocol_name": "MQIsdp", "protocol_level": 3}),
    "version_3_1_1": ('"version",0,1', {"protocol_name": "MQTT", "protocol_level": 4}),
}


@pytest.mark.spec("3.3.1")
@pytest.mark.covers("3.3.4/QMTCONN/write", "3.3.1/keepalive/keep_alive_time", "3.3.1/session/clean_session",
                    "3.3.1/will/will_fg", "3.3.1/will/will_QoS", "3.3.1/will/will_retain", "3.3.1/will/will_topic",
                    "3.3.1/will/will_msg", "3.3.1/version/version_num", "3.3.1/note/6")
@pytest.mark.parametrize(("cfg", "fields"), CONFIGS.values(), ids=CONFIGS.keys())
def test_connect_carries_configuration(modem, qmt, peer, cfg, fields):
    """3.3.1 note 6: "will", "session", "keepalive", "version" are configured before AT+QMTOPEN and the
    CONNECT carries them: keep-alive seconds, clean session flag, will flag/QoS/retain/topic/message,
    protocol name and level (3.1: MQIsdp/3, 3.1.1: MQTT/4)."""
    if cfg is not None:
        assert modem.command(f"AT+QMTCFG={cfg}").ok
    conn = qmt.accept(peer)
    line = conn_line(0, "dut-cfg")
    qmt.ok(line)
    conn.handshake(timeout=qmt.deadline(line), **fields)
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 0, 0]
    conn.assert_conformant()


# -- <ret_code> and <result> from their causes -----------------------------------------------------


@pytest.mark.covers("3.3.4/QMTCONN/ret_code/0", "3.3.4/QMTCONN/ret_code/1", "3.3.4/QMTCONN/ret_code/2",
                    "3.3.4/QMTCONN/ret_code/3", "3.3.4/QMTCONN/ret_code/4", "3.3.4/QMTCONN/ret_code/5",
                    "3.3.4/QMTCONN/result/0", "unclear/conn_ret_code_presence")
@pytest.mark.parametrize("code", RET_CODES)
def test_connack_return_code_is_reported(modem, qmt, peer, observe, code):
    """<ret_code> 0..5 (Connection Accepted .. Refused: Unauthorized) is the CONNACK's return code; a
    CONNACK arrived, so <result> is 0 with <ret_code> present (unclear "conn_ret_code_presence").
    Refused, the ID is not connected."""
    conn = qmt.accept(peer)
    line = conn_line(0, f"dut-rc{code}")
    qmt.ok(line)
    conn.handshake(return_code=code, timeout=qmt.deadline(line))
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 0, code]
    if code:
        assert "+QMTCONN: 0,3" not in qmt.lines("AT+QMTCONN?")
        observe("URCs after the refusal", [u.line for u in modem.drain_urcs()])  # the note says nothing after it
    else:
        assert qmt.lines("AT+QMTCONN?") == ["+QMTCONN: 0,3"]


@pytest.mark.spec("5.1")
@pytest.mark.covers("3.3.4/QMTCONN/result/2", "3.3.4/QMTCONN/max_response_time", "5.1/QMTSTAT/4",
                    "unclear/conn_ret_code_presence", "unclear/qmtstat_codes")
def test_no_connack_fails_to_send(modem, qmt, peer, observe):
    """"2 Failed to send packet" without <ret_code> when no CONNACK comes within <pkt_timeout> x
    (<retry_times> + 1); 5.1 Table 4 "4 Receiving CONNACK packet timed out or failed": some +QMTSTAT
    closes the ID (verdict), its code is observed against 4 (unclear "qmtstat_codes")."""
    qmt.timeout(0, 1, 0)
    conn = qmt.accept(peer)
    line = conn_line(0, "dut-no-connack")
    qmt.ok(line)
    conn.expect(codec.Connect, qmt.deadline(line))
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 2]
    stat = qmt.urc("+QMTSTAT", 0, line)
    assert stat.args[1] in QMTSTAT_CODES, stat.line
    observe("+QMTSTAT after CONNACK timeout (expected 4)", stat.line, plain=qmtstat(4, cid=0))
    assert modem.command("AT+QMTOPEN?").lines == []


@pytest.mark.covers("3.3.4/QMTCONN/result/1", "3.3.4/QMTCONN/result/2", "3.3.4/QMTCONN/retry_times",
                    "3.3.4/QMTCONN/pkt_timeout", "3.3.4/QMTCONN/max_response_time")
def test_connack_timeout_with_retries(modem, qmt, peer, observe):
    """"1 Retransmit packet": with <retry_times> 2 and timeout reports on, each report has <result> 1;
    the final result is 2 within <pkt_timeout> x (<retry_times> + 1). Whether CONNECT itself is sent
    again (MQTT 3.1.1 forbids a second CONNECT on a connection) is recorded."""
    qmt.timeout(0, 1, 2, 1)
    conn = qmt.accept(peer)
    line = conn_line(0, "dut-retry")
    qmt.ok(line)
    conn.expect(codec.Connect, qmt.deadline(line))
    seen = []
    while True:
        urc = qmt.urc("+QMTCONN", 0, line)
        seen.append(urc.line)
        if urc.args[1] != 1:
            break
        assert len(seen) <= 2, f"more result-1 reports than <retry_times> 2: {seen}"
    # No plain reading: Figure 1 and 3.3.4 disagree on the report's shape, and 3.3.4's "Retransmit packet"
    # against MQTT 3.1.1's single CONNECT per connection.
    observe("+QMTCONN sequence", seen)
    observe("CONNECT packets sent", len(conn.received(codec.Connect)))
    assert urc.args == [0, 2], seen


@pytest.mark.spec("5.1")
@pytest.mark.covers("5.1/QMTSTAT/4", "5.1/QMTSTAT/3", "5.1/QMTSTAT/urc", "5.1/QMTSTAT/closes", "unclear/qmtstat_codes")
@pytest.mark.parametrize("when", ["reset_on_connect", "close_on_connect", "close_before_connect"])
def test_connect_flow_broken_by_peer(modem, qmt, peer, observe, when):
    """5.1: "When the state of the MQTT link layer is changed, the client will close the MQTT connection
    and report the URC": the CONNECT flow ends without success, some +QMTSTAT: 0,<1..7> arrives and
    the ID is closed. The codes are observed against the stance (CONNECT not sent 3, CONNACK failed 4,
    peer closed 1)."""
    conn = qmt.accept(peer)
    line = conn_line(0, "dut-broken")
    if when == "close_before_connect":
        conn.close()
        stat = modem.wait_urc("+QMTSTAT", qmt.deadline("AT+QMTOPEN"), predicate=for_id(0))
        observe("+QMTSTAT after peer FIN before CONNECT (expected 1)", stat.line, plain=qmtstat(1, cid=0))
        resp = modem.command(line)
        observe("AT+QMTCONN after the link closed", resp.final)  # Figure 1 has no such step: no reading
        if resp.ok:
            urc = qmt.urc("+QMTCONN", 0, line)
            observe("its result", urc.line)
            assert urc.args[1] != 0
    else:
        qmt.ok(line)
        conn.expect(codec.Connect, qmt.deadline(line))
        conn.reset() if when == "reset_on_connect" else conn.close()
        stat = qmt.urc("+QMTSTAT", 0, line)
        # No plain reading: a peer that closes while CONNACK is awaited fits Table 4 row 1 ("closed or
        # reset by its remote peer") and row 4 ("Receiving CONNACK packet ... failed") alike.
        observe(f"+QMTSTAT after peer {when} (expected 4)", stat.line)
        try:  # whether the pending AT+QMTCONN still reports a result is not in the note: observed
            outcome: str | None = qmt.urc("+QMTCONN", 0, line).line
        except ATTimeout:
            outcome = None
        observe("+QMTCONN result after the link loss", outcome)
        assert outcome != "+QMTCONN: 0,0,0"
    assert stat.args[1] in QMTSTAT_CODES, stat.line
    assert modem.command("AT+QMTOPEN?").lines == []
    assert "+QMTCONN: 0,3" not in qmt.lines("AT+QMTCONN?")


# -- note 1: the same client ID twice ----------------------------------------------------------------


@pytest.mark.spec("5.1")
@pytest.mark.covers("3.3.4/QMTCONN/note/1", "5.1/QMTSTAT/1", "unclear/qmtstat_codes")
def test_same_client_id_on_second_id_with_scripted_server(modem, qmt, peer, observe):
    """3.3.4 note: "A client already connected to the server must be disconnected from the server before
    the CONNECT flow of a new client with the same client ID can be completed". The peer does what
    MQTT 3.1.1 [MQTT-3.1.4-2] asks of a server: closes the first connection, then accepts the second.
    The DUT reports the first ID's loss (+QMTSTAT) and the second's success."""
    first = qmt.accept(peer, 0)
    line0 = conn_line(0, "dut-same")
    qmt.ok(line0)
    first.handshake(client_id="dut-same", timeout=qmt.deadline(line0))
    assert qmt.urc("+QMTCONN", 0, line0).args == [0, 0, 0]
    second = qmt.accept(peer, 1)
    line1 = conn_line(1, "dut-same")
    qmt.ok(line1)
    second.expect(codec.Connect, qmt.deadline(line1))
    first.close()
    second.send(codec.ConnAck(False, 0))
    assert qmt.urc("+QMTCONN", 1, line1).args == [1, 0, 0]
    stat = qmt.urc("+QMTSTAT", 0, line1)
    observe("+QMTSTAT for the first ID (expected 1)", stat.line, plain=qmtstat(1, cid=0))
    assert stat.args[1] in QMTSTAT_CODES
    assert qmt.lines("AT+QMTCONN?") == ["+QMTCONN: 1,3"]


@pytest.mark.spec("5.1")
@pytest.mark.covers("3.3.4/QMTCONN/note/1", "5.1/QMTSTAT/1")
@pytest.mark.needs_broker("client_id_takeover")
def test_same_client_id_on_second_id_with_real_broker(modem, qmt, wire, broker, observe):
    """The same, end to end through the rig's broker: the second connect completes, the first ID loses
    its link (+QMTSTAT) and is no longer connected."""
    qmt.open_connect(wire, "dut-same-broker", 0)
    qmt.open_connect(wire, "dut-same-broker", 1)
    deadline = qmt.deadline(conn_line(0, "x"))
    wire.log.wait_for(type="EOF", direction="B>C", timeout=deadline)  # the broker's takeover
    stat = modem.wait_urc("+QMTSTAT", deadline, predicate=for_id(0))
    observe("+QMTSTAT for the first ID (expected 1)", stat.line, plain=qmtstat(1, cid=0))
    assert stat.args[1] in QMTSTAT_CODES
    assert qmt.lines("AT+QMTCONN?") == ["+QMTCONN: 1,3"]
