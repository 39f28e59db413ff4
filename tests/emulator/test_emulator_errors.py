"""Chapter 4 codes the emulator gives for situations it can recognise: 8506 "MQTT illegal UTF8"
for a topic whose bytes are not UTF-8 (an MQTT topic is a UTF-8 string, [MQTT-1.5.3-1])."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.at import ATChannel
from harness.at.flows import open_connect
from harness.broker import EmbeddedBroker
from harness.emulator.launcher import EmulatorProcess

SCALE = 0.05  # tests/conftest.py's `emulator` runs at it


@pytest.fixture(scope="module")
def connected(amqtt_broker: EmbeddedBroker, emulator: EmulatorProcess) -> Iterator[ATChannel]:
    with ATChannel(emulator.url, time_scale=SCALE) as ch:
        assert ch.resync() and ch.command("ATE0").ok and ch.command("AT+CMEE=1").ok
        open_connect(ch, "127.0.0.1", amqtt_broker.port, "utf8-check")
        yield ch


@pytest.mark.parametrize("line", ['AT+QMTSUB=0,1,"{t}",0', 'AT+QMTUNS=0,1,"{t}"', 'AT+QMTPUB=0,0,0,0,"{t}",1,"x"'])
def test_topic_that_is_not_utf8_is_refused_with_8506(connected, line):
    topic = bytes.fromhex("612fff").decode("utf-8", "surrogateescape")  # "a/" then a byte no UTF-8 has
    assert connected.command(line.format(t=topic)).final == "+CME ERROR: 8506"


def test_utf8_topic_beyond_ascii_is_accepted(connected):
    resp = connected.command('AT+QMTSUB=0,2,"temp/küche",0')
    assert resp.final == "OK"
    sub = connected.wait_urc("+QMTSUB", 5.0, predicate=lambda u: u.args[:2] == [0, 2])
    assert sub.args[2] == 0
