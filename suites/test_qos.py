"""QoS flows on the wire, both directions (3.3.6/3.3.8 <QoS>, Figure 1): the DUT's PUBLISH at
QoS 0/1/2 against the scripted peer (the handshake step by step, the result only after the last
acknowledgement) and through the proxy to the real broker; the will on an ungraceful loss and not
on AT+QMTDISC (3.3.1 "will"); clean and non-clean sessions (3.3.1 "session")."""

from __future__ import annotations

import pytest

from harness.at.flows import for_id
from harness.mqtt import codec
from harness.peer import Match
from harness.spec.codes import QMTSTAT_BY_CODE
from harness.spec.plain import qmtstat

pytestmark = pytest.mark.spec("3.3.8")


def _pub_results(modem) -> list[str]:
    return [u.line for u in modem.pending_urcs() if u.name == "+QMTPUB"]


def _stat_code(urc) -> int:
    """5.1: <err_code> 1..7 defined, "8-255 Reserved for future use": a reserved code is a failure."""
    code = urc.args[1]
    assert code in QMTSTAT_BY_CODE, f"{urc.line}: <err_code> {code} is not one of 5.1's 1..7"
    return int(code)


# --- DUT -> server, against the scripted peer ---------------------------------------------------


@pytest.mark.covers("3.3.8/QMTPUB/QoS", "3.3.8/QMTPUB/result/0", "unclear/sub_qos0_wording")
def test_qos0_is_a_lone_publish(modem, qmt, peer):
    """3.3.8 <QoS> 0 "At most once - ... the client and the server take no additional steps to
    acknowledge delivery": one PUBLISH without packet identifier, result 0 without any ACK, and
    the next packet the DUT sends is the next command's, nothing in between."""
    conn, _ = qmt.connect_peer(peer, "dut-qos")
    assert qmt.publish(0, 0, 0, 0, "out/q0", b"fire and forget", form="inline").args == [0, 0, 0]
    conn.expect(Match(codec.Publish, topic="out/q0", qos=0, dup=False, packet_id=None,
                      payload=b"fire and forget"), qmt.deadline("AT+QMTPUB"))
    assert modem.command('AT+QMTPUB=0,0,0,0,"out/next",1,"n"').ok
    conn.expect(Match(codec.Publish, topic="out/next", qos=0), qmt.deadline("AT+QMTPUB"))
    conn.assert_conformant()


@pytest.mark.covers("3.3.8/QMTPUB/QoS", "3.3.8/QMTPUB/result/0", "3.3.8/QMTPUB/msgID")
@pytest.mark.parametrize("form", ["data", "fixed", "inline"])
def test_qos1_result_follows_puback(modem, qmt, peer, form):
    """3.3.8 <QoS> 1 and <result> 0 "Sent packet successfully and received an ACK from the server":
    PUBLISH with DUP=0 and packet id = msgID; no result while the PUBACK is outstanding; result 0
    after it."""
    conn, _ = qmt.connect_peer(peer, "dut-qos")
    head = 'AT+QMTPUB=0,501,1,0,"out/q1"'
    line = {"data": head, "fixed": f"{head},2", "inline": f'{head},2,"hi"'}[form]
    resp = modem.send_data(line, b"hi", end=b"\x1a" if form == "data" else None) if form != "inline" \
        else modem.command(line)
    assert resp.ok, f"{line} answered {resp.final!r}"
    conn.expect(Match(codec.Publish, topic="out/q1", qos=1, dup=False, packet_id=501, payload=b"hi"),
                qmt.deadline(line))
    assert not _pub_results(modem), f"+QMTPUB result before PUBACK: {_pub_results(modem)}"
    conn.send(codec.PubAck(501))
    assert qmt.urc("+QMTPUB", 0, line).args == [0, 501, 0]
    conn.assert_conformant()


@pytest.mark.covers("3.3.8/QMTPUB/QoS", "3.3.8/QMTPUB/result/0")
@pytest.mark.parametrize("retain", [0, 1])
def test_qos2_four_way_handshake(modem, qmt, peer, retain):
    """3.3.8 <QoS> 2 "Exactly once - the sender and receiver engage in a two-level handshake":
    PUBLISH (DUP=0), PUBREC -> PUBREL (same id, flags 0010), PUBCOMP -> result 0; no result before
    PUBCOMP, and never the PUBLISH again once PUBREL went out (session rules of the peer)."""
    conn, _ = qmt.connect_peer(peer, "dut-qos")
    t = qmt.deadline("AT+QMTPUB")
    assert modem.command(f'AT+QMTPUB=0,502,2,{retain},"out/q2",3,"two"').ok
    conn.expect(Match(codec.Publish, qos=2, dup=False, retain=bool(retain), packet_id=502, payload=b"two"), t)
    assert not _pub_results(modem)
    conn.send(codec.PubRec(502))
    conn.expect(Match(codec.PubRel, packet_id=502, flags=0b0010), t)
    assert not _pub_results(modem), f"+QMTPUB result before PUBCOMP: {_pub_results(modem)}"
    conn.send(codec.PubComp(502))
    assert modem.wait_urc("+QMTPUB", t, predicate=for_id(0)).args == [0, 502, 0]
    conn.assert_conformant()


