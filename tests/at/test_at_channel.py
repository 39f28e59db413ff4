"""The AT channel against a scripted fake module on real transports (TCP loopback, a pty pair).

Section numbers refer to the BC660K-GL MQTT application note; "DESIGN" to DESIGN.md's
"Module facts".
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from at_peer import ERROR, OK, AtPeer, DataMode, Gate, resp

from harness.at import (
    ATChannel,
    ATError,
    ATProtocolError,
    ATTimeout,
    PortOpenError,
    Transcript,
    Urc,
    parse_args,
)
from harness.at.framing import LineFramer

pytestmark = pytest.mark.timeout(15)


@pytest.fixture
def peer() -> Iterator[AtPeer]:
    with AtPeer("tcp") as p:
        yield p


@pytest.fixture
def ch(peer: AtPeer) -> Iterator[ATChannel]:
    with ATChannel(peer.url, time_scale=0.01) as c:
        yield c


def _no_reader_thread(url: str) -> bool:
    """No reader of the channel on `url` (another test session's channels, e.g. the suite's DUT
    when suites and tests run in one process, are not this test's business)."""
    return not [t for t in threading.enumerate() if t.name == f"at-reader {url}"]


# --------------------------------------------------------------- results (3.1.2, DESIGN)

def test_3_1_2_ok_with_echo_on(peer: AtPeer, ch: ATChannel) -> None:
    peer.on("AT", OK)
    r = ch.command("AT", timeout=2)
    assert (r.command, r.echo, r.lines, r.final, r.ok, r.cme_error) == ("AT", "AT", [], "OK", True, None)
    assert 0 <= r.elapsed < 2 and r.finished >= r.started


def test_error_and_cme_error_numeric_and_verbose(peer: AtPeer, ch: ATChannel) -> None:
    peer.on("AT+FOO", ERROR)
    peer.on('AT+QMTCONN=0,"c"', resp("+CME ERROR: 8507"))
    peer.on("AT+QMTCLOSE=0", resp("+CME ERROR: operation not allowed"))
    r = ch.command("AT+FOO", timeout=2)
    assert (r.final, r.ok, r.cme_error) == ("ERROR", False, None)
    r = ch.command('AT+QMTCONN=0,"c"', timeout=2)
    assert (r.final, r.cme_error) == ("+CME ERROR: 8507", 8507)
    r = ch.command("AT+QMTCLOSE=0", timeout=2)
    assert (r.ok, r.cme_error) == (False, "operation not allowed")


def test_echo_off_and_information_lines(peer: AtPeer, ch: ATChannel) -> None:
    peer.echo = False
    peer.on("ATI", resp("Quectel_Ltd", "Quectel_BC660K-GL", "Revision: BC660KGLAAR01A05", "", "OK"))
    r = ch.command("ATI", timeout=2)
    assert r.echo is None
    assert r.lines == ["Quectel_Ltd", "Quectel_BC660K-GL", "Revision: BC660KGLAAR01A05"]
    assert r.ok and ch.pending_urcs() == []


def test_ate0_echo_then_no_echo(peer: AtPeer, ch: ATChannel) -> None:
    def ate0(line: str) -> bool:
        peer.echo = False  # the module echoes ATE0 itself, then stops echoing
        return line == "ATE0"

    peer.on(ate0, OK)
    peer.on("AT+CGMM", resp("Quectel_BC660K-GL", "OK"))
    assert ch.command("ATE0", timeout=2).echo == "ATE0"
    r = ch.command("AT+CGMM", timeout=2)
    assert (r.echo, r.lines) == (None, ["Quectel_BC660K-GL"])


# --------------------------------------------------------------- demux: URCs (chapter 5)

def test_urc_before_within_and_after_a_response(peer: AtPeer, ch: ATChannel) -> None:
    peer.push(resp("RDY", "+CFUN: 1"))  # nothing pending: URCs
    peer.on('AT+QMTCFG="timeout",0', resp('+QMTCFG: 30,0,1', '+QMTSTAT: 0,1', '+QMTCFG: x', "+CEREG: 1"),
            resp("OK", '+QMTRECV: 0,0,"t","p"'))
    r = ch.command('AT+QMTCFG="timeout",0', timeout=2)
    assert r.ok and r.lines == ["+QMTCFG: 30,0,1", "+QMTCFG: x"]
    got = ch.wait_urc("+QMTRECV", 2)
    assert got.args == [0, 0, "t", "p"]
    assert [u.name for u in ch.drain_urcs()] == ["RDY", "+CFUN", "+QMTSTAT", "+CEREG"]
    assert ch.pending_urcs() == []


def test_recv_payload_with_line_ends_arrives_whole(peer: AtPeer, ch: ATChannel) -> None:
    """5.2: the payload is the message as published, CR/LF included (pretty-printed JSON); the
    module quotes it without escaping. With <payload_len> the bytes are counted, without it the
    closing quote ends it; a following result or URC is still its own line."""
    peer.on("AT+CSQ", resp("+CSQ: 20,99"),
            b'\r\n+QMTRECV: 0,0,"t","{\r\n  \"a\": 1\r\n}\n"\r\n',
            b'\r\n+QMTRECV: 1,2,"u",9,"x\r\n\"\r\nOK"\r\n', OK)
    r = ch.command("AT+CSQ", timeout=2)
    assert (r.lines, r.final) == (["+CSQ: 20,99"], "OK")
    first, second = ch.wait_urc("+QMTRECV", 2), ch.wait_urc("+QMTRECV", 2)
    assert first.args == [0, 0, "t", '{\r\n  "a": 1\r\n}\n']
    assert second.args == [1, 2, "u", 9, 'x\r\n"\r\nOK']  # counted: the inner OK is message text


def test_recv_payload_left_open_does_not_swallow_what_follows(peer: AtPeer, ch: ATChannel) -> None:
    """A faulty DUT that never closes the quote: the URC ends at the next line that is a result."""
    peer.on("AT+CSQ", resp("+CSQ: 20,99"), b'\r\n+QMTRECV: 0,0,"t","open\r\n', OK)
    r = ch.command("AT+CSQ", timeout=2)
    assert (r.lines, r.final) == (["+CSQ: 20,99"], "OK")
    assert ch.wait_urc("+QMTRECV", 2).line == '+QMTRECV: 0,0,"t","open'


def test_urc_between_echo_and_ok_on_the_wire(peer: AtPeer, ch: ATChannel) -> None:
    """A URC pushed at a chosen moment while the command is pending (echo sent, OK not yet)."""
    gate = threading.Event()
    peer.on("AT+CSQ", resp("+CSQ: 20,99"), Gate(gate), OK)
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(ch.command, "AT+CSQ", 5)
        peer.wait_seen("AT+CSQ")
        assert ch.pending_urcs() == [] and not fut.done()
        peer.push(resp("+QMTSTAT: 0,2"))
        urc = ch.wait_urc("+QMTSTAT", 2)
        assert not fut.done()  # the URC did not complete the command
        gate.set()
        r = fut.result(timeout=3)
    assert (r.echo, r.lines, r.final) == ("AT+CSQ", ["+CSQ: 20,99"], "OK")
    assert (urc.name, urc.args) == ("+QMTSTAT", [0, 2])


def test_own_prefix_is_information_for_read_and_test_forms(peer: AtPeer, ch: ATChannel) -> None:
    """3.3.2 / chapter 6: AT+QMTOPEN? and =? answer +QMTOPEN: lines as information."""
    peer.on("AT+QMTOPEN?", resp('+QMTOPEN: 0,"h",1883', "OK"))
    peer.on("AT+QMTOPEN=?", resp('+QMTOPEN: (0-4),"<host_name>",(1-65535)', "OK"))
    peer.on("AT+QMTPUB=?", resp("+QMTPUB : (0-4),(0-65535),(0-2),(0,1),<topic>,(0-1460),<msg>", "OK"))
    assert ch.command("AT+QMTOPEN?", timeout=2).lines == ['+QMTOPEN: 0,"h",1883']
    assert ch.command("AT+QMTOPEN=?", timeout=2).lines == ['+QMTOPEN: (0-4),"<host_name>",(1-65535)']
    # chapter 6 prints a space before the colon: still the command's own prefix
    assert ch.command("AT+QMTPUB=?", timeout=2).lines[0].startswith("+QMTPUB :")
    assert ch.pending_urcs() == []


def test_async_write_result_is_a_urc_even_before_ok(peer: AtPeer, ch: ATChannel) -> None:
    """3.3.2-3.3.8: the write forms answer OK, then the result as a URC."""
    peer.on('AT+QMTOPEN=0,"h",1883', OK, resp("+QMTOPEN: 0,0"))
    peer.on('AT+QMTCONN=0,"c"', resp("+QMTSTAT: 1,1", "+QMTCONN: 1,0,0", "OK", "+QMTCONN: 0,0,0"))
    r = ch.command('AT+QMTOPEN=0,"h",1883', timeout=2)
    assert r.ok and r.lines == []
    assert ch.wait_urc("+QMTOPEN", 2).args == [0, 0]
    r = ch.command('AT+QMTCONN=0,"c"', timeout=2)
    assert r.ok and r.lines == []
    u = ch.wait_urc("+QMTCONN", 2, lambda u: u.args[0] == 0)
    assert u.args == [0, 0, 0]
    assert [x.line for x in ch.pending_urcs()] == ["+QMTSTAT: 1,1", "+QMTCONN: 1,0,0"]


def test_wait_urc_predicate_keeps_others_queued_and_times_out(peer: AtPeer, ch: ATChannel) -> None:
    peer.push(resp('+QMTRECV: 0,1,"a","x"', '+QMTRECV: 1,2,"b","y"'))
    u = ch.wait_urc("+QMTRECV", 2, predicate=lambda u: u.args[0] == 1)
    assert (u.args, u.line) == ([1, 2, "b", "y"], '+QMTRECV: 1,2,"b","y"')
    assert isinstance(u, Urc) and u.t <= time.monotonic()
    t0 = time.monotonic()
    with pytest.raises(ATTimeout) as ei:
        ch.wait_urc("+QMTRECV", 0.2, predicate=lambda u: u.args[0] == 4)
    assert 0.2 <= time.monotonic() - t0 < 1.5
    msg = str(ei.value)
    assert "+QMTRECV" in msg and "0.2 s" in msg and "\n" not in msg
    assert [x.args[0] for x in ch.pending_urcs()] == [0]  # the other one is still there


def test_parse_args_and_recv_payloads() -> None:
    assert parse_args('0,"a,b",12') == [0, "a,b", 12]
    assert parse_args("") == []
    assert parse_args('(0-4),"x",-1,abc') == ["(0-4)", "x", -1, "abc"]
    # chapter 6: unescaped quotes inside the payload; +QMTRECV keeps the payload whole
    u = Urc.parse('+QMTRECV: 3,0,"dev/evt","{"a":"1","b":"2"}"', 0.0)
    assert u.args == [3, 0, "dev/evt", '{"a":"1","b":"2"}']
    u = Urc.parse('+QMTRECV: 0,7,"t",5,"a,b,c"', 0.0)  # showrecvlen=1: <payload_len>
    assert u.args == [0, 7, "t", 5, "a,b,c"]
    assert Urc.parse("RDY", 0.0).args == []


# --------------------------------------------------------------- data mode (3.3.8, SSL)

def test_data_mode_ctrl_z_publishes(peer: AtPeer, ch: ATChannel) -> None:
    line = 'AT+QMTPUB=0,0,0,0,"t"'
    peer.on(line, DataMode(on_submit=OK + resp("+QMTPUB: 0,0,0")))
    r = ch.send_data(line, b"This is test data, hello MQTT.", timeout=2)
    assert (r.echo, r.final, r.lines) == (line, "OK", [])
    assert peer.seen.payloads == [(b"This is test data, hello MQTT.", b"\x1a")]
    assert ch.wait_urc("+QMTPUB", 2).args == [0, 0, 0]
    assert "This is test data, hello MQTT.<SUB>" in ch.transcript.render()


def test_data_mode_esc_cancels(peer: AtPeer, ch: ATChannel) -> None:
    line = 'AT+QMTPUB=0,1,1,0,"t"'
    peer.on(line, DataMode(on_cancel=OK))
    r = ch.send_data(line, b"never mind", end=b"\x1b", timeout=2)
    assert r.ok and peer.seen.payloads == [(b"never mind", b"\x1b")]


def test_data_mode_fixed_length_sends_no_terminator(peer: AtPeer, ch: ATChannel) -> None:
    line = 'AT+QMTPUB=0,1,1,0,"t",4'
    peer.echo = False
    peer.on(line, DataMode(prompt=b">", length=4, on_submit=OK))
    peer.on("AT", OK)
    r = ch.send_data(line, b"\x00\x01\xfe\xff", end=None, timeout=2)
    assert r.ok and peer.seen.payloads == [(b"\x00\x01\xfe\xff", None)]
    assert ch.command("AT", timeout=2).ok  # nothing extra went out after the 4 bytes
    assert peer.seen.lines[-1] == "AT"
    assert "\\xfe\\xff" in ch.transcript.render()  # binary shown escaped


def test_data_mode_final_result_instead_of_prompt(peer: AtPeer, ch: ATChannel) -> None:
    line = 'AT+QMTPUB=1,0,0,0,"t"'
    peer.on(line, resp("+CME ERROR: 8503"))
    r = ch.send_data(line, b"payload", timeout=2)
    assert (r.ok, r.cme_error) == (False, 8503)
    assert peer.seen.payloads == []
    assert "payload" not in "".join(e.text for e in ch.transcript.entries if e.direction == "TX")


def test_ssl_certificate_entry_echo_kept_apart(peer: AtPeer, ch: ATChannel) -> None:
    """DESIGN / SSL note: the PEM is displayed back, then +QSSLCFG: 0,0,"cacert",<len>, then OK."""
    pem = b"-----BEGIN CERTIFICATE-----\r\nMIIBfake\r\n-----END CERTIFICATE-----\r\n"
    line = 'AT+QSSLCFG=0,0,"cacert"'
    peer.on(line, DataMode(echo_data=True, on_submit=resp(f'+QSSLCFG: 0,0,"cacert",{len(pem)}', "OK")))
    r = ch.send_data(line, pem, timeout=2)
    assert r.ok and r.lines == [f'+QSSLCFG: 0,0,"cacert",{len(pem)}']
    assert r.data_echo == ["-----BEGIN CERTIFICATE-----", "MIIBfake", "-----END CERTIFICATE-----"]


def test_prompt_for_plain_command_is_a_protocol_error(peer: AtPeer, ch: ATChannel) -> None:
    line = 'AT+QMTPUB=0,0,0,0,"t"'
    peer.on(line, DataMode(on_cancel=OK))
    with pytest.raises(ATProtocolError, match="send_data"):
        ch.command(line, timeout=2)
    with peer.cond:
        assert peer.cond.wait_for(lambda: peer.seen.payloads, 2)
    assert peer.seen.payloads == [(b"", b"\x1b")]  # the channel left data mode with Esc


# --------------------------------------------------------------- robustness

def test_garbage_does_not_kill_the_reader(peer: AtPeer, ch: ATChannel) -> None:
    peer.push(b"\xff\xfe\x00\x80junk\r\n" + b"Z" * 5000)
    peer.push(b"\r\n")
    peer.on("AT+CSQ", resp("+CSQ: 20,99", "OK"))
    r = ch.command("AT+CSQ", timeout=2)
    assert r.ok and r.lines == ["+CSQ: 20,99"] and r.echo == "AT+CSQ"
    text = ch.transcript.render()
    assert "bytes without a line end: cut" in text and "\ufffd" in text and "<NUL>" in text
    # garbage with no line end right before the echo: the echo is still recognised
    peer.on("AT+CGMR", resp("Revision: BC660KGLAAR01A05", "OK"))
    peer.push(b"\x80\x81")
    r = ch.command("AT+CGMR", timeout=2)
    assert (r.echo, r.lines) == ("AT+CGMR", ["Revision: BC660KGLAAR01A05"])


def test_framing_is_the_same_however_the_bytes_are_split() -> None:
    """A socket hands the reader 64 KiB at once, a UART a few bytes: the lines (and where a run
    without line end is cut, MAX_LINE) must not depend on it (harness/at/framing.py)."""
    data = (b"AT+CSQ\r\r\n+CSQ: 20,99\r\n" + b"Z" * 9000 + b"\r\n"
            + b'\r\n+QMTRECV: 0,0,"t","a\r\nb"\r\n\r\n+QMTRECV: 0,1,"t",3,"\r\nx"\r\n\r\nOK\r\n')
    whole = [(f.text, f.cut) for f in LineFramer().feed(data)]
    assert whole == [("AT+CSQ", False), ("+CSQ: 20,99", False), ("Z" * 4096, True), ("Z" * 4096, True),
                     ("Z" * 808, False), ('+QMTRECV: 0,0,"t","a\r\nb"', False),
                     ('+QMTRECV: 0,1,"t",3,"\r\nx"', False), ("OK", False)]
    for size in (1, 2, 3, 7, 64, 4095, 4097):
        framer = LineFramer()
        got = [(f.text, f.cut) for i in range(0, len(data), size) for f in framer.feed(data[i:i + size])]
        assert got == whole, size
        assert framer.tail() == ""


def test_silent_dut_times_out_then_late_result_is_not_taken(peer: AtPeer, ch: ATChannel) -> None:
    peer.silent = True
    t0 = time.monotonic()
    with pytest.raises(ATTimeout) as ei:
        ch.command("AT+CGMM")  # default deadline: 0.3 s x time_scale + 2 s grace (harness.spec.timing)
    waited = time.monotonic() - t0
    assert 2.0 <= waited < 3.5
    msg = str(ei.value)
    assert "'AT+CGMM'" in msg and "2.0 s" in msg and "nothing" in msg and "\n" not in msg
    # The DUT wakes up; the late OK of AT+CGMM arrives only once the next line is sent.
    peer.silent = False
    peer.echo = False
    peer.on("AT", OK, OK, once=True)  # late OK of AT+CGMM, then the probe's own OK
    peer.on("AT", OK)
    peer.on("AT+CGMR", resp("Revision: BC660KGLAAR01A05", "OK"))
    r = ch.command("AT+CGMR", timeout=2)
    assert r.lines == ["Revision: BC660KGLAAR01A05"] and r.ok
    assert peer.seen.lines[-2:] == ["AT", "AT+CGMR"]  # resynced with one probe
    assert "discarded stale line" in ch.transcript.render()


def test_late_result_while_idle_is_discarded(peer: AtPeer, ch: ATChannel) -> None:
    gate = threading.Event()
    peer.on("AT+CSQ", Gate(gate), resp("+CSQ: 1,1", "OK"))
    with pytest.raises(ATTimeout):
        ch.command("AT+CSQ", timeout=0.2)
    gate.set()  # the answer arrives while nothing is pending: by rule, a URC; its OK is stale
    assert ch.wait_urc("+CSQ", 2).args == [1, 1]
    peer.on("AT", OK)
    peer.on("AT+CGMM", resp("Quectel_BC660K-GL", "OK"))
    r = ch.command("AT+CGMM", timeout=2)
    assert (r.lines, r.final) == (["Quectel_BC660K-GL"], "OK")


def test_resync_sends_esc_after_a_failed_attempt(peer: AtPeer, ch: ATChannel) -> None:
    peer.on("AT", OK)
    peer.silent = True
    assert ch.resync(attempts=1, timeout=0.1) is False
    peer.silent = False
    assert ch.resync(attempts=2, timeout=1.0) is True
    assert not any(e.text == "\x1b" for e in ch.transcript.entries)  # first attempt answered
    tx = [e.text for e in ch.transcript.entries if e.direction == "TX"]
    assert tx == ["AT\r", "AT\r"]


def test_lost_connection_fails_fast_with_one_line(peer: AtPeer, ch: ATChannel) -> None:
    gate = threading.Event()
    peer.on("AT+CSQ", Gate(gate, timeout=0.5))
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(ch.command, "AT+CSQ", 10)
        peer.wait_seen("AT+CSQ")
        peer.drop_connection()
        gate.set()
        with pytest.raises(ATError) as ei:
            fut.result(timeout=5)
    assert "lost" in str(ei.value) and "\n" not in str(ei.value)
    assert not isinstance(ei.value, ATTimeout)
    with pytest.raises(ATError):
        ch.command("AT", timeout=1)


# --------------------------------------------------------------- ports and transcript

def test_port_open_error_missing_device() -> None:
    with pytest.raises(PortOpenError) as ei:
        ATChannel("/dev/does-not-exist-bc660k")
    msg = str(ei.value)
    assert msg.startswith("cannot open serial port '/dev/does-not-exist-bc660k': ") and "\n" not in msg


def test_port_open_error_refused_socket() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # closed again below: nothing listens there
    url = f"socket://127.0.0.1:{port}"
    with pytest.raises(PortOpenError) as ei:
        ATChannel(url, open_timeout=3)
    msg = str(ei.value)
    assert msg.startswith(f"cannot open serial port '{url}': ") and "refused" in msg and "\n" not in msg


def test_secrets_are_redacted_in_transcript(peer: AtPeer) -> None:
    tr = Transcript(secrets=["s3cr3t-pw"])
    line = 'AT+QMTCONN=0,"client","user","s3cr3t-pw"'
    peer.on(line, OK, resp("+QMTCONN: 0,0,0"))
    peer.on('AT+QMTCFG="aliauth",0,"pk","dn","devsecret42"', OK)
    with ATChannel(peer.url, transcript=tr) as ch:
        assert ch.command(line, timeout=2).ok  # the Response keeps the real text for assertions
        ch.command('AT+QMTCFG="aliauth",0,"pk","dn","devsecret42"', timeout=2)
        tr.add_secret("devsecret42")  # registered afterwards: still hidden
    text = tr.render() + "".join(e.text for e in tr.entries)
    assert "s3cr3t-pw" not in text and "devsecret42" not in text
    assert '"user","***"' in text and '"dn","***"' in text


def test_transcript_render_format() -> None:
    tr = Transcript()
    m = tr.mark()
    tr.record("TX", "AT\r")
    tr.record("RX", "a\x1ab\x1b\x00")
    tr.record("NOTE", "x" * 5000)
    lines = tr.render(m).splitlines()
    assert re.fullmatch(r"\+\d+\.\d{3}s TX  AT<CR>", lines[0])
    assert lines[1].endswith("RX  a<SUB>b<ESC><NUL>")
    assert "(+2952 chars)" in lines[2]
    assert tr.render(tr.mark()) == ""
    assert all(e.wall > 1e9 and e.t > 0 for e in tr.entries)
    with pytest.raises(ValueError):
        tr.record("XX", "nope")


def test_over_a_real_pty_pair() -> None:
    with AtPeer("pty") as peer:
        peer.on("AT+QMTOPEN?", resp('+QMTOPEN: 0,"h",1883', "OK"), resp("+QMTSTAT: 0,1"))
        peer.on('AT+QMTPUB=0,0,0,0,"t"', DataMode(on_submit=OK + resp("+QMTPUB: 0,0,0")))
        with ATChannel(peer.url) as ch:
            assert peer.url.startswith("/dev/")
            r = ch.command("AT+QMTOPEN?", timeout=2)
            assert (r.echo, r.lines, r.ok) == ("AT+QMTOPEN?", ['+QMTOPEN: 0,"h",1883'], True)
            assert ch.wait_urc("+QMTSTAT", 2).args == [0, 1]
            assert ch.send_data('AT+QMTPUB=0,0,0,0,"t"', b"hi", timeout=2).ok
            assert ch.wait_urc("+QMTPUB", 2).args == [0, 0, 0]
            assert peer.seen.payloads == [(b"hi", b"\x1a")]
            with pytest.raises(PortOpenError, match="in use by another program"):
                ATChannel(peer.url)  # a second channel on the same UART would interleave garbage


def test_close_is_idempotent_and_leaves_no_thread(peer: AtPeer) -> None:
    ch = ATChannel(peer.url)
    ch.close()
    ch.close()
    assert _no_reader_thread(peer.url)
    with pytest.raises(ATError, match="closed"):
        ch.command("AT", timeout=1)


def test_bad_command_line_is_a_clear_error(ch: ATChannel) -> None:
    with pytest.raises(ValueError, match="CR/LF"):
        ch.command("AT\r\nAT")
    with pytest.raises(ValueError, match="non-empty"):
        ch.command("  ")


def test_raw_rx_sees_the_bytes_line_framing_hides_and_only_inside_the_block(peer: AtPeer, ch: ATChannel) -> None:
    peer.on("AT+CGMM", resp("Quectel_BC660K-GL", "OK"))
    seen: list[bytes] = []
    with ch.raw_rx(seen.append):
        assert ch.command("AT+CGMM", timeout=2).ok
    # echo and 3.1.2 framing; the OK's <LF> may still be on its way: <CR> already ends the line
    assert b"".join(seen).startswith(b"AT+CGMM\r\r\nQuectel_BC660K-GL\r\n\r\nOK\r")
    assert ch.command("AT+CGMM", timeout=2).ok
    assert b"".join(seen).count(b"OK") == 1  # nothing after the block
