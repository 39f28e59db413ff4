"""AT+QMTCFG="will" (3.3.1): the will strings' lengths, NOTE 1 (all four will parameters with
<will_fg>=1), the query with and without a will, and the will on the wire: the CONNECT's will
flag, QoS, retain, topic and message, and the broker publishing it when the link dies."""

from __future__ import annotations

import pytest
from _cfg_support import KNOWN, assert_reads, connect_on_wire, error_code, expect_error, expect_ok, query

from harness.at.flows import is_error
from harness.mqtt import codec
from harness.spec.qmtcfg import SECTION, WILL

pytestmark = pytest.mark.spec(SECTION)

TOPIC, MSG = WILL.param("will_topic"), WILL.param("will_msg")


def _lengths(p) -> list[tuple[int, bool]]:
    """0, 1, 256, 257 bytes: "The length range is 1–256 bytes"."""
    return [(0, False), (p.min_len, True), (p.max_len, True), (p.max_len + 1, False)]


STRING_CASES = [(p, n, ok) for p in (TOPIC, MSG) for n, ok in _lengths(p)]


@pytest.mark.covers("3.3.1/will/will_topic", "3.3.1/will/will_msg", "3.3.1/will/query", "3.3.1/will")
@pytest.mark.parametrize(("param", "length", "valid"), STRING_CASES,
                         ids=[f"{p.name}-{n}" for p, n, _ in STRING_CASES])
def test_will_string_length(modem, param, length, valid):
    """Inside 1–256 bytes the will is accepted and read back exactly ("+QMTCFG: <will_fg>,<will_QoS>,
    <will_retain>,<will_topic>,<will_msg>"); outside, it is refused and the will stays as it was."""
    before = [1, 2, 1, "will/before", "before"]
    expect_ok(modem, WILL.write_line(1, *before))
    values: list[int | str] = [1, 1, 0, "will/t", "m"]
    values[3 if param is TOPIC else 4] = param.sample(length)
    line = WILL.write_line(1, *values)
    if valid:
        expect_ok(modem, line)
        assert_reads(modem, "will", 1, values)
    else:
        expect_error(modem, line, f"<{param.name}> of {length} bytes")
        assert_reads(modem, "will", 1, before)


@pytest.mark.covers("3.3.1/note/1", "3.3.1/will/will_fg", "3.3.1/will")
@pytest.mark.parametrize("count", [1, 2, 3, 4], ids=lambda n: f"fg1+{n - 1}")
def test_will_fg_1_needs_all_four_will_parameters(modem, count):
    """NOTE 1: "<will_QoS>, <will_retain>, <will_topic> and <will_msg> must be specified when
    <will_fg>=1": <will_fg>=1 alone or with a partial list is an error and changes nothing."""
    full: list[int | str] = [1, 1, 1, "will/partial", "m"]
    line = WILL.write_line(0, *full[:count])
    expect_error(modem, line, "NOTE 1: partial will list")
    assert_reads(modem, "will", 0, KNOWN["will"])


@pytest.mark.covers("3.3.1/will/will_fg", "3.3.1/will/query", "unclear/omitted_optional")
def test_will_fg_0_alone_clears_the_will(modem):
    """<will_fg> 0 "Ignore Will flag configuration" written alone (NOTE 1: the will parameters
    "should be omitted when <will_fg>=0") is accepted and reads back <will_fg> 0."""
    expect_ok(modem, WILL.write_line(3, 1, 2, 1, "will/x", "y"))
    expect_ok(modem, WILL.write_line(3, 0))
    assert_reads(modem, "will", 3, [0])


@pytest.mark.covers("unclear/will_params_with_fg0", "3.3.1/note/1")
def test_will_fg_0_with_will_parameters_is_observed(modem, observe):
    """NOTE 1 says the will parameters "should be omitted when <will_fg>=0": a 'should', so what the
    module does with them is an observation; accepted or not, <will_fg> reads 0 or stays."""
    line = WILL.write_line(2, 0, 1, 1, "will/fg0", "m")
    resp = modem.command(line)
    observe(f"{line} answer", error_code(resp))  # no plain reading: a "should" names no answer
    assert resp.ok or is_error(resp)
    lines = query(modem, "will", 2)
    observe("query after it", lines)
    assert lines and lines[0].startswith("+QMTCFG: 0"), lines