# --- DUT -> broker through the proxy ------------------------------------------------------------


FLOWS = {0: [("C>B", "PUBLISH")],
         1: [("C>B", "PUBLISH"), ("B>C", "PUBACK")],
         2: [("C>B", "PUBLISH"), ("B>C", "PUBREC"), ("C>B", "PUBREL"), ("B>C", "PUBCOMP")]}


@pytest.mark.covers("3.3.8/QMTPUB/QoS", "3.3.8/QMTPUB/result/0")
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_wire_sequence_against_the_broker(modem, qmt, wire, observer, tag, qos):
    """The whole flow on the wire for one publish, in order, every packet with the msgID, and the
    +QMTPUB result reported only after the last packet of the flow was passed to the DUT."""
    observer.subscribe(f"w/{tag}", qos=qos)
    qmt.open_connect(wire, f"dut-qos-{tag}")
    msg_id = 0 if qos == 0 else 600 + qos
    pub = qmt.publish(0, msg_id, qos, 0, f"w/{tag}", b"flow", form="inline")
    assert pub.args == [0, msg_id, 0]
    wire.log.wait_for(direction="C>B", type=codec.Publish)  # QoS 0: the result may beat the proxy's read
    flow = [r for r in wire.log.packets() if r.type in {"PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP"}
            and r.topic in (None, f"w/{tag}") and not (r.direction == "B>C" and r.type == "PUBLISH")]
    assert [(r.direction, r.type) for r in flow] == FLOWS[qos]
    assert all(r.packet_id == (msg_id or None) for r in flow)
    assert flow[0].dup is False
    if qos:
        assert flow[-1].t_out is not None and pub.t >= flow[-1].t_out, "result reported before the last ACK"
    assert observer.wait_message(f"w/{tag}", timeout=qmt.deadline("AT+QMTPUB")).payload == b"flow"


# --- will (3.3.1) -------------------------------------------------------------------------------


def _will(modem, tag: str, qos: int = 1, retain: int = 0) -> tuple[str, str]:
    topic, msg = f"will/{tag}", f"gone-{tag}"
    assert modem.command(f'AT+QMTCFG="will",0,1,{qos},{retain},"{topic}","{msg}"').ok
    return topic, msg


@pytest.mark.spec("3.3.1")
@pytest.mark.spec("5.1")
@pytest.mark.needs_broker("will")
@pytest.mark.covers("3.3.1/will/will_fg", "3.3.1/will/will_msg", "3.3.1/will/will_topic", "3.3.1/will/will_QoS",
                    "5.1/QMTSTAT/1", "5.1/QMTSTAT/urc", "5.1/QMTSTAT/closes", "unclear/qmtstat_codes",
                    "5.1/QMTSTAT/8-255")
@pytest.mark.parametrize("will_qos", [0, 1, 2])
def test_will_is_published_on_ungraceful_loss(modem, qmt, wire, observer, tag, observe, will_qos):
    """3.3.1 <will_msg> "published to the Will topic if the client is unexpectedly disconnected": the
    CONNECT carries the will; when the link is reset under the DUT, the broker publishes it, and the
    DUT reports +QMTSTAT with a 5.1 code (code: observation, the suite expects 1 "closed or reset by
    its remote peer") and closes the connect ID (5.1 "the client will close the MQTT connection")."""
    topic, msg = _will(modem, tag, will_qos)
    observer.subscribe(topic, qos=2)
    qmt.open_connect(wire, f"dut-will-{tag}")
    (connect,) = wire.log.packets(direction="C>B", type=codec.Connect)
    c = connect.packet
    assert (c.will_flag, c.will_topic, c.will_payload, c.will_qos, c.will_retain) == \
        (True, topic, msg.encode(), will_qos, False)
    wire.proxy.drop_connections(reset=True)
    got = observer.wait_message(topic, timeout=qmt.deadline("AT+QMTPUB"))
    assert got.payload == msg.encode()
    stat = modem.wait_urc("+QMTSTAT", qmt.deadline("AT+QMTPUB"), predicate=for_id(0))
    observe("+QMTSTAT after the link was reset (suite expects 1)", _stat_code(stat), plain=qmtstat(1))
    assert modem.command("AT+QMTCONN?").lines == [], "connect ID still listed after +QMTSTAT"


