"""AT+QMTPUB (3.3.8): the test form, the three write forms (variable length in data mode, fixed
length in data mode, fixed length inline), every parameter at its bounds and one past them, text
and hex <msg_len>, Ctrl+Z/Esc, input echo, the 1460-byte cut and the 60 s data-mode exit; each
checked on the UART and on the wire (what the proxy saw, what a subscriber got).

The QoS handshakes in detail are in test_qos.py, retransmission and <result> 1/2 in test_timers.py.
"""

from __future__ import annotations

import pytest

from harness.at.flows import is_error
from harness.mqtt import codec
from harness.spec.commands import (
    DATA_MODE_IDLE_EXIT_S,
    DATA_MODE_MAX_BYTES,
    MSG_LEN,
    MSG_LEN_HEX,
    PUB_MSGID,
    PUB_QOS,
    PUB_TOPIC,
    QMTPUB,
    RETAIN,
)
from harness.spec.plain import reading
from harness.spec.timing import GRACE_S
from harness.spec.urcs import URCS

pytestmark = pytest.mark.spec("3.3.8")

PUB_URC = URCS["+QMTPUB"]
FORMS = ("data", "fixed", "inline")  # harness.at.flows.publish: the three write forms of 3.3.8
FORM_ENTRY = {"data": "3.3.8/QMTPUB/write/data_variable", "fixed": "3.3.8/QMTPUB/write/data_fixed",
              "inline": "3.3.8/QMTPUB/write/inline"}
ESC, CTRL_Z = b"\x1b", b"\x1a"


def _publishes(wire, wait: bool = True) -> list:
    """The DUT's PUBLISHes so far. A QoS 0 result may be reported before the proxy has read the
    PUBLISH off the socket (nothing is acknowledged), so first wait until at least one is there."""
    if wait:
        wire.log.wait_for(direction="C>B", type=codec.Publish, timeout=GRACE_S)
    return wire.log.packets(direction="C>B", type=codec.Publish)


def _sample(n: int) -> bytes:
    """Printable bytes whose pattern shows a cut or a shift; no quote, comma, Ctrl+Z or Esc."""
    return PUB_TOPIC.sample(n).encode()


def _try(modem, line: str, data_mode: bool):
    """Send a write form expected to fail. Data-mode forms: if the DUT wrongly prompts '>', Esc
    cancels (3.3.8 "tap Esc to cancel the operation"), so a wrong prompt never publishes."""
    return modem.send_data(line, b"", end=ESC) if data_mode else modem.command(line)


