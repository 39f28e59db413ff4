"""AT command syntax (3.1.2): "AT or at", the <CR> that ends a command line, responses framed
<CR><LF><response><CR><LF> (checked on the raw bytes), the forms of Table 1 for each MQTT command
of 3.3, and unknown commands answered with ERROR."""

from __future__ import annotations

import pytest
from _cfg_support import RawTap, error_code, expect_error, expect_ok

from harness.at.flows import is_error
from harness.spec.commands import COMMANDS
from harness.spec.timing import deadline_s

pytestmark = pytest.mark.spec("3.1.2")

CRLF = b"\r\n"


def framed(lines: list[str], final: str) -> bytes:
    """3.1.2: "Information responses and result codes always start and end with <CR><LF>": the
    information response (its lines joined by <CR><LF>) framed, then the result code framed."""
    info = CRLF + CRLF.join(ln.encode() for ln in lines) + CRLF if lines else b""
    return info + CRLF + final.encode() + CRLF


def _raw_answer(modem, line: str) -> tuple[bytes, list[str], str]:
    with RawTap(modem) as tap:
        resp = modem.command(line)
        want = CRLF + resp.final.encode() + CRLF
        assert tap.wait(lambda d: d.endswith(want), deadline_s(line, modem.time_scale)), (
            f"{line}: the result code {resp.final!r} was not followed by <CR><LF>: {tap.data!r}")
        return tap.take(), resp.lines, resp.final


@pytest.mark.parametrize("line", ["AT", 'AT+QMTCFG="keepalive",0', "AT+QMTCFG=?", "AT+QMTOPEN=?", "AT+QMTOPEN?",
                                  'AT+QMTCFG="keepalive",9', "AT+QNOSUCHCMD"])
def test_responses_are_framed_by_cr_lf(modem, line):
    """With echo off (known state), every byte of the answer is <CR><LF><response><CR><LF>:
    nothing before, between or after but the framing, no bare <CR> or <LF>."""
    raw, lines, final = _raw_answer(modem, line)
    assert raw == framed(lines, final), f"{line}: raw answer {raw!r}, expected {framed(lines, final)!r}"


@pytest.mark.covers("3.3.2/QMTOPEN/urc")
def test_urc_is_framed_by_cr_lf(modem, qmt, wire):
    """A result code reported after OK (+QMTOPEN, 3.3.2) is framed the same way."""
    with RawTap(modem) as tap:
        opened = qmt.open_result(wire)
        want = CRLF + opened.line.encode() + CRLF
        assert tap.wait(lambda d: d.endswith(want), deadline_s("AT", modem.time_scale)), tap.data
        raw = tap.take()
    assert raw == framed([], "OK") + want, f"raw {raw!r}"


def test_command_line_ends_with_cr(modem):
    """"All command lines must ... end with <CR>": without it the module answers nothing (for the
    300 ms the note allows an AT+QMTCFG answer, plus grace); the <CR> completes the line."""
    line = 'AT+QMTCFG="keepalive",0'
    with RawTap(modem) as tap:
        modem.write_raw(line.encode())
        assert not tap.wait(lambda d: b"OK" in d or b"ERROR" in d, deadline_s(line, modem.time_scale)), (
            f"the module answered a line without <CR>: {tap.data!r}")
        modem.write_raw(b"\r")
        assert tap.wait(lambda d: d.endswith(b"OK\r\n"), deadline_s(line, modem.time_scale)), tap.data
        raw = tap.take()
    modem.drain_urcs()  # the lines arrived with no command pending: the channel queued them as URCs
    assert raw == framed(["+QMTCFG: 120"], "OK"), raw


@pytest.mark.parametrize("line", ["AT", "at", 'at+QMTCFG="keepalive",0', "at+QMTCFG=?"])
def test_lines_start_with_at_or_lower_case_at(modem, line):
    """"All command lines must start with AT or at"."""
    resp = modem.command(line)
    assert resp.ok, f"{line} answered {resp.final!r}"
    upper = modem.command("AT" + line[2:])
    assert resp.lines == upper.lines


@pytest.mark.parametrize("line", ["At", "aT", "at+qmtcfg=?", 'AT+qmtcfg="keepalive",0'])
def test_other_cases_are_observed(modem, observe, line):
    """The note names "AT or at" only: mixed-case prefixes and lower-case command names are observations."""
    resp = modem.command(line)
    observe(f"{line} answer", [*resp.lines, resp.final])  # no plain reading: the note names "AT or at" only
    assert resp.ok or is_error(resp)


MQTT = list(COMMANDS.values())


@pytest.mark.covers(*(f"{c.section}/{c.short}" for c in MQTT), *(f"{c.section}/{c.short}/test" for c in MQTT
                                                                  if c.short != "QMTCFG"), "3.3.1/test")
@pytest.mark.parametrize("cmd", MQTT, ids=lambda c: c.short)
def test_every_mqtt_command_has_a_test_form(modem, cmd):
    """Table 1 "Test Command AT+<cmd>=? Test the existence of corresponding Write Command": every
    command of 3.3 answers its test form with OK and lines of its own prefix (the exact lines are
    each command's suite's verdict)."""
    resp = modem.command(f"AT{cmd.name}=?")
    assert resp.ok, f"AT{cmd.name}=? answered {resp.final!r}"
    assert resp.lines and all(ln.startswith(f"{cmd.name}:") for ln in resp.lines), resp.lines


READ_FORMS = [c for c in MQTT if any(f.kind == "read" for f in c.forms)]


@pytest.mark.covers(*(f"{c.section}/{c.short}/read" for c in READ_FORMS), "unclear/read_form_lines")
@pytest.mark.parametrize("cmd", READ_FORMS, ids=lambda c: c.short)
def test_read_forms_answer_ok_and_list_nothing_when_closed(modem, cmd):
    """Table 1 "Read Command AT+<cmd>?": AT+QMTOPEN? and AT+QMTCONN? exist; their line is bracketed
    ("[+QMTOPEN: ...]"), so with every connect ID closed (known state) they print none."""
    resp = modem.command(f"AT{cmd.name}?")
    assert resp.ok and resp.lines == [], f"AT{cmd.name}? answered {resp.lines} {resp.final!r}"


UNDEFINED = [f"AT{c.name}?" for c in MQTT if c not in READ_FORMS] + [f"AT{c.name}" for c in MQTT]


@pytest.mark.parametrize("line", UNDEFINED)
def test_forms_the_note_does_not_define_are_observed(modem, observe, line):
    """The note defines no read form for these commands and no execution form (Table 1 "AT+<cmd>")
    for any MQTT command: the answer is an observation; it must be a final result, and an error
    must not be a bare information line."""
    resp = modem.command(line)
    observe(f"{line} answer", [*resp.lines, resp.final])  # no plain reading: forms the note does not define
    assert resp.ok or is_error(resp)


@pytest.mark.parametrize("line", ["AT+QNOSUCHCMD", "AT+QMTFOO=?", "AT+QMTFOO=0", "AT+QMTCFGX=?", "ATQMTCFG=?"])
def test_unknown_commands_answer_error(modem, observe, line):
    """A command the module does not have answers ERROR (DESIGN.md module facts; +CME ERROR
    accepted, its code observed)."""
    resp = expect_error(modem, line, "unknown command")
    observe(f"{line} answer", error_code(resp))  # no plain reading: the MQTT note names no code for it
    expect_ok(modem, "AT")  # and the parser is still sane
