"""AT+QMTSUB (3.3.6): the test form, the write form with every parameter at its bounds and one
past them, wrong types and missing parameters, several topics in one command (the granted QoS
vector in order), and the <value> of <result> 0 against what the server granted: the real broker
through the proxy for the wire evidence, the scripted peer for SUBACK codes a broker would not
choose (a lower QoS, 0x80). Retransmission (<result> 1/2) lives in test_timers.py."""

from __future__ import annotations

import pytest
from _write_forms import cut_short, msgid_misuses

from harness.at.flows import is_error
from harness.mqtt import codec
from harness.peer import Match
from harness.spec.commands import QMTSUB, SUB_MSGID, SUB_QOS, SUB_TOPIC
from harness.spec.urcs import URCS

pytestmark = pytest.mark.spec("3.3.6")

SUB_URC = URCS["+QMTSUB"]
TEST_PREFIX = "+QMTSUB: (0-4),(1-65535),<topic>,(0-2)"  # harness.spec.unclear "sub_test_line": the verdict part


def _assert_refused_and_silent(qmt, wire, line: str, tag: str) -> None:
    """Connected through the proxy, `line` gets the note's "If there is any error: ERROR Or +CME ERROR:
    <err>", and nothing on the wire: a marker SUBSCRIBE afterwards must be the only one the proxy saw."""
    qmt.open_connect(wire, f"dut-sub-{tag}")
    qmt.refused(line)
    marker = qmt.subscribe(0, 4242, (f"m/{tag}", 0))
    assert marker.args == [0, 4242, 0, 0], marker.line
    subs = wire.log.sent(codec.Subscribe)
    assert [s.packet_id for s in subs] == [4242], f"refused {line} still sent SUBSCRIBE: {subs}"


# --- test form ----------------------------------------------------------------------------------


@pytest.mark.spec("6.1")
@pytest.mark.covers("3.3.6/QMTSUB/test", "3.3.6/QMTSUB", "unclear/sub_test_line", "6.1/07")
def test_test_form_prints_ranges(modem, observe):
    """3.3.6 "+QMTSUB: (range of supported <TCP_connectID>s),(range of supported <msgID>s),<topic1>,
    (range of supported <QoS1>s)..."; 6.1 prints "+QMTSUB: (0-4),(1-65535),<topic>,(0-2),<topic>,(0-2),…".
    Verdict on the prefix, the rest of the line is an observation (harness.spec.unclear)."""
    resp = modem.command("AT+QMTSUB=?")
    assert resp.ok, f"AT+QMTSUB=? answered {resp.final!r}"
    assert len(resp.lines) == 1, resp.lines
    line = resp.lines[0]
    assert line.startswith(TEST_PREFIX), f"{line!r} does not start with {TEST_PREFIX!r}"
    observe("AT+QMTSUB=? line", line)  # no plain reading: 3.3.6 and 6.1 print it differently
    observe("AT+QMTSUB=? equals the 6.1 example", line == QMTSUB.form("test").test_line)


# --- write form: parameters ---------------------------------------------------------------------


@pytest.mark.covers("3.3.6/QMTSUB/write", "3.3.6/QMTSUB/msgID", "3.3.6/QMTSUB/result/0",
                    "3.3.6/QMTSUB/value/result0", "3.3.6/QMTSUB/urc", "3.3.6/QMTSUB/max_response_time")