def _assert_refused_and_silent(qmt, wire, line: str, tag: str, data_mode: bool = False) -> None:
    """Connected through the proxy, `line` gets 3.3.8 "If there is any error: ERROR Or +CME ERROR: <err>",
    and no PUBLISH on the wire: a marker publish afterwards is the only PUBLISH the proxy saw."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    resp = _try(qmt.channel, line, data_mode)
    assert is_error(resp), f"{line} answered {resp.final!r}, expected ERROR or +CME ERROR"
    marker = qmt.publish(0, 4444, 1, 0, f"marker/{tag}", b"marker", form="inline")
    assert marker.args == [0, 4444, 0], marker.line
    assert [(r.packet_id, r.topic) for r in _publishes(wire)] == [(4444, f"marker/{tag}")], \
        f"refused {line[:80]} still published"


# --- test form ----------------------------------------------------------------------------------


@pytest.mark.spec("6.1")
@pytest.mark.covers("3.3.8/QMTPUB/test", "3.3.8/QMTPUB", "unclear/qmtpub_test_space", "unclear/pub_test_msg_len",
                    "6.1/12")
def test_test_form_prints_ranges(modem, observe):
    """3.3.8 "+QMTPUB: (range of supported <TCP_connectID>s),(range of supported <msgID>s),(list of
    supported <QoS>s),(list of supported <retain>s),<topic>,(range of supported <msg_len>s),<msg>";
    6.1 prints "+QMTPUB : (0-4),(0-65535),(0-2),(0,1),<topic>,(0-1460),<msg>". Verdict on what follows
    the colon; a space before the colon is recorded (harness.spec.unclear "qmtpub_test_space")."""
    resp = modem.command("AT+QMTPUB=?")
    assert resp.ok, f"AT+QMTPUB=? answered {resp.final!r}"
    assert len(resp.lines) == 1, resp.lines
    head, sep, ranges = resp.lines[0].partition(":")
    expected = QMTPUB.form("test").test_line
    assert sep and head.rstrip() == "+QMTPUB", resp.lines[0]
    assert ranges.strip() == expected.partition(": ")[2], f"{resp.lines[0]!r} vs {expected!r}"
    # 3.3.8's syntax prints "+QMTPUB: (" like every response; 6.1's "+QMTPUB : " is an example (3.2).
    observe("AT+QMTPUB=? space before the colon", head != head.rstrip(), plain=reading("3.3.8/QMTPUB/test", False))


@pytest.mark.covers("unclear/pub_test_msg_len", "3.3.8/QMTPUB/msg_len_hex")
def test_test_form_with_hex_send_format_is_observed(modem, observe):
    """With <send_format> 1 the note does not say whether the test form prints (0-730): observation."""
    assert modem.command('AT+QMTCFG="dataformat",0,1,0').ok
    resp = modem.command("AT+QMTPUB=?")
    assert resp.ok
    observe("AT+QMTPUB=? with hex send_format", resp.lines)  # the note prints no test line for hex: no reading


# --- the three forms ----------------------------------------------------------------------------


@pytest.mark.covers("3.3.8/QMTPUB/write/data_variable", "3.3.8/QMTPUB/write/data_fixed",
                    "3.3.8/QMTPUB/write/inline", "3.3.8/QMTPUB/result/0", "3.3.8/QMTPUB/value/result02",
                    "3.3.8/QMTPUB/urc", "3.3.8/QMTPUB/QoS", "3.3.8/QMTPUB/msg", "3.3.8/QMTPUB/max_response_time")
@pytest.mark.parametrize("qos", range(PUB_QOS.lo, PUB_QOS.hi + 1))
@pytest.mark.parametrize("form", FORMS)
def test_each_form_publishes_at_each_qos(modem, qmt, wire, observer, tag, form, qos):
    """3.3.8's three write forms at <QoS> 0/1/2: "+QMTPUB: <TCP_connectID>,<msgID>,0" without <value>
    ("When <result>=0 or <result>=2, it is not presented"), one PUBLISH with exactly the data, the QoS,
    retain 0 and DUP 0, and the subscriber gets the payload."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    topic = f"f/{tag}"
    observer.subscribe(topic, qos=2)
    msg_id = 0 if qos == 0 else 100 + qos
    payload = f"{form} form at QoS {qos}".encode()
    pub = qmt.publish(0, msg_id, qos, 0, topic, payload, form=form)
    assert pub.args == [0, msg_id, 0], pub.line
    assert PUB_URC.parse(pub.line) == {"TCP_connectID": 0, "msgID": msg_id, "result": 0}
    (sent,) = _publishes(wire)
    assert (sent.topic, sent.packet.payload, sent.qos, sent.retain, sent.dup) == (topic, payload, qos, False, False)
    assert sent.packet_id == (None if qos == 0 else msg_id)
    got = observer.wait_message(topic, timeout=qmt.deadline("AT+QMTPUB"))
    assert got.payload == payload


@pytest.mark.covers("3.3.8/QMTPUB/note/1", "3.3.8/QMTPUB/result/0")
def test_publishing_continues_after_each_final_result(modem, qmt, wire, tag):
    """3.3.8 note 1: "the client is able to continue to publish new packets after the final result of
    the command is returned": three publishes in a row, each after the previous result, all sent."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    for i, form in enumerate(FORMS, 1):
        assert qmt.publish(0, i, 1, 0, f"n/{tag}", f"#{i}".encode(), form=form).args == [0, i, 0]
    assert [(r.packet_id, r.packet.payload) for r in _publishes(wire)] == [(1, b"#1"), (2, b"#2"), (3, b"#3")]


# --- <msgID> ------------------------------------------------------------------------------------


@pytest.mark.covers("3.3.8/QMTPUB/msgID")
@pytest.mark.parametrize("msg_id", [v for v in PUB_MSGID.valid_values() if v])
@pytest.mark.parametrize("qos", [1, 2])
def test_msgid_becomes_the_packet_id(modem, qmt, wire, tag, qos, msg_id):
    """3.3.8 "<msgID> ... Range: 0–65535" at QoS 1/2: the PUBLISH's packet identifier is the msgID."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    assert qmt.publish(0, msg_id, qos, 0, f"i/{tag}", b"id", form="inline").args == [0, msg_id, 0]
    assert [r.packet_id for r in _publishes(wire)] == [msg_id]


