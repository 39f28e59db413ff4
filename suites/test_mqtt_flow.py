"""A first end-to-end flow: open (3.3.2), connect (3.3.4), publish (3.3.8), receive (5.2),
disconnect (3.3.5) and close (3.3.3), each checked on the serial side and on the wire."""

from __future__ import annotations

import pytest

from harness.mqtt import codec
from harness.spec.timing import GRACE_S

TOPIC = "bc660k/conformance/flow"


@pytest.mark.spec("3.3.2")
@pytest.mark.spec("3.3.3")
@pytest.mark.covers("3.3.2/QMTOPEN/write", "3.3.2/QMTOPEN/read", "3.3.2/QMTOPEN/result/0", "3.3.2/QMTOPEN/urc",
                    "3.3.3/QMTCLOSE/write", "3.3.3/QMTCLOSE/result/0", "3.3.3/QMTCLOSE/urc")
def test_open_reports_host_and_port_then_close(modem, qmt, wire):
    qmt.open(wire, 0)
    resp = modem.command("AT+QMTOPEN?")
    assert resp.ok and resp.lines == [f'+QMTOPEN: 0,"{wire.dut_host}",{wire.port}']
    closed = qmt.result("AT+QMTCLOSE=0", "+QMTCLOSE", 0)
    assert closed.args == [0, 0]
    assert not wire.log.packets(direction="C>B"), "AT+QMTOPEN/QMTCLOSE alone must send no MQTT packet"


@pytest.mark.spec("3.3.8")
@pytest.mark.spec("3.3.4")
@pytest.mark.spec("3.3.5")
@pytest.mark.covers("3.3.8/QMTPUB/write/data_variable", "3.3.8/QMTPUB/result/0", "3.3.8/QMTPUB/urc",
                    "3.3.4/QMTCONN/write", "3.3.4/QMTCONN/result/0", "3.3.4/QMTCONN/ret_code/0",
                    "3.3.5/QMTDISC/write", "3.3.5/QMTDISC/result/0", "3.3.5/QMTDISC/urc")
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_crosses_the_wire_and_reaches_a_subscriber(modem, qmt, wire, observer, qos):
    observer.subscribe(TOPIC, qos=qos)
    qmt.open_connect(wire, f"dut-pub-q{qos}")
    msg_id = 0 if qos == 0 else 7
    payload = f"hello from the DUT at QoS {qos}".encode()
    pub = qmt.publish(0, msg_id, qos, 0, TOPIC, payload)
    assert pub.args == [0, msg_id, 0], pub.line
    # The URC can overtake the proxy's logging of the packet: wait for the record, then count.
    wire.log.wait_for(direction="C>B", type=codec.Publish, timeout=GRACE_S)
    wire.log.wait_for(direction="C>B", type=codec.Publish)  # a QoS 0 result may beat the proxy's read
    sent = wire.log.packets(direction="C>B", type=codec.Publish)
    assert len(sent) == 1
    assert (sent[0].qos, sent[0].retain, sent[0].dup, sent[0].topic) == (qos, False, False, TOPIC)
    assert sent[0].packet.payload == payload
    assert sent[0].packet_id == (None if qos == 0 else msg_id)
    got = observer.wait_message(TOPIC, timeout=5.0)
    assert got.payload == payload and got.qos == qos
    qmt.disconnect()
    wire.log.wait_for(direction="C>B", type=codec.Disconnect, timeout=GRACE_S)  # 3.3.5: DISCONNECT sent


@pytest.mark.spec("5.2")
@pytest.mark.spec("3.3.6")
@pytest.mark.covers("5.2/QMTRECV/urc", "3.3.6/QMTSUB/write", "3.3.6/QMTSUB/result/0", "3.3.6/QMTSUB/value/result0")
def test_broker_publish_arrives_as_qmtrecv(modem, qmt, wire, observer):
    qmt.open_connect(wire, "dut-recv")
    sub = qmt.result(f'AT+QMTSUB=0,1,"{TOPIC}/down",1', "+QMTSUB", 0)
    assert sub.args == [0, 1, 0, 1], sub.line
    observer.publish(f"{TOPIC}/down", b"downlink payload", qos=1)
    recv = modem.wait_urc("+QMTRECV", 5.0)
    assert recv.args[0] == 0
    assert recv.args[2] == f"{TOPIC}/down"
    assert recv.args[-1] == "downlink payload"
    delivered = wire.log.packets(direction="B>C", type=codec.Publish)
    assert len(delivered) == 1
    ack = wire.log.wait_for(direction="C>B", type=codec.PubAck)  # may follow the URC
    assert ack.packet_id == delivered[0].packet_id
    qmt.disconnect()