@pytest.mark.spec("3.3.1")
@pytest.mark.needs_broker("will")
@pytest.mark.covers("3.3.1/will/will_msg", "3.3.5/QMTDISC/write")
def test_will_is_not_published_after_qmtdisc(modem, qmt, wire, observer, tag):
    """A DISCONNECT is not an unexpected disconnection (3.3.1 <will_msg>; MQTT 3.1.1 3.14.4): after
    AT+QMTDISC the will topic carries only the marker the observer publishes afterwards."""
    topic, _ = _will(modem, tag)
    observer.subscribe(topic, qos=1)
    qmt.open_connect(wire, f"dut-will-{tag}")
    qmt.disconnect()
    observer.publish(topic, b"marker", qos=1)
    assert observer.wait_message(topic, timeout=qmt.deadline("AT+QMTPUB")).payload == b"marker"


@pytest.mark.spec("3.3.1")
@pytest.mark.needs_broker("will", "retain")
@pytest.mark.covers("3.3.1/will/will_retain")
def test_retained_will_reaches_a_later_subscriber(modem, qmt, wire, observer, tag):
    """<will_retain> 1: "the server retains the message after delivering it to the current subscribers"."""
    topic, msg = _will(modem, tag, qos=1, retain=1)
    qmt.open_connect(wire, f"dut-will-{tag}")
    assert wire.log.packets(direction="C>B", type=codec.Connect)[0].packet.will_retain is True
    wire.proxy.drop_connections(reset=True)
    modem.wait_urc("+QMTSTAT", qmt.deadline("AT+QMTPUB"), predicate=for_id(0))
    try:
        observer.subscribe(topic, qos=1)
        got = observer.wait_message(topic, timeout=qmt.deadline("AT+QMTPUB"))
        assert (got.payload, got.retain) == (msg.encode(), True)
    finally:
        observer.publish(topic, b"", qos=1, retain=True)


# --- sessions (3.3.1) ---------------------------------------------------------------------------


def _session_round(modem, qmt, wire, observer, tag: str, clean: int) -> None:
    """Connect with <clean_session>, subscribe at QoS 1, disconnect, let the observer publish while
    the DUT is away, connect again with the same client ID."""
    assert modem.command(f'AT+QMTCFG="session",0,{clean}').ok
    client = f"dut-sess-{tag}"
    qmt.open_connect(wire, client)
    assert qmt.result(f'AT+QMTSUB=0,1,"sess/{tag}",1', "+QMTSUB", 0).args == [0, 1, 0, 1]
    first = wire.log.packets(direction="C>B", type=codec.Connect)[-1].conn
    qmt.disconnect()
    wire.log.broker_ended(first)  # the broker holds the session offline before the message comes
    observer.publish(f"sess/{tag}", b"while away", qos=1)
    qmt.open_connect(wire, client)


@pytest.mark.spec("3.3.1")
@pytest.mark.needs_broker("persistent_sessions")
@pytest.mark.covers("3.3.1/session/clean_session")
def test_non_clean_session_gets_offline_messages(modem, qmt, wire, observer, tag):
    """<clean_session> 0 "Non-clean session - the server saves client subscriptions after the client is
    disconnected": CONNECT has CleanSession=0, the second CONNACK says session present, and the QoS 1
    message published while the DUT was away arrives without subscribing again."""
    _session_round(modem, qmt, wire, observer, tag, clean=0)
    connects = wire.log.packets(direction="C>B", type=codec.Connect)
    assert [c.packet.clean_session for c in connects] == [False, False]
    assert wire.log.packets(direction="B>C", type=codec.ConnAck)[-1].packet.session_present is True
    got = modem.wait_urc("+QMTRECV", qmt.deadline("AT+QMTPUB"), predicate=for_id(0))
    assert got.args[2:] == [f"sess/{tag}", "while away"], got.line
    qmt.disconnect()
    assert modem.command('AT+QMTCFG="session",0,1').ok  # leave no session behind on the broker
    qmt.open_connect(wire, f"dut-sess-{tag}")


@pytest.mark.spec("3.3.1")
@pytest.mark.covers("3.3.1/session/clean_session", "3.3.1/note/2")
def test_clean_session_forgets_subscriptions(modem, qmt, wire, observer, tag):
    """<clean_session> 1 "the server deletes all the previously retained information about the client":
    CleanSession=1 on the wire, no session present, and nothing queued arrives; a fresh subscription's
    marker bounds the wait."""
    _session_round(modem, qmt, wire, observer, tag, clean=1)
    connects = wire.log.packets(direction="C>B", type=codec.Connect)
    assert [c.packet.clean_session for c in connects] == [True, True]
    assert wire.log.packets(direction="B>C", type=codec.ConnAck)[-1].packet.session_present is False
    assert qmt.result(f'AT+QMTSUB=0,2,"mark/{tag}",1', "+QMTSUB", 0).args == [0, 2, 0, 1]
    observer.publish(f"mark/{tag}", b"marker", qos=1)
    got = modem.wait_urc("+QMTRECV", qmt.deadline("AT+QMTPUB"), predicate=for_id(0))
    assert got.args[2:] == [f"mark/{tag}", "marker"], f"clean session still got {got.line}"