@pytest.mark.covers("3.3.8/QMTPUB/msgID")
@pytest.mark.parametrize("msg_id", PUB_MSGID.invalid_values())
def test_msgid_out_of_range_is_refused(modem, qmt, wire, tag, msg_id):
    _assert_refused_and_silent(qmt, wire, f'AT+QMTPUB=0,{msg_id},1,0,"i/{tag}",2,"id"', tag)


@pytest.mark.covers("3.3.8/QMTPUB/msgID", "unclear/pub_msgid_qos0")
@pytest.mark.parametrize(("qos", "msg_id"), [(0, 5), (0, 65535), (1, 0), (2, 0)])
def test_msgid_against_the_qos_rule_is_observed(modem, qmt, wire, tag, observe, qos, msg_id):
    """3.3.8 "It should be set to 0 when <QoS>=0" and msgID 0 at QoS 1/2: the AT answer is an
    observation (harness.spec.unclear "pub_msgid_qos0"); if it publishes, the wire is a verdict: the
    payload is exact (no packet id inserted at QoS 0) and a QoS 1/2 packet id is never 0."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    resp = modem.command(f'AT+QMTPUB=0,{msg_id},{qos},0,"z/{tag}",4,"zero"')
    # No plain reading: "should be set to 0" names no answer, and 0-65535 at QoS 1/2 meets MQTT's "never 0".
    observe(f"AT+QMTPUB msgID {msg_id} at QoS {qos}", resp.final)
    if not resp.ok:
        return
    done = modem.wait_urc("+QMTPUB", qmt.deadline("AT+QMTPUB"))
    observe(f"+QMTPUB for msgID {msg_id} at QoS {qos}", done.line)
    for sent in _publishes(wire, wait=done.args[2:3] == [0]):
        assert sent.packet.payload == b"zero"
        if qos:
            assert sent.packet_id, "a QoS 1/2 PUBLISH must not carry packet identifier 0 (MQTT 3.1.1 2.3.1)"


# --- <QoS>, <retain>, <topic> -------------------------------------------------------------------


@pytest.mark.covers("3.3.8/QMTPUB/QoS")
@pytest.mark.parametrize("qos", [*PUB_QOS.invalid_values(), 9])
def test_qos_out_of_range_is_refused(modem, qmt, wire, tag, qos):
    _assert_refused_and_silent(qmt, wire, f'AT+QMTPUB=0,1,{qos},0,"q/{tag}",1,"x"', tag)


@pytest.mark.covers("3.3.8/QMTPUB/QoS", "3.3.8/QMTPUB/write/data_variable")
def test_qos_out_of_range_is_refused_in_data_mode_form(modem, qmt, wire, tag):
    _assert_refused_and_silent(qmt, wire, f'AT+QMTPUB=0,1,3,0,"q/{tag}"', tag, data_mode=True)


@pytest.mark.covers("3.3.8/QMTPUB/retain")
@pytest.mark.parametrize("retain", [*RETAIN.invalid_values(), 9])
def test_retain_out_of_range_is_refused(modem, qmt, wire, tag, retain):
    """3.3.8 <retain> lists 0 and 1 only."""
    _assert_refused_and_silent(qmt, wire, f'AT+QMTPUB=0,1,1,{retain},"r/{tag}",1,"x"', tag)


@pytest.mark.covers("3.3.8/QMTPUB/retain")
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_retain_1_is_retained_for_later_subscribers(modem, qmt, wire, observer, tag, qos):
    """3.3.8 <retain> 1 "The message will be retained by the server after it has been delivered to
    current subscribers": the PUBLISH carries RETAIN=1, and a subscriber arriving later gets it."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    topic = f"keep/{tag}"
    msg_id = qos and 7
    assert qmt.publish(0, msg_id, qos, 1, topic, b"kept", form="inline").args == [0, msg_id, 0]
    (sent,) = _publishes(wire)
    assert sent.retain is True
    try:
        observer.subscribe(topic, qos=2)
        got = observer.wait_message(topic, timeout=qmt.deadline("AT+QMTPUB"))
        assert (got.payload, got.retain) == (b"kept", True)
    finally:
        observer.publish(topic, b"", qos=1, retain=True)  # clear the retained message


