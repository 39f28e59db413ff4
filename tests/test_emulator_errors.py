"""Chapter 4 codes the emulator gives for situations it can recognise: 8506 "MQTT illegal UTF8"
for a topic whose bytes are not UTF-8 (an MQTT topic is a UTF-8 string, [MQTT-1.5.3-1])."""

from __future__ import annotations

import pytest

from harness.at import ATChannel
from harness.at.flows import open_connect
from harness.broker import EmbeddedBroker
from harness.emulator.launcher import EmulatorProcess


@pytest.fixture(scope="module")
def connected(tmp_path_factory):
    broker = EmbeddedBroker().start()
    emu = EmulatorProcess.start(transport="tcp", time_scale=0.05, log_path=tmp_path_factory.mktemp("e") / "e.log")
    ch = ATChannel(emu.url, time_scale=0.05)
    try:
        assert ch.resync() and ch.command("ATE0").ok and ch.command("AT+CMEE=1").ok
        open_connect(ch, "127.0.0.1", broker.port, "utf8-check")
        yield ch
    finally:
        ch.close()
        emu.stop()
        broker.stop()


@pytest.mark.parametrize("line", ['AT+QMTSUB=0,1,"{t}",0', 'AT+QMTUNS=0,1,"{t}"', 'AT+QMTPUB=0,0,0,0,"{t}",1,"x"'])
def test_topic_that_is_not_utf8_is_refused_with_8506(connected, line):
    topic = bytes.fromhex("612fff").decode("utf-8", "surrogateescape")  # "a/" then a byte no UTF-8 has
    assert connected.command(line.format(t=topic)).final == "+CME ERROR: 8506"


def test_utf8_topic_beyond_ascii_is_accepted(connected):
    resp = connected.command('AT+QMTSUB=0,2,"temp/küche",0')
    assert resp.final == "OK"
    sub = connected.wait_urc("+QMTSUB", 5.0, predicate=lambda u: u.args[:2] == [0, 2])
    assert sub.args[2] == 0
