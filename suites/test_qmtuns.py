"""AT+QMTUNS (3.3.7): the test form, the write form at every bound, wrong types, missing
parameters, several topics, not connected; on the wire one UNSUBSCRIBE with the host's msgID and
topics in order, and afterwards no more deliveries for the topics left. Retransmission
(<result> 1/2) lives in test_timers.py."""

from __future__ import annotations

import pytest
from _write_forms import cut_short, msgid_misuses

from harness.at.flows import is_error
from harness.mqtt import codec
from harness.spec.commands import QMTUNS, UNS_MSGID, UNS_TOPIC
from harness.spec.urcs import URCS

pytestmark = pytest.mark.spec("3.3.7")

UNS_URC = URCS["+QMTUNS"]
TEST_PREFIX = "+QMTUNS: (0-4),(1-65535),<topic>"  # harness.spec.unclear "sub_test_line": the verdict part


def _assert_refused_and_silent(qmt, wire, line: str, tag: str) -> None:
    """Connected through the proxy, `line` gets ERROR or +CME ERROR (3.3.7), and no UNSUBSCRIBE goes
    out: a marker AT+QMTUNS afterwards is the only one."""
    qmt.open_connect(wire, f"dut-uns-{tag}")
    qmt.refused(line)
    marker = qmt.unsubscribe(0, 4343, f"m/{tag}")
    assert marker.args == [0, 4343, 0], marker.line
    assert [u.packet_id for u in wire.log.sent(codec.Unsubscribe)] == [4343], f"refused {line} still sent UNSUBSCRIBE"


@pytest.mark.covers("3.3.7/QMTUNS/test", "3.3.7/QMTUNS", "unclear/sub_test_line")
def test_test_form_prints_ranges(modem, observe):
    """3.3.7 "+QMTUNS: (range of supported <TCP_connectID>s),(range of supported <msgID>s),<topic1>,
    <topic2>…" (no example): verdict on the prefix, the rest is an observation (harness.spec.unclear)."""
    resp = modem.command("AT+QMTUNS=?")
    assert resp.ok, f"AT+QMTUNS=? answered {resp.final!r}"
    assert len(resp.lines) == 1, resp.lines
    assert resp.lines[0].startswith(TEST_PREFIX), f"{resp.lines[0]!r} does not start with {TEST_PREFIX!r}"
    observe("AT+QMTUNS=? line", resp.lines[0])  # no plain reading: 3.3.7 has no example to render it
    observe("AT+QMTUNS=? equals the suite's reading", resp.lines[0] == QMTUNS.form("test").test_line)


@pytest.mark.covers("3.3.7/QMTUNS/write", "3.3.7/QMTUNS/msgID", "3.3.7/QMTUNS/result/0", "3.3.7/QMTUNS/urc",
                    "3.3.7/QMTUNS/max_response_time", "3.3.7/QMTUNS/topic")
@pytest.mark.parametrize("msg_id", UNS_MSGID.valid_values())
def test_unsubscribe_carries_msgid_and_reports_result_0(modem, qmt, wire, tag, msg_id):
    """3.3.7 "+QMTUNS: <TCP_connectID>,<msgID>,<result>" with <result> 0 "Packet sent successfully
    and ACK received from the server", after the UNSUBACK, with the msgID as packet identifier."""
    qmt.open_connect(wire, f"dut-uns-{tag}")
    assert qmt.result(f'AT+QMTSUB=0,1,"u/{tag}",1', "+QMTSUB", 0).args == [0, 1, 0, 1]
    uns = qmt.result(f'AT+QMTUNS=0,{msg_id},"u/{tag}"', "+QMTUNS", 0)
    assert uns.args == [0, msg_id, 0], uns.line
    assert UNS_URC.parse(uns.line) == {"TCP_connectID": 0, "msgID": msg_id, "result": 0}
    (packet,) = wire.log.sent(codec.Unsubscribe)
    assert (packet.packet_id, packet.topics) == (msg_id, [f"u/{tag}"])
    (ack,) = wire.log.packets(direction="B>C", type=codec.UnsubAck)
    assert ack.packet_id == msg_id and uns.t >= ack.t


@pytest.mark.covers("3.3.7/QMTUNS/msgID")
@pytest.mark.parametrize("msg_id", UNS_MSGID.invalid_values())
def test_msgid_out_of_range_is_refused(modem, qmt, wire, tag, msg_id):
    """3.3.7 "<msgID> ... Range: 1–65535"."""
    _assert_refused_and_silent(qmt, wire, f'AT+QMTUNS=0,{msg_id},"u/{tag}"', tag)