@pytest.mark.covers("3.3.8/QMTPUB/retain")
def test_retain_0_is_not_retained(modem, qmt, wire, observer, tag):
    """<retain> 0 "will not be retained": a later subscriber gets only the marker retained after it."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    topic = f"nokeep/{tag}"
    assert qmt.publish(0, 3, 1, 0, topic, b"not kept", form="inline").args == [0, 3, 0]
    assert _publishes(wire)[0].retain is False
    observer.publish(topic, b"marker", qos=1, retain=True)
    try:
        observer.subscribe(topic, qos=1)
        assert observer.wait_message(topic, timeout=qmt.deadline("AT+QMTPUB")).payload == b"marker"
    finally:
        observer.publish(topic, b"", qos=1, retain=True)


@pytest.mark.covers("3.3.8/QMTPUB/topic")
@pytest.mark.parametrize("form", FORMS)
def test_topic_of_256_bytes_crosses_whole(modem, qmt, wire, tag, form):
    """3.3.8 "<topic> ... Maximum length: 256 bytes"."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    topic = PUB_TOPIC.sample(PUB_TOPIC.max_len)
    assert qmt.publish(0, 1, 1, 0, topic, b"long topic", form=form).args == [0, 1, 0]
    assert [r.topic for r in _publishes(wire)] == [topic]


@pytest.mark.covers("3.3.8/QMTPUB/topic")
@pytest.mark.parametrize("form", FORMS)
def test_topic_of_257_bytes_is_refused(modem, qmt, wire, tag, form):
    head = f'AT+QMTPUB=0,1,1,0,"{PUB_TOPIC.sample(PUB_TOPIC.max_len + 1)}"'
    line = {"data": head, "fixed": f"{head},1", "inline": f'{head},1,"x"'}[form]
    _assert_refused_and_silent(qmt, wire, line, tag, data_mode=form != "inline")


# --- <msg_len> and <msg> ------------------------------------------------------------------------


