"""Chapter 4, Summary of Error Codes: "Final result code +CME ERROR: <err> indicates an error
related to mobile equipment or network. The following table lists some of the common error codes."

The note names each code's meaning but not the command or situation that yields it, so which code
a firmware gives for a provoked situation is an observation (recorded per firmware, diffed between
firmware versions). The verdicts: the situation is refused (ERROR or +CME ERROR), and with AT+CMEE=1
(the known state) the code is numeric.
"""

from __future__ import annotations

import pytest

from harness.at.flows import for_id, is_error
from harness.spec.codes import ERROR_BY_CODE

pytestmark = pytest.mark.spec("4")


def refused(resp) -> str:
    """The refusal's code as text ("ERROR" when there is none), checked to be numeric under CMEE=1."""
    assert is_error(resp), f"{resp.command} answered {resp.final!r}, expected ERROR or +CME ERROR"
    if resp.final == "ERROR":
        return "ERROR"
    code = resp.cme_error
    assert isinstance(code, int), f"AT+CMEE=1 asks for numeric codes, got {resp.final!r}"
    meaning = ERROR_BY_CODE[code].meaning if code in ERROR_BY_CODE else "not in Table 2"
    return f"{code} ({meaning})"


@pytest.mark.covers("4/8503")
@pytest.mark.parametrize("line", ['AT+QMTCONN=2,"nobody"', 'AT+QMTSUB=2,1,"t",0', 'AT+QMTUNS=2,1,"t"',
                                  'AT+QMTPUB=2,0,0,0,"t",1,"x"'],
                         ids=["conn", "sub", "uns", "pub"])
def test_command_on_a_closed_connect_id(modem, qmt, observe, line):
    """A command that needs an open (and connected) connect ID, on one that is closed: the link
    layer is missing (8503 "MQTT link layer error" would name it); either it is refused at once,
    or OK is followed by a failure result."""
    resp = modem.command(line)
    if resp.final == "OK":
        name = line.split("=", 1)[0].removeprefix("AT")
        urc = modem.wait_urc(name, qmt.deadline(line), predicate=for_id(2))
        outcome = urc.args[1] if name == "+QMTCONN" else urc.args[2]  # <result> (3.3.4, 3.3.6-3.3.8)
        assert outcome != 0, f"{line} on a closed connect ID reported success: {urc.line}"
        observe(f"{line}: answer", f"OK then {urc.line}")  # no plain reading: refusal or failure result both fit
    else:
        observe(f"{line}: answer", refused(resp))


@pytest.mark.covers("4/8506", "4/8505")
@pytest.mark.parametrize("topic_hex", ["fffe", "612fc32862"], ids=["not-utf8", "broken-sequence"])
def test_topic_that_is_not_utf8(modem, qmt, wire, observe, topic_hex):
    """MQTT topics are UTF-8 ([MQTT-1.5.3-1]); bytes that are not must not reach the wire as a topic.
    8506 "MQTT illegal UTF8" is the code the table has for it; 8505 "illegal character" is close."""
    topic = bytes.fromhex(topic_hex).decode("utf-8", "surrogateescape")  # sent as these raw bytes
    qmt.open_connect(wire, "dut-utf8")
    resp = modem.command(f'AT+QMTSUB=0,1,"{topic}",0')
    if resp.final == "OK":
        sub = modem.wait_urc("+QMTSUB", qmt.deadline("AT+QMTSUB"), predicate=lambda u: u.args[:2] == [0, 1])
        observe("SUBSCRIBE with a non-UTF-8 topic: answer", f"OK then {sub.line}")  # the note names no code
        sent = [r for r in wire.log.packets(direction="C>B") if r.type == "SUBSCRIBE"]
        for rec in sent:
            rec.packet.topics[0][0].encode("utf-8")  # a topic on the wire is valid UTF-8
    else:
        observe("SUBSCRIBE with a non-UTF-8 topic: answer", refused(resp))


@pytest.mark.covers("4/8508", "4/8509")
@pytest.mark.parametrize("msg_len", [1461, 4000])
def test_publish_longer_than_the_data_buffer(modem, qmt, wire, observe, msg_len):
    """3.3.8 <msg_len> "0–1460" in text mode: a longer fixed-length publish is refused before data
    mode; 8508 ("The length of transmitted data exceeds the size of the remaining transmission
    buffer") or 8509 ("buffer overflow") are the table's codes for it."""
    qmt.open_connect(wire, "dut-long")
    resp = modem.command(f'AT+QMTPUB=0,0,0,0,"t",{msg_len}')
    observe(f"fixed-length publish of {msg_len} bytes: answer", refused(resp))  # two codes of Table 2 fit
    assert not [r for r in wire.log.packets(direction="C>B") if r.type == "PUBLISH"]


@pytest.mark.covers("4/8504", "4/8510", "4/8511", "4/8600")
def test_every_code_the_dut_uses_is_numeric_and_recorded(modem, observe):
    """A battery of malformed MQTT commands: each is refused, each code is numeric and recorded,
    so a firmware that starts answering with 8504 "illegal packet", 8510/8511 (memory) or 8600
    "unknown error" where it used to answer otherwise shows up in the firmware diff."""
    battery = ['AT+QMTOPEN=0,"127.0.0.1"', 'AT+QMTOPEN=0,127.0.0.1,1883', "AT+QMTCONN=0",
               'AT+QMTSUB=0,1,"t"', 'AT+QMTPUB=0,1,3,0,"t",1,"x"', "AT+QMTDISC=9", "AT+QMTCLOSE=x",
               'AT+QMTCFG="keepalive",0,120,1']
    seen = {}
    for line in battery:
        seen[line] = refused(modem.command(line))
    for line, code in seen.items():
        observe(f"{line}: answer", code)  # recorded for the firmware diff; the note names no code