@pytest.mark.covers("3.3.7/QMTUNS/topic")
def test_topic_of_256_bytes_crosses_whole(modem, qmt, wire, tag):
    """3.3.7 "<topic> ... Maximum length: 256 bytes"."""
    qmt.open_connect(wire, f"dut-uns-{tag}")
    topic = UNS_TOPIC.sample(UNS_TOPIC.max_len)
    assert qmt.result(f'AT+QMTUNS=0,2,"{topic}"', "+QMTUNS", 0).args == [0, 2, 0]
    (packet,) = wire.log.sent(codec.Unsubscribe)
    assert packet.topics == [topic]


@pytest.mark.covers("3.3.7/QMTUNS/topic")
def test_topic_of_257_bytes_is_refused(modem, qmt, wire, tag):
    _assert_refused_and_silent(qmt, wire, f'AT+QMTUNS=0,2,"{UNS_TOPIC.sample(UNS_TOPIC.max_len + 1)}"', tag)


BAD_LINES = {
    **msgid_misuses("+QMTUNS", '"t/{tag}"'),
    **cut_short("+QMTUNS"),
    "connect ID text": 'AT+QMTUNS=x,7,"t/{tag}"',
}


@pytest.mark.covers("3.3.7/QMTUNS/write")
@pytest.mark.parametrize("what", BAD_LINES)
def test_malformed_write_is_refused(modem, qmt, wire, tag, what):
    """3.3.7 AT+QMTUNS=<TCP_connectID>,<msgID>,<topic1>[,<topic2>…]: wrong types and missing
    parameters are errors and send nothing."""
    _assert_refused_and_silent(qmt, wire, BAD_LINES[what].format(tag=tag), tag)


@pytest.mark.covers("3.3.7/QMTUNS/TCP_connectID")
@pytest.mark.parametrize("cid", [-1, 5])
def test_connect_id_out_of_range_is_refused(modem, cid):
    assert is_error(modem.command(f'AT+QMTUNS={cid},1,"t"'))


@pytest.mark.covers("3.3.7/QMTUNS/TCP_connectID", "3.3.7/QMTUNS/write")
@pytest.mark.parametrize("cid", [0, 3])
def test_not_connected_is_an_error(modem, cid):
    resp = modem.command(f'AT+QMTUNS={cid},1,"t"')
    assert is_error(resp), f"AT+QMTUNS on a closed connect ID answered {resp.final!r}"
    assert not [u for u in modem.drain_urcs() if u.name == "+QMTUNS"]


@pytest.mark.covers("3.3.7/QMTUNS/write", "3.3.7/QMTUNS/topic", "unclear/sub_topics_max")
@pytest.mark.parametrize("count", [2, 3])
def test_several_topics_in_one_unsubscribe(modem, qmt, wire, tag, count):
    """3.3.7 "[,<topic2>…]": one UNSUBSCRIBE listing every topic in command order, one result."""
    qmt.open_connect(wire, f"dut-uns-{tag}")
    topics = [f"m/{tag}/{i}" for i in range(count)]
    uns = qmt.result("AT+QMTUNS=0,9," + ",".join(f'"{t}"' for t in topics), "+QMTUNS", 0)
    assert uns.args == [0, 9, 0], uns.line
    (packet,) = wire.log.sent(codec.Unsubscribe)
    assert packet.topics == topics


@pytest.mark.covers("3.3.7/QMTUNS", "3.3.7/QMTUNS/result/0")
def test_no_delivery_after_unsubscribe(modem, qmt, wire, observer, tag):
    """3.3.7 "unsubscribes from one or more topics": after +QMTUNS: ...,0 a message on the topic
    left is not reported, while the topic still subscribed is (the marker that bounds the wait)."""
    qmt.open_connect(wire, f"dut-uns-{tag}")
    gone, kept = f"gone/{tag}", f"kept/{tag}"
    assert qmt.result(f'AT+QMTSUB=0,1,"{gone}",1,"{kept}",1', "+QMTSUB", 0).args == [0, 1, 0, 1, 1]
    assert qmt.result(f'AT+QMTUNS=0,2,"{gone}"', "+QMTUNS", 0).args == [0, 2, 0]
    observer.publish(gone, b"must not arrive", qos=1)
    observer.publish(kept, b"marker", qos=1)
    got = modem.wait_urc("+QMTRECV", qmt.deadline("AT+QMTPUB"))
    assert got.args[2] == kept, f"after unsubscribing {gone!r} the DUT reported {got.line}"
    assert not [u for u in modem.drain_urcs() if u.name == "+QMTRECV"]
    assert [r.topic for r in wire.log.packets(direction="B>C", type=codec.Publish)] == [kept]


@pytest.mark.covers("3.3.7/QMTUNS/TCP_connectID", "3.3.7/QMTUNS/urc")
def test_result_names_its_connect_id(modem, qmt, wire, tag):
    qmt.open_connect(wire, f"dut-uns-{tag}", 2)
    resp = modem.command(f'AT+QMTUNS=2,12,"c/{tag}"')
    assert resp.ok
    uns = qmt.urc("+QMTUNS", 2)
    assert uns.args == [2, 12, 0], uns.line