@pytest.mark.covers("3.3.8/QMTPUB/msg_len", "3.3.8/QMTPUB/msg")
@pytest.mark.parametrize("length", MSG_LEN.valid_values())
@pytest.mark.parametrize("form", ["fixed", "inline"])
def test_msg_len_text_in_range_publishes_that_many_bytes(modem, qmt, wire, tag, form, length):
    """3.3.8 "The range of the data length in text mode is 0–1460": exactly <msg_len> bytes go out
    (the fixed data-mode form without Ctrl+Z: "Length of the data must be equal to <msg_len>")."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    payload = _sample(length)
    assert qmt.publish(0, 2, 1, 0, f"len/{tag}", payload, form=form).args == [0, 2, 0]
    (sent,) = _publishes(wire)
    assert sent.packet.payload == payload, f"{len(sent.packet.payload)} bytes on the wire, expected {length}"


@pytest.mark.covers("3.3.8/QMTPUB/msg_len")
@pytest.mark.parametrize("form", ["fixed", "inline"])
def test_msg_len_text_1461_is_refused(modem, qmt, wire, tag, form):
    n = MSG_LEN.hi + 1
    head = f'AT+QMTPUB=0,2,1,0,"len/{tag}",{n}'
    line = head if form == "fixed" else f'{head},"{_sample(n).decode()}"'
    _assert_refused_and_silent(qmt, wire, line, tag, data_mode=form == "fixed")


@pytest.mark.covers("3.3.8/QMTPUB/msg_len")
@pytest.mark.parametrize("value", ["-1", "abc", '"5"', ""])
def test_msg_len_wrong_type_is_refused(modem, qmt, wire, tag, value):
    _assert_refused_and_silent(qmt, wire, f'AT+QMTPUB=0,2,1,0,"len/{tag}",{value},"hello"', tag)


def _hex_mode(modem) -> None:
    """3.3.1 AT+QMTCFG="dataformat",<id>,<send_format>,<recv_format>: send in hex, receive in text."""
    assert modem.command('AT+QMTCFG="dataformat",0,1,0').ok


@pytest.mark.covers("3.3.8/QMTPUB/msg_len_hex", "3.3.1/dataformat/send_format")
@pytest.mark.parametrize("length", MSG_LEN_HEX.valid_values())
@pytest.mark.parametrize("form", ["fixed", "inline"])
def test_msg_len_hex_in_range_publishes_the_decoded_bytes(modem, qmt, wire, tag, form, length):
    """3.3.8 "The range of the data length in hex mode is 0–730. Unit: byte": with <send_format> 1 the
    host types two hex digits per byte and <msg_len> bytes (any value 00-FF) go on the wire."""
    _hex_mode(modem)
    qmt.open_connect(wire, f"dut-pub-{tag}")
    payload = bytes(i % 256 for i in range(length))
    text = payload.hex().upper().encode()
    head = f'AT+QMTPUB=0,3,1,0,"hex/{tag}",{length}'
    resp = modem.send_data(head, text, end=None) if form == "fixed" else modem.command(f'{head},"{text.decode()}"')
    assert resp.ok, f"{head} ({form}) answered {resp.final!r}"
    done = modem.wait_urc("+QMTPUB", qmt.deadline(head))
    assert done.args == [0, 3, 0], done.line
    (sent,) = _publishes(wire)
    assert sent.packet.payload == payload


@pytest.mark.covers("3.3.8/QMTPUB/msg_len_hex", "unclear/pub_test_msg_len")
@pytest.mark.parametrize("length", [MSG_LEN_HEX.hi + 1, MSG_LEN.hi])
def test_msg_len_hex_past_730_is_refused(modem, qmt, wire, tag, length):
    """harness.spec.unclear "pub_test_msg_len": msg_len 731-1460 in hex mode is refused."""
    _hex_mode(modem)
    qmt.open_connect(wire, f"dut-pub-{tag}")
    resp = modem.command(f'AT+QMTPUB=0,3,1,0,"hex/{tag}",{length},"{"AB" * length}"')
    assert is_error(resp), f"hex msg_len {length} answered {resp.final!r}"
    assert not _publishes(wire, wait=False)


@pytest.mark.covers("3.3.8/QMTPUB/msg")
@pytest.mark.parametrize("payload", [b"a,b,c", b"with spaces and : colon", b"0123456789"])
def test_inline_msg_is_sent_verbatim(modem, qmt, wire, tag, payload):
    """3.3.8 "<msg> String type. Message to be published": inside its quotes commas and colons are data."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    assert qmt.publish(0, 4, 1, 0, f"m/{tag}", payload, form="inline").args == [0, 4, 0]
    assert _publishes(wire)[0].packet.payload == payload


@pytest.mark.spec("6.2")
@pytest.mark.covers("unclear/pub_fixed_example", "6.2/13")
def test_inline_msg_with_inner_quotes_is_observed(modem, qmt, wire, tag, observe):
    """6.2 publishes AT+QMTPUB=3,0,0,0,"...",17,"{"a":"1","b":"2"}": a <msg> holding quotes is an
    observation (harness.spec.unclear "pub_fixed_example"); if it is accepted, 17 bytes go out."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    msg = '{"a":"1","b":"2"}'
    resp = modem.command(f'AT+QMTPUB=0,0,0,0,"ev/{tag}",{len(msg)},"{msg}"')
    observe("inline <msg> with inner quotes", resp.final)  # only 6.2's example has one: no reading
    if resp.ok:
        modem.wait_urc("+QMTPUB", qmt.deadline("AT+QMTPUB"))
        sent = _publishes(wire)
        observe("inline <msg> with inner quotes, on the wire", [r.packet.payload for r in sent])
        assert [len(r.packet.payload) for r in sent] == [len(msg)]


# --- data mode ----------------------------------------------------------------------------------


@pytest.mark.covers("3.3.8/QMTPUB/note/2", "3.3.8/QMTPUB/write/data_variable")
@pytest.mark.parametrize("length", [DATA_MODE_MAX_BYTES, DATA_MODE_MAX_BYTES + 40])
def test_variable_length_data_is_cut_at_1460_bytes(modem, qmt, wire, tag, length):
    """3.3.8 note 2: "The maximum length of data that can be input at a time is 1460 bytes and the data
    is sent by tapping CTRL + Z. The part of data that exceeds 1460 bytes is omitted.\""""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    data = _sample(length)
    assert qmt.publish(0, 5, 1, 0, f"cut/{tag}", data, form="data").args == [0, 5, 0]
    (sent,) = _publishes(wire)
    assert sent.packet.payload == data[:DATA_MODE_MAX_BYTES], f"{len(sent.packet.payload)} bytes went out"


@pytest.mark.covers("3.3.8/QMTPUB/write/data_variable")
def test_variable_length_empty_data(modem, qmt, wire, tag):
    """Ctrl+Z right after '>' sends an empty payload (<msg_len> 0 is in range)."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    assert qmt.publish(0, 6, 1, 0, f"empty/{tag}", b"", form="data").args == [0, 6, 0]
    assert _publishes(wire)[0].packet.payload == b""


