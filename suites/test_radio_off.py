"""5.1 Table 4 seen from the radio: with the radio off (AT+CFUN=0) after the link is up, the packet a
flow needs cannot leave the module. Table 4 names a code per packet that could not be sent: 3 "Sending
CONNECT packet timed out or failed", 2 "Sending PINGREQ packet timed out or failed", and 7 "The link is
not alive". Verdicts are what is physical: nothing reaches the server while the radio is off and no flow
reports success ("0 Packet sent successfully and ACK received from server"). Which result and which
+QMTSTAT code follow are observations (harness.spec.unclear "qmtstat_codes"), each against the code
Table 4 names for the packet. The radio is turned on again after each case; the known state waits for
registration before the next one."""

from __future__ import annotations

import contextlib

import pytest

from harness.at import ATTimeout
from harness.at.flows import for_id
from harness.mqtt import codec
from harness.spec.plain import qmtstat, reading

pytestmark = pytest.mark.spec("5.1")

PKT_TIMEOUT = 1  # 3.3.1 <pkt_timeout> lower bound: T1, the window a packet sent by mistake arrives in
KEEPALIVE = 3  # module seconds: the first PINGREQ falls due well after the radio went off


@pytest.fixture
def radio_off(modem):
    """Call it to turn the radio off; the radio is on again when the case ends, pass or fail."""
    yield lambda: _expect_ok(modem, "AT+CFUN=0")
    modem.command("AT+CFUN=1")


def _expect_ok(modem, line: str) -> None:
    resp = modem.command(line)
    assert resp.ok, f"{line} answered {resp.final!r}"


def _open(qmt, peer, keepalive: int = 0):
    """Open connect ID 0 on the scripted peer, T1 = 1 s without retries (longer than the uplink's
    round trip on a slow link, harness.rig.uplink, so CONNACK can come back); the peer's connection."""
    qmt.uplink_timeout(0, PKT_TIMEOUT)
    qmt.ok(f'AT+QMTCFG="keepalive",0,{keepalive}')
    return qmt.accept(peer)


def _connect(qmt, conn, client_id: str) -> None:
    qmt.start_connect(conn, client_id)
    assert qmt.urc("+QMTCONN", 0).args[:2] == [0, 0]


def _outcome(qmt, line: str, urc: str) -> str | None:
    """The result URC of `line` if the DUT accepted the command, else its final answer; None if none came."""
    resp = qmt.channel.command(line)
    if not resp.ok:
        return resp.final
    with contextlib.suppress(ATTimeout):
        return qmt.urc(urc, 0, line).line
    return None


def _stat(modem, timeout: float) -> str | None:
    with contextlib.suppress(ATTimeout):
        return modem.wait_urc("+QMTSTAT", timeout, predicate=for_id(0)).line
    return None


@pytest.mark.covers("5.1/QMTSTAT/3", "unclear/qmtstat_codes")
def test_connect_cannot_leave_with_the_radio_off(modem, qmt, peer, observe, radio_off):
    conn = _open(qmt, peer)
    radio_off()
    line = 'AT+QMTCONN=0,"dut-radio-off"'
    outcome = _outcome(qmt, line, "+QMTCONN")
    observe("AT+QMTCONN with the radio off (expected +QMTCONN: 0,2)", outcome,
            plain=reading("3.3.4/QMTCONN/result/2", "+QMTCONN: 0,2"))
    assert not (outcome or "").startswith("+QMTCONN: 0,0"), f"{outcome}: connected with the radio off"
    conn.expect_nothing(qmt.period())
    observe("+QMTSTAT (expected +QMTSTAT: 0,3)", _stat(modem, qmt.deadline(line)), plain=qmtstat(3, cid=0))


@pytest.mark.covers("5.1/QMTSTAT/2", "unclear/qmtstat_codes")
def test_pingreq_cannot_leave_with_the_radio_off(modem, qmt, peer, observe, radio_off):
    conn = _open(qmt, peer, keepalive=KEEPALIVE)
    _connect(qmt, conn, "dut-radio-ping")
    radio_off()
    # Figure 1 T2: a PINGREQ falls due after keep-alive seconds; T1 later the module knows it got nowhere.
    window = (KEEPALIVE + qmt.pkt_timeout()) * modem.time_scale * 2
    stat = _stat(modem, window + qmt.deadline("AT+QMTCONN"))
    observe("+QMTSTAT (expected +QMTSTAT: 0,2)", stat, plain=qmtstat(2, cid=0))
    assert conn.received(codec.PingReq) == [], "PINGREQ reached the server with the radio off"


@pytest.mark.covers("5.1/QMTSTAT/7", "unclear/qmtstat_codes")
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_cannot_leave_with_the_radio_off(modem, qmt, peer, observe, radio_off, qos):
    conn = _open(qmt, peer)
    _connect(qmt, conn, "dut-radio-pub")
    radio_off()
    msg_id = 1 if qos else 0
    line = f'AT+QMTPUB=0,{msg_id},{qos},0,"radio/off",2,"hi"'
    outcome = _outcome(qmt, line, "+QMTPUB")
    observe(f"AT+QMTPUB QoS {qos} with the radio off (expected +QMTPUB: 0,{msg_id},2)", outcome,
            plain=reading("3.3.8/QMTPUB/result/2", f"+QMTPUB: 0,{msg_id},2"))
    assert outcome != f"+QMTPUB: 0,{msg_id},0", f"{outcome}: published with the radio off"
    conn.expect_nothing(qmt.period())
    observe("+QMTSTAT (expected +QMTSTAT: 0,7)", _stat(modem, qmt.deadline(line)), plain=qmtstat(7, cid=0))