@pytest.mark.parametrize("msg_id", SUB_MSGID.valid_values())
def test_msgid_in_range_becomes_the_packet_id(modem, qmt, wire, tag, msg_id):
    """3.3.6 "<msgID> ... Range: 1–65535": the SUBSCRIBE carries it as its packet identifier and
    +QMTSUB: <id>,<msgID>,0,<granted> comes within <pkt_timeout> x (<retry_times> + 1)."""
    qmt.open_connect(wire, f"dut-sub-{tag}")
    sub = qmt.result(f'AT+QMTSUB=0,{msg_id},"s/{tag}",1', "+QMTSUB", 0)
    assert sub.args == [0, msg_id, 0, 1], sub.line
    assert SUB_URC.parse(sub.line) == {"TCP_connectID": 0, "msgID": msg_id, "result": 0, "value": [1]}
    (packet,) = wire.log.sent(codec.Subscribe)
    assert (packet.packet_id, packet.topics) == (msg_id, [(f"s/{tag}", 1)])
    acks = wire.log.packets(direction="B>C", type=codec.SubAck)
    assert [a.packet_id for a in acks] == [msg_id]
    assert sub.t >= acks[0].t, "+QMTSUB result 0 reported before the SUBACK arrived"


@pytest.mark.covers("3.3.6/QMTSUB/msgID")
@pytest.mark.parametrize("msg_id", SUB_MSGID.invalid_values())
def test_msgid_out_of_range_is_refused(modem, qmt, wire, tag, msg_id):
    _assert_refused_and_silent(qmt, wire, f'AT+QMTSUB=0,{msg_id},"s/{tag}",1', tag)


@pytest.mark.covers("3.3.6/QMTSUB/QoS", "3.3.6/QMTSUB/value/result0")
@pytest.mark.parametrize("qos", range(SUB_QOS.lo, SUB_QOS.hi + 1))
def test_each_qos_is_requested_and_granted(modem, qmt, wire, tag, qos):
    """3.3.6 <QoS> 0/1/2: the SUBSCRIBE requests it; <value> is the QoS the server granted."""
    qmt.open_connect(wire, f"dut-sub-{tag}")
    sub = qmt.result(f'AT+QMTSUB=0,3,"q/{tag}",{qos}', "+QMTSUB", 0)
    (packet,) = wire.log.sent(codec.Subscribe)
    assert packet.topics == [(f"q/{tag}", qos)]
    (ack,) = wire.log.packets(direction="B>C", type=codec.SubAck)
    assert sub.args == [0, 3, 0, *ack.packet.return_codes], f"{sub.line} vs SUBACK {ack.packet.return_codes}"


@pytest.mark.covers("3.3.6/QMTSUB/QoS")
@pytest.mark.parametrize("qos", [*SUB_QOS.invalid_values(), 128])
def test_qos_out_of_range_is_refused(modem, qmt, wire, tag, qos):
    _assert_refused_and_silent(qmt, wire, f'AT+QMTSUB=0,5,"q/{tag}",{qos}', tag)


@pytest.mark.covers("3.3.6/QMTSUB/topic")
def test_topic_of_256_bytes_is_subscribed_whole(modem, qmt, wire, tag):
    """3.3.6 "<topic> ... Maximum length: 256 bytes": the longest topic crosses the wire unchanged."""
    qmt.open_connect(wire, f"dut-sub-{tag}")
    topic = SUB_TOPIC.sample(SUB_TOPIC.max_len)
    sub = qmt.result(f'AT+QMTSUB=0,6,"{topic}",0', "+QMTSUB", 0)
    assert sub.args == [0, 6, 0, 0], sub.line
    (packet,) = wire.log.sent(codec.Subscribe)
    assert packet.topics == [(topic, 0)] and len(packet.topics[0][0].encode()) == 256


@pytest.mark.covers("3.3.6/QMTSUB/topic")
def test_topic_of_257_bytes_is_refused(modem, qmt, wire, tag):
    _assert_refused_and_silent(qmt, wire, f'AT+QMTSUB=0,6,"{SUB_TOPIC.sample(SUB_TOPIC.max_len + 1)}",0', tag)


BAD_LINES = {
    **msgid_misuses("+QMTSUB", '"t/{tag}",1'),
    "QoS text": 'AT+QMTSUB=0,7,"t/{tag}",x',
    "QoS quoted": 'AT+QMTSUB=0,7,"t/{tag}","1"',
    "QoS empty": 'AT+QMTSUB=0,7,"t/{tag}",',
    "QoS missing": 'AT+QMTSUB=0,7,"t/{tag}"',
    **cut_short("+QMTSUB"),
    "second QoS missing": 'AT+QMTSUB=0,7,"t/{tag}",1,"u/{tag}"',
    "connect ID text": 'AT+QMTSUB=a,7,"t/{tag}",1',
}