@pytest.mark.covers("3.3.8/QMTPUB/write/data_variable", "3.3.8/QMTPUB/write/data_fixed")
@pytest.mark.parametrize("form", ["data", "fixed"])
def test_esc_cancels_and_nothing_is_published(modem, qmt, wire, tag, observe, form):
    """3.3.8 "tap Esc to cancel the operation": no PUBLISH, no +QMTPUB result 0, and the DUT takes
    AT commands again. What the DUT answers to Esc is not written: observed."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    head = f'AT+QMTPUB=0,8,1,0,"esc/{tag}"' + (",10" if form == "fixed" else "")
    resp = modem.send_data(head, b"abc", end=ESC)
    observe(f"answer to Esc in data mode ({form})", resp.final)  # the note names no answer
    assert modem.command("AT").ok
    marker = qmt.publish(0, 9, 1, 0, f"esc/{tag}", b"marker", form="inline")
    assert marker.args == [0, 9, 0]
    assert [(r.packet_id, r.packet.payload) for r in _publishes(wire)] == [(9, b"marker")]
    assert not [u for u in modem.drain_urcs() if u.name == "+QMTPUB" and u.args[:2] == [0, 8]]


@pytest.mark.covers("3.3.8/QMTPUB/write/data_fixed", "unclear/pub_fixed_length_mismatch")
def test_fixed_length_with_more_input_is_observed(modem, qmt, wire, tag, observe):
    """Data mode fixed length: "Length of the data must be equal to <msg_len>"; what happens to extra
    input is an observation (harness.spec.unclear). Verdict: never more than <msg_len> bytes go out."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    resp = modem.send_data(f'AT+QMTPUB=0,10,1,0,"fx/{tag}",3', b"abcdef", end=None)
    observe("fixed length, 6 bytes for msg_len 3: answer", resp.final)  # "must be equal": no consequence named
    if resp.ok:
        modem.wait_urc("+QMTPUB", qmt.deadline("AT+QMTPUB"))
    modem.resync()
    sent = _publishes(wire, wait=resp.ok)
    observe("fixed length, 6 bytes for msg_len 3: payloads", [r.packet.payload for r in sent])
    assert all(len(r.packet.payload) <= 3 for r in sent)


@pytest.mark.covers("3.3.1/echomode/echo_mode", "3.3.1/note/5")
@pytest.mark.parametrize("echo", [0, 1])
@pytest.mark.parametrize("form", ["data", "fixed"])
def test_echomode_controls_input_echo_in_data_mode(modem, qmt, wire, tag, echo, form):
    """3.3.1 <echo_mode> "Whether to echo input data to the UART in data mode" (note 5: "only valid in
    data transmission mode"): 1 echoes the typed data back, 0 does not; the data goes out unchanged."""
    assert modem.command(f'AT+QMTCFG="echomode",0,{echo}').ok
    qmt.open_connect(wire, f"dut-pub-{tag}")
    payload = b"echo-me-please"
    head = f'AT+QMTPUB=0,11,1,0,"echo/{tag}"'
    if form == "fixed":
        head += f",{len(payload)}"
    resp = modem.send_data(head, payload, end=CTRL_Z if form == "data" else None)
    assert resp.ok, f"{head} answered {resp.final!r}"
    shown = "".join(resp.data_echo)
    if echo:
        assert shown == payload.decode(), f"echomode 1: expected the input echoed, got {resp.data_echo!r}"
    else:
        assert not resp.data_echo, f"echomode 0: the input was echoed: {resp.data_echo!r}"
    assert not [ln for ln in resp.lines if payload.decode() in ln], resp.lines
    assert modem.wait_urc("+QMTPUB", qmt.deadline(head)).args == [0, 11, 0]
    assert _publishes(wire)[0].packet.payload == payload


