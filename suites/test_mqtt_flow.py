"""A first end-to-end flow: open (3.3.2), connect (3.3.4), publish (3.3.8), receive (5.2),
disconnect (3.3.5) and close (3.3.3), each checked on the serial side and on the broker side."""

from __future__ import annotations

import pytest

from harness.spec.timing import deadline_s

TOPIC = "bc660k/conformance/flow"


def result(modem, line: str, urc: str, cid: int = 0):
    """Send a command whose result comes as a URC after OK; wait within the note's maximum."""
    resp = modem.command(line)
    assert resp.final == "OK", f"{line} answered {resp.final}"
    return modem.wait_urc(urc, deadline_s(line, modem.time_scale, modem.pkt_timeout, modem.retry_times),
                          predicate=lambda u: bool(u.args) and u.args[0] == cid)


def open_and_connect(modem, broker, client_id: str, cid: int = 0) -> None:
    opened = result(modem, f'AT+QMTOPEN={cid},"{broker.dut_host}",{broker.port}', "+QMTOPEN", cid)
    assert opened.args == [cid, 0], opened.line
    connected = result(modem, f'AT+QMTCONN={cid},"{client_id}"', "+QMTCONN", cid)
    assert connected.args == [cid, 0, 0], connected.line


@pytest.mark.spec("3.3.2")
def test_open_reports_host_and_port(modem, broker):
    opened = result(modem, f'AT+QMTOPEN=0,"{broker.dut_host}",{broker.port}', "+QMTOPEN")
    assert opened.args == [0, 0]
    resp = modem.command("AT+QMTOPEN?")
    assert resp.ok and resp.lines == [f'+QMTOPEN: 0,"{broker.dut_host}",{broker.port}']
    closed = result(modem, "AT+QMTCLOSE=0", "+QMTCLOSE")
    assert closed.args == [0, 0]


@pytest.mark.spec("3.3.8")
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_reaches_the_broker(modem, broker, observer, qos):
    """The observer subscribes at the same QoS, so the delivered QoS is the published one on a
    correct broker (amqtt does not downgrade; the proxy's wire log will check the DUT's own
    PUBLISH header once it exists)."""
    observer.subscribe(TOPIC, qos=qos)
    open_and_connect(modem, broker, f"dut-pub-q{qos}")
    msg_id = 0 if qos == 0 else 7
    payload = f"hello from the DUT at QoS {qos}".encode()
    line = f'AT+QMTPUB=0,{msg_id},{qos},0,"{TOPIC}"'
    resp = modem.send_data(line, payload)
    assert resp.final == "OK"
    pub = modem.wait_urc("+QMTPUB", deadline_s(line, modem.time_scale))
    assert pub.args == [0, msg_id, 0], pub.line
    got = observer.wait_message(TOPIC, timeout=deadline_s(line, modem.time_scale))
    assert got.payload == payload
    assert got.qos == qos and not got.retain
    disc = result(modem, "AT+QMTDISC=0", "+QMTDISC")
    assert disc.args == [0, 0]


@pytest.mark.spec("5.2")
def test_broker_publish_arrives_as_qmtrecv(modem, broker, observer):
    open_and_connect(modem, broker, "dut-recv")
    sub = result(modem, f'AT+QMTSUB=0,1,"{TOPIC}/down",1', "+QMTSUB")
    assert sub.args == [0, 1, 0, 1], sub.line
    observer.publish(f"{TOPIC}/down", b"downlink payload", qos=1)
    recv = modem.wait_urc("+QMTRECV", deadline_s("AT+QMTSUB", modem.time_scale))
    assert recv.args[0] == 0
    assert recv.args[2] == f"{TOPIC}/down"
    assert recv.args[-1] == "downlink payload"
    disc = result(modem, "AT+QMTDISC=0", "+QMTDISC")
    assert disc.args == [0, 0]