@pytest.mark.covers("3.3.6/QMTSUB/write")
@pytest.mark.parametrize("what", BAD_LINES)
def test_malformed_write_is_refused(modem, qmt, wire, tag, what):
    """3.3.6 write syntax AT+QMTSUB=<TCP_connectID>,<msgID>,<topic1>,<QoS1>[,<topic2>,<QoS2>…]:
    a wrong type or a missing parameter is an error, and no SUBSCRIBE goes out."""
    _assert_refused_and_silent(qmt, wire, BAD_LINES[what].format(tag=tag), tag)


@pytest.mark.covers("3.3.6/QMTSUB/TCP_connectID")
@pytest.mark.parametrize("cid", [-1, 5])
def test_connect_id_out_of_range_is_refused(modem, cid):
    """3.3.6 "<TCP_connectID> ... Range: 0–4"."""
    resp = modem.command(f'AT+QMTSUB={cid},1,"t",0')
    assert is_error(resp), resp.final


@pytest.mark.covers("3.3.6/QMTSUB/TCP_connectID", "3.3.6/QMTSUB/write")
@pytest.mark.parametrize("cid", [0, 4])
def test_not_connected_is_an_error(modem, cid):
    """A SUBSCRIBE needs an MQTT connection (3.3.4 before 3.3.6): with the connect ID closed the
    write form ends in an error, not OK, and no +QMTSUB result follows."""
    resp = modem.command(f'AT+QMTSUB={cid},1,"t",0')
    assert is_error(resp), f"AT+QMTSUB on a closed connect ID answered {resp.final!r}"
    assert not [u for u in modem.drain_urcs() if u.name == "+QMTSUB"]


@pytest.mark.covers("3.3.6/QMTSUB/TCP_connectID", "3.3.6/QMTSUB/write")
def test_opened_but_not_connected_is_an_error(modem, qmt, wire):
    qmt.open(wire, 1)
    resp = modem.command('AT+QMTSUB=1,1,"t",0')
    assert is_error(resp), f"AT+QMTSUB before AT+QMTCONN answered {resp.final!r}"
    assert not wire.log.packets(direction="C>B", type=codec.Subscribe)


@pytest.mark.covers("3.3.6/QMTSUB/TCP_connectID", "3.3.6/QMTSUB/urc")
@pytest.mark.parametrize("cid", [1, 4])
def test_result_names_its_connect_id(modem, qmt, wire, tag, cid):
    qmt.open_connect(wire, f"dut-sub-{tag}", cid)
    sub = qmt.result(f'AT+QMTSUB={cid},11,"c/{tag}",2', "+QMTSUB", cid)
    assert sub.args == [cid, 11, 0, 2], sub.line


# --- several topics -----------------------------------------------------------------------------


@pytest.mark.covers("3.3.6/QMTSUB/write", "3.3.6/QMTSUB/value/result0", "unclear/sub_topics_max")
@pytest.mark.parametrize("qoses", [(0, 1), (2, 0, 1), (1, 2, 0, 2)], ids=lambda q: "-".join(map(str, q)))
def test_several_topics_give_granted_vector_in_order(modem, qmt, wire, tag, qoses):
    """3.3.6 "[,<topic2>,<QoS2>…]" and "When <result>=0, it is a vector of granted QoS levels":
    one SUBSCRIBE with every topic in command order, one <value> per topic in the same order."""
    qmt.open_connect(wire, f"dut-sub-{tag}")
    topics = [f"v/{tag}/{i}" for i in range(len(qoses))]
    args = ",".join(f'"{t}",{q}' for t, q in zip(topics, qoses, strict=True))
    sub = qmt.result(f"AT+QMTSUB=0,21,{args}", "+QMTSUB", 0)
    (packet,) = wire.log.sent(codec.Subscribe)
    assert packet.topics == list(zip(topics, qoses, strict=True))
    (ack,) = wire.log.packets(direction="B>C", type=codec.SubAck)
    assert sub.args == [0, 21, 0, *ack.packet.return_codes], sub.line
    assert len(sub.args) == 3 + len(qoses)