@pytest.mark.slow
@pytest.mark.covers("3.3.8/QMTPUB/note/5")
def test_data_mode_is_left_after_60_s_without_data(modem, qmt, wire, tag, observe):
    """3.3.8 note 5: "After entering data mode, if no data is sent in 60 s, the module will exit data
    mode." The DUT must answer something within 60 module seconds and take AT commands afterwards;
    what it answers, and whether anything is published, are observations."""
    qmt.open_connect(wire, f"dut-pub-{tag}")
    limit = DATA_MODE_IDLE_EXIT_S * modem.time_scale + GRACE_S
    resp = modem.send_data(f'AT+QMTPUB=0,12,1,0,"idle/{tag}"', b"", end=None, timeout=limit)
    observe("answer when data mode times out", resp.final)  # note 5 names no answer
    assert resp.final, "no final result after the data-mode idle exit"
    assert modem.command("AT").ok, "the DUT does not take AT commands after leaving data mode"
    observe("PUBLISH after data-mode idle exit", [r.packet.payload for r in _publishes(wire, wait=False)])


# --- connect ID and connection state ------------------------------------------------------------


@pytest.mark.covers("3.3.8/QMTPUB/TCP_connectID")
@pytest.mark.parametrize("cid", [-1, 5])
@pytest.mark.parametrize("form", FORMS)
def test_connect_id_out_of_range_is_refused(modem, cid, form):
    head = f'AT+QMTPUB={cid},1,1,0,"t"'
    line = {"data": head, "fixed": f"{head},1", "inline": f'{head},1,"x"'}[form]
    assert is_error(_try(modem, line, form != "inline"))


@pytest.mark.covers("3.3.8/QMTPUB/TCP_connectID", "3.3.8/QMTPUB/write/inline")
@pytest.mark.parametrize("form", FORMS)
def test_not_connected_is_an_error(modem, form):
    """No MQTT connection on the connect ID: the write form fails and no +QMTPUB result follows."""
    head = 'AT+QMTPUB=0,1,1,0,"t"'
    line = {"data": head, "fixed": f"{head},1", "inline": f'{head},1,"x"'}[form]
    resp = _try(modem, line, form != "inline")
    assert is_error(resp), f"{line} on a closed connect ID answered {resp.final!r}"
    assert not [u for u in modem.drain_urcs() if u.name == "+QMTPUB"]


@pytest.mark.covers("3.3.8/QMTPUB/TCP_connectID")
def test_opened_but_not_connected_is_an_error(modem, qmt, wire):
    qmt.open(wire, 2)
    resp = modem.command('AT+QMTPUB=2,1,1,0,"t",1,"x"')
    assert is_error(resp), f"AT+QMTPUB before AT+QMTCONN answered {resp.final!r}"
    assert not _publishes(wire, wait=False)


@pytest.mark.covers("3.3.8/QMTPUB/TCP_connectID", "3.3.8/QMTPUB/urc")
@pytest.mark.parametrize("cid", [1, 4])
def test_result_names_its_connect_id(modem, qmt, wire, tag, cid):
    qmt.open_connect(wire, f"dut-pub-{tag}", cid)
    assert qmt.publish(cid, 13, 1, 0, f"c/{tag}", b"x", form="inline").args == [cid, 13, 0]


BAD_LINES = {
    "topic missing": "AT+QMTPUB=0,1,1,0",
    "retain missing": "AT+QMTPUB=0,1,1",
    "no parameters": "AT+QMTPUB=",
    "msgID text": 'AT+QMTPUB=0,abc,1,0,"t/{tag}",1,"x"',
    "QoS text": 'AT+QMTPUB=0,1,x,0,"t/{tag}",1,"x"',
    "retain text": 'AT+QMTPUB=0,1,1,x,"t/{tag}",1,"x"',
    "msgID quoted": 'AT+QMTPUB=0,"1",1,0,"t/{tag}",1,"x"',
}


@pytest.mark.covers("3.3.8/QMTPUB/write/inline")
@pytest.mark.parametrize("what", BAD_LINES)
def test_malformed_write_is_refused(modem, qmt, wire, tag, what):
    _assert_refused_and_silent(qmt, wire, BAD_LINES[what].format(tag=tag), tag)