@pytest.mark.covers("unclear/quoted_strings", "3.3.1/will/will_topic")
def test_unquoted_will_strings_are_observed(modem, observe):
    """Every example quotes string parameters; unquoted ones are an observation (harness.spec.unclear)."""
    resp = modem.command('AT+QMTCFG="will",4,1,0,0,will/bare,bare')
    observe("unquoted will_topic/will_msg answer", error_code(resp))  # no plain reading (unclear "quoted_strings")
    observe("query after it", query(modem, "will", 4))
    assert resp.ok or is_error(resp)


@pytest.mark.spec("4")
@pytest.mark.covers("3.3.1/will/will_topic", "4/8505")
@pytest.mark.parametrize("topic", ["will/#", "will/+/x"])
def test_will_topic_with_wildcards_is_observed(modem, observe, topic):
    """A will topic is a topic name, which MQTT 3.1.1 forbids to hold wildcards [MQTT-3.3.2-2]; the
    note says nothing, so the answer (chapter 4 8505 "MQTT illegal character"?) is an observation."""
    resp = modem.command(WILL.write_line(0, 1, 0, 0, topic, "m"))
    observe(f"will_topic {topic!r} answer", error_code(resp))  # the note says nothing of wildcards
    assert resp.ok or is_error(resp)


WIRE_CASES = [(q, r) for q in (0, 1, 2) for r in (0, 1)]


@pytest.mark.covers("3.3.1/will", "3.3.1/will/will_fg", "3.3.1/will/will_QoS", "3.3.1/will/will_retain",
                    "3.3.1/will/will_topic", "3.3.1/will/will_msg", "3.3.1/note/6", "3.3.1/characteristics/1")
@pytest.mark.parametrize(("qos", "retain"), WIRE_CASES, ids=[f"qos{q}-retain{r}" for q, r in WIRE_CASES])
def test_will_reaches_the_connect_packet(modem, qmt, wire, qos, retain):
    """The will configured before AT+QMTOPEN (NOTE 6) is in the CONNECT: will flag set, will QoS,
    will retain, topic and message as configured (MQTT 3.1.1 3.1.2.5-3.1.2.7)."""
    topic, msg = f"cfg/will/q{qos}r{retain}", f"gone q{qos} r{retain}"
    expect_ok(modem, WILL.write_line(0, 1, qos, retain, topic, msg))
    connect = connect_on_wire(qmt, wire, f"will-q{qos}r{retain}")
    assert (connect.will_flag, connect.will_qos, connect.will_retain) == (True, qos, bool(retain))
    assert (connect.will_topic, connect.will_payload) == (topic, msg.encode())


@pytest.mark.covers("3.3.1/will/will_topic", "3.3.1/will/will_msg")
def test_longest_will_crosses_the_wire_whole(modem, qmt, wire):
    """256-byte will topic and message (the maximum) reach the CONNECT without truncation."""
    topic, msg = TOPIC.sample(TOPIC.max_len), MSG.sample(MSG.max_len)
    expect_ok(modem, WILL.write_line(0, 1, 1, 0, topic, msg))
    connect = connect_on_wire(qmt, wire, "will-longest")
    assert connect.will_flag and connect.will_topic == topic and connect.will_payload == msg.encode()


@pytest.mark.covers("3.3.1/will/will_fg")
def test_no_will_after_will_fg_0(modem, qmt, wire):
    """<will_fg> 0 "Ignore Will flag configuration": a will set before and then cleared is not sent."""
    expect_ok(modem, WILL.write_line(0, 1, 1, 1, "cfg/will/cleared", "x"))
    expect_ok(modem, WILL.write_line(0, 0))
    connect = connect_on_wire(qmt, wire, "will-cleared")
    assert not connect.will_flag and connect.will_topic == "" and connect.will_payload == b""


@pytest.mark.covers("3.3.1/will/will_msg", "3.3.1/will")
def test_broker_publishes_the_will_when_the_link_dies(modem, qmt, wire, observer):
    """<will_msg> is "published to the Will topic if the client is unexpectedly disconnected": the
    link is cut under the DUT and a subscriber receives the will."""
    topic = "cfg/will/delivered"
    observer.subscribe(topic, qos=1)
    expect_ok(modem, WILL.write_line(0, 1, 1, 0, topic, "the DUT vanished"))
    connect_on_wire(qmt, wire, "will-delivered")
    wire.proxy.drop_connections()
    got = observer.wait_message(topic, timeout=5.0)
    assert got.payload == b"the DUT vanished"
    assert not wire.log.packets(direction="C>B", type=codec.Disconnect), "the DUT sent DISCONNECT: no will"