@pytest.mark.covers("unclear/sub_topics_max")
def test_largest_topic_count_is_observed(modem, qmt, wire, tag, observe):
    """The note gives no maximum number of topics per command (harness.spec.unclear): record
    whether ten are accepted and, if so, that the vector has ten values."""
    qmt.open_connect(wire, f"dut-sub-{tag}")
    args = ",".join(f'"w/{tag}/{i}",{i % 3}' for i in range(10))
    resp = modem.command(f"AT+QMTSUB=0,22,{args}")
    observe("AT+QMTSUB with 10 topics", resp.final)  # no plain reading: the note gives no maximum
    if resp.ok:
        sub = qmt.urc("+QMTSUB", 0)
        assert sub.args[:3] == [0, 22, 0] and len(sub.args) == 13, sub.line


# --- <value> from a scripted server -------------------------------------------------------------


GRANTS = {
    "rejected": ((1,), [0x80], [128]),
    "lower": ((2,), [1], [1]),
    "lowest": ((2,), [0], [0]),
    "mixed": ((0, 1, 2), [0, 0x80, 1], [0, 128, 1]),
}


@pytest.mark.covers("3.3.6/QMTSUB/value/128", "3.3.6/QMTSUB/value/result0", "3.3.6/QMTSUB/result/0")
@pytest.mark.parametrize("case", GRANTS)
def test_value_reports_what_the_server_granted(modem, qmt, peer, case):
    """3.3.6 "<value>=128 indicate that the subscription is rejected by the server" and <value> is
    the granted QoS vector: a scripted SUBACK with a lower QoS or 0x80 shows up as such, in order."""
    requested, granted, shown = GRANTS[case]
    conn, _ = qmt.connect_peer(peer, "dut-peer")
    args = ",".join(f'"g/{i}",{q}' for i, q in enumerate(requested))
    assert modem.command(f"AT+QMTSUB=0,31,{args}").ok
    sub = conn.expect(Match(codec.Subscribe, packet_id=31), qmt.deadline("AT+QMTSUB"))
    assert sub.topics == [(f"g/{i}", q) for i, q in enumerate(requested)]
    conn.send(codec.SubAck(31, granted))
    got = qmt.urc("+QMTSUB", 0)
    assert got.args == [0, 31, 0, *shown], got.line
    conn.assert_conformant()


@pytest.mark.spec("6.1")
@pytest.mark.covers("3.3.6/QMTSUB/note/1", "3.3.6/QMTSUB/msgID", "6.1/08", "6.1/09")
def test_msgid_may_be_reused_once_acknowledged(modem, qmt, peer):
    """3.3.6 note: "<msgID> of each message in the inflight window ... must be unique"; 6.1 subscribes
    twice with <msgID> 1. Once a SUBSCRIBE is acknowledged its msgID leaves the inflight window:
    the next SUBSCRIBE with the same msgID goes out with that packet id and gets its own result."""
    conn, _ = qmt.connect_peer(peer, "dut-peer")
    for topic, qos in (("a", 1), ("b", 2)):
        assert modem.command(f'AT+QMTSUB=0,1,"{topic}",{qos}').ok
        sub = conn.expect(Match(codec.Subscribe, packet_id=1), qmt.deadline("AT+QMTSUB"))
        assert sub.topics == [(topic, qos)]
        conn.send(codec.SubAck(1, [qos]))
        got = qmt.urc("+QMTSUB", 0)
        assert got.args == [0, 1, 0, qos], got.line
    conn.assert_conformant()
