"""The general AT commands host software sends, answered as real modules answer them (issue 13
item 1), over the emulator's real TCP transport, byte for byte.

Each case cites where its expectation comes from: "obs. fact N" of the observations file
(../shared/observations/real-modules.md) or a section of the BC660K-GL AT Commands Manual V1.4.
What the emulator only decided (the values of general_values.py, which a real module would print
differently) is asserted through those constants or by shape, never as a module fact. Before this
item the emulator answered ERROR to every command exercised here (or, for AT+CEREG=4, AT+CGSN=0
and AT+QCGDEFCONT=?, a different line), so each case fails against it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from emulated import fresh_module, running_emulator
from raw_uart import RawUart

from harness.emulator import general_values as v
from harness.emulator.general_net import csq_rssi, rsrp_index, rsrq_index
from harness.emulator.launcher import EmulatorProcess

pytestmark = pytest.mark.timeout(30)
SCALE = 0.05  # tests/conftest.py's `emulator` runs at it
OK = b"\r\nOK\r\n"
CELL = f'"{v.TAC}","{v.CELL_ID}",{v.ACT}'.encode()


class Uart(RawUart):
    def cmd(self, line: bytes, timeout: float = 3.0) -> bytes:
        return self.exchange(line, timeout)

    def info(self, line: bytes, *lines: bytes) -> None:
        """`line` answers exactly these information lines, single CRLFs between them, then a blank
        line and OK (obs. facts 1, 19: the framing of every capture)."""
        assert self.cmd(line) == b"\r\n" + b"\r\n".join(lines) + b"\r\n" + OK


@pytest.fixture
def uart(link: Uart) -> Uart:
    """A module just reset (AT+QRST=1, RDY), echo off."""
    link.port.reset_input_buffer()
    link.port.write(b"AT+QRST=1\r")
    link.read_until(lambda b: b.endswith(b"RDY\r\n"))
    assert link.cmd(b"ATE0").endswith(OK)
    return link


def test_dashboard_start_up_profile_as_recorded_fact_4_to_11(uart: Uart) -> None:
    """The recorded host's start-up profile (MB-T, the dashboard of the observations file), in its
    order, each answer in the recorded shape with the emulator's values."""
    uart.info(b"AT+CGSN=1", f"+CGSN: {v.DEFAULT_IMEI}".encode())  # fact 4
    uart.info(b"AT+CPIN?", b"+CPIN: READY")  # fact 4
    uart.info(b"AT+QCCID", f"+QCCID: {v.ICCID}".encode())  # fact 4: 20 digits
    uart.info(b"AT+CIMI", v.IMSI.encode())  # fact 4: a bare IMSI line
    uart.info(b"AT+CBC", f"+CBC: {v.SUPPLY_MV}".encode())  # fact 5: one field, mV
    assert uart.cmd(b"AT+QTEMP") == b"\r\nERROR\r\n"  # fact 6
    assert uart.cmd(b"AT+QNBIOTEVENT=1,1") == OK  # MB-T
    assert uart.cmd(b'AT+QCFG="dsevent",1') == OK  # MB-T
    assert uart.cmd(b"AT+CEREG=4") == OK  # fact 7
    uart.info(b"AT+CPSMS?", b'+CPSMS: 1,,,"01000001","00000101"')  # fact 8: a fresh module (UD)
    uart.info(b"AT+CEDRXS?", b'+CEDRXS: 5,"0011"')  # fact 9
    uart.info(b"AT+CEDRXRDP", b"+CEDRXRDP: 0")  # fact 9
    uart.info(b"AT+CGDCONT?", f'+CGDCONT: 0,"IP","{v.NETWORK_APN}","{v.IP_ADDRESS}"'.encode())  # fact 11
    uart.info(b"AT+CGATT?", b"+CGATT: 1")
    uart.info(b"AT+CGPADDR=1", b"+CGPADDR: 1")  # fact 11: no address
    got = uart.cmd(b"AT+CEREG?")  # fact 7: two empty cause fields, then the two PSM timers
    assert re.fullmatch(rb'\r\n\+CEREG: 4,1,' + re.escape(CELL) + rb',,,"[01]{8}","[01]{8}"\r\n\r\nOK\r\n', got), got


def test_identity_forms_manual_2_5_8_4_10_1(uart: Uart) -> None:
    """AT+CGSN=0 is a bare <SN> line, =2 the 16-digit IMEISV, =3 the SVN (manual 2.5); the test
    forms of AT+CIMI and AT+CBC answer OK only (manual 8.4, 10.1); the values are plausible."""
    got = uart.cmd(b"AT+CGSN=0")
    assert re.fullmatch(rb"\r\n\d{14}\r\n\r\nOK\r\n", got), got
    assert re.fullmatch(rb"\r\n\+CGSN: \d{16}\r\n\r\nOK\r\n", uart.cmd(b"AT+CGSN=2"))
    assert re.fullmatch(rb"\r\n\+CGSN: \d{2}\r\n\r\nOK\r\n", uart.cmd(b"AT+CGSN=3"))
    assert uart.cmd(b"AT+CIMI=?") == OK and uart.cmd(b"AT+CBC=?") == OK
    assert v.luhn_ok(v.ICCID) and v.IMSI.startswith(v.PLMN)  # a SIM of the network it registers on


@pytest.mark.parametrize("n", [4, 5])
def test_cereg_4_and_5_read_and_report_the_psm_timers_fact_7(uart: Uart, n: int) -> None:
    """manual 4.1: <n> 4/5 add [<cause_type>],[<reject_cause>],[<Active-Time>],[<Periodic-TAU>];
    obs. fact 7 recorded the causes empty and the timers quoted, in the read answer; the report
    on registration (27.007 <n> >= 1) carries the same fields after <stat>."""
    tail = rb',,,"[01]{8}","[01]{8}"'
    assert uart.cmd(b"AT+CEREG=%d" % n) == OK
    assert re.fullmatch(rb"\r\n\+CEREG: %d,1," % n + re.escape(CELL) + tail + rb"\r\n\r\nOK\r\n",
                        uart.cmd(b"AT+CEREG?"))
    assert uart.cmd(b"AT+CFUN=0") == OK
    assert uart.read_until(lambda b: b.endswith(b"\r\n+CEREG: 0\r\n")) == b"\r\n+CEREG: 0\r\n"
    assert uart.cmd(b"AT+CFUN=1") == OK
    got = uart.read_until(lambda b: b.endswith(b'"\r\n'))
    assert re.fullmatch(rb"\r\n\+CEREG: 1," + re.escape(CELL) + tail + rb"\r\n", got), got


def test_cpsms_write_read_test_manual_9_4(uart: Uart) -> None:
    uart.info(b"AT+CPSMS=?", b'+CPSMS: (0-2),,,("00000000"-"11111111"),("00000000"-"11111111")')
    assert uart.cmd(b'AT+CPSMS=1,,,"01000011","01000011"') == OK  # the manual's example
    uart.info(b"AT+CPSMS?", b'+CPSMS: 1,,,"01000011","01000011"')
    assert uart.cmd(b"AT+CPSMS=0") == OK  # manual 1.1: omitted parameters keep their value
    uart.info(b"AT+CPSMS?", b'+CPSMS: 0,,,"01000011","01000011"')
    assert uart.cmd(b'AT+CPSMS=1,,,"0100001"') == b"\r\nERROR\r\n"  # 7 bits: general.py's rule (50)


def test_cedrxs_and_cedrxrdp_manual_9_1_9_2_fact_9(uart: Uart) -> None:
    uart.info(b"AT+CEDRXS=?", b'+CEDRXS: (0-3),(5),("0000"-"1111")')  # manual 9.1 example
    assert uart.cmd(b'AT+CEDRXS=1,5,"0101"') == OK  # manual 9.1 example
    uart.info(b"AT+CEDRXS?", b'+CEDRXS: 5,"0101"')  # manual 9.1: "returns the current settings"
    assert uart.cmd(b"AT+CEDRXS=3") == OK  # manual 9.1: off, back to the default
    uart.info(b"AT+CEDRXS?", b'+CEDRXS: 5,"0011"')  # fact 9: the factory value
    assert uart.cmd(b"AT+CEDRXRDP=?") == OK  # manual 9.2
    uart.info(b"AT+CEDRXRDP", b"+CEDRXRDP: 0")  # fact 9


def test_qnbiotevent_and_qcfg_sleep_items_manual_9_8_11_1(uart: Uart) -> None:
    assert uart.cmd(b"AT+QNBIOTEVENT=?") == OK  # manual 9.8: OK only
    assert uart.cmd(b"AT+QNBIOTEVENT=1,1") == OK
    uart.info(b"AT+QNBIOTEVENT?", b"+QNBIOTEVENT: 1,1")  # manual 9.8 example
    uart.info(b'AT+QCFG="slplocktimes"', b'+QCFG: "slplocktimes",10')  # manual 11.1.5 default; fact 21
    assert uart.cmd(b'AT+QCFG="dsevent",1') == OK
    uart.info(b'AT+QCFG="dsevent"', b'+QCFG: "dsevent",1')  # manual 11.1.6
    assert uart.cmd(b"AT+CMEE=1") == OK
    assert uart.cmd(b'AT+QCFG="slplocktimes",31') == b"\r\n+CME ERROR: 50\r\n"  # manual 11.1.5: 0-30


def test_cops_automatic_and_manual_selection_fact_18_manual_7_2(uart: Uart) -> None:
    plmn = v.PLMN.encode()
    assert uart.cmd(b'AT+COPS=1,2,"%s"' % plmn) == OK  # the form hosts send (MB-C)
    uart.info(b"AT+COPS?", b'+COPS: 1,2,"%s",9' % plmn)  # fact 18: `+COPS: 1,2,"23415",9`
    assert uart.cmd(b"AT+COPS=0") == OK
    uart.info(b"AT+COPS?", b'+COPS: 0,2,"%s",9' % plmn)  # manual 7.2 example
    assert uart.cmd(b'AT+COPS=1,2,"%s",9' % plmn) == OK


def test_signal_and_cell_describe_one_cell_fact_19_manual_4_2_4_7(uart: Uart) -> None:
    """AT+QENG=0: 14 fields for the serving cell, a neighbour line one CRLF below, a blank line,
    OK (obs. fact 19); AT+CESQ prints 99,99,255,255 on NB-IoT (manual 4.2 NOTEs) and the RSRQ and
    RSRP indices of QENG's values (manual 4.2 tables), AT+CSQ the index of its RSSI (manual 4.7)."""
    got = uart.cmd(b"AT+QENG=0")
    m = re.fullmatch(rb'\r\n\+QENG: 0,(\d+),(\d+),(\d+),"([0-9A-F]{8})",(-?\d+),(-?\d+),(-?\d+),(-?\d+),(\d+),'
                     rb'"([0-9A-F]{4})",(\d),(-?\d+),([0-3])\r\n\+QENG: 1,\d+,\d+,-?\d+,-?\d+\r\n\r\nOK\r\n', got)
    assert m, got
    rsrp, rsrq, rssi = (int(m[i]) for i in (5, 6, 7))
    assert (m[4].decode(), m[10].decode()) == (v.CELL_ID, v.TAC)  # the cell AT+CEREG reports
    uart.info(b"AT+CESQ", b"+CESQ: 99,99,255,255,%d,%d" % (rsrq_index(rsrq), rsrp_index(rsrp)))
    uart.info(b"AT+CSQ", b"+CSQ: %d,0" % csq_rssi(rssi))
    assert uart.cmd(b"AT+CMEE=2") == OK
    assert uart.cmd(b'AT+QENG="servingcell"') == b"\r\nERROR\r\n"  # fact 19 (BG9x form), plain ERROR


def test_qband_and_qbandscan_manual_7_5_7_14(uart: Uart) -> None:
    uart.info(b"AT+QBAND=?", b"+QBAND: (0-17),(1,2,3,4,5,8,12,13,17,18,19,20,25,28,66,70,85)")
    assert uart.cmd(b"AT+QBAND=1,4") == OK
    uart.info(b"AT+QBAND?", b"+QBAND: 4")  # manual 7.5 example
    uart.info(b"AT+QBANDSCAN=?", b"+QBANDSCAN: (0,1)")
    uart.info(b"AT+QBANDSCAN?", b"+QBANDSCAN: 0")  # manual 7.14: 0 is the default strategy
    assert uart.cmd(b"AT+QBANDSCAN=1") == OK
    uart.info(b"AT+QBANDSCAN?", b"+QBANDSCAN: 1")  # manual 7.14 example


def test_cscon_manual_4_6(uart: Uart) -> None:
    uart.info(b"AT+CSCON=?", b"+CSCON: (0,1)")
    uart.info(b"AT+CSCON?", b"+CSCON: 0,0")  # manual 4.6 example
    assert uart.cmd(b"AT+CSCON=1") == OK
    assert uart.cmd(b"AT+CSCON?").startswith(b"\r\n+CSCON: 1,")


def test_cgdcont_on_context_0_is_not_supported_fact_11(uart: Uart) -> None:
    """obs. fact 11 (CF, AT+CMEE=2) and manual 5.4: context 0 is set with AT+QCGDEFCONT only."""
    for cmee, final in ((2, b"+CME ERROR: operation not supported"), (1, b"+CME ERROR: 4"), (0, b"ERROR")):
        assert uart.cmd(b"AT+CMEE=%d" % cmee) == OK
        assert uart.cmd(b'AT+CGDCONT=0,"IP","iot.example"') == b"\r\n" + final + b"\r\n"


def test_cgdcont_other_contexts_and_cgpaddr_manual_5_4_4_4(uart: Uart) -> None:
    uart.info(b"AT+CGDCONT=?", b'+CGDCONT: (0-10),("IP","IPV6","IPV4V6","Non-IP"),,,,,'
                               b"(0,1),(0-3),(0-2),(0,1),(0,1),(0,1),(0,1),(0,1),(0,1),(0,1)")
    assert uart.cmd(b'AT+CGDCONT=1,"IP","cmnet"') == OK
    uart.info(b"AT+CGDCONT?", f'+CGDCONT: 0,"IP","{v.NETWORK_APN}","{v.IP_ADDRESS}"'.encode(),
              b'+CGDCONT: 1,"IP","CMNET"')  # manual 5.4 example and NOTE 1 (upper case)
    uart.info(b"AT+CGPADDR=0", f'+CGPADDR: 0,"{v.IP_ADDRESS}"'.encode())  # manual 4.4 example
    uart.info(b"AT+CGPADDR=1", b"+CGPADDR: 1")  # fact 11
    assert uart.cmd(b"AT+CGDCONT=1") == OK  # manual 5.4: undefines it
    uart.info(b"AT+CGDCONT?", f'+CGDCONT: 0,"IP","{v.NETWORK_APN}","{v.IP_ADDRESS}"'.encode())
    uart.info(b"AT+QCGDEFCONT=?", b'+QCGDEFCONT: ("IP","IPV6","IPV4V6","Non-IP")')  # manual 5.6 example


def _near_now(text: str, fmt: str) -> None:
    when = datetime.strptime(text, fmt).replace(tzinfo=UTC)
    assert abs((when - datetime.now(UTC)).total_seconds()) < 10, text  # UTC, not local time


def test_cclk_reports_utc_with_the_zone_fact_20(uart: Uart) -> None:
    """obs. fact 20: `+CCLK: 26/09/14,08:46:08+08`, unquoted, the time field in UTC."""
    assert uart.cmd(b"AT+CCLK=?") == OK  # manual 12.1
    got = uart.cmd(b"AT+CCLK?")
    m = re.fullmatch(rb"\r\n\+CCLK: (\d\d/\d\d/\d\d,\d\d:\d\d:\d\d)[+-]\d\d\r\n\r\nOK\r\n", got)
    assert m, got
    _near_now(m[1].decode(), "%y/%m/%d,%H:%M:%S")


def test_ctzr_3_reports_ctzeu_in_utc_at_registration_fact_20(uart: Uart) -> None:
    uart.info(b"AT+CTZR=?", b"+CTZR: (0-3)")  # manual 12.2 example
    assert uart.cmd(b"AT+CTZR=3") == OK
    uart.info(b"AT+CTZR?", b"+CTZR: 3")
    assert uart.cmd(b"AT+CFUN=0") == OK and uart.cmd(b"AT+CFUN=1") == OK
    got = uart.read_until(lambda b: b.endswith(b'"\r\n'))
    m = re.fullmatch(rb'\r\n\+CTZEU: "\+8",1,"(\d{4}/\d\d/\d\d,\d\d:\d\d:\d\d)"\r\n', got)  # fact 20: "+8"
    assert m, got
    _near_now(m[1].decode(), "%Y/%m/%d,%H:%M:%S")


def test_qping_lost_requests_framed_as_recorded_fact_17(uart: Uart) -> None:
    """obs. fact 17, byte for byte: OK, an extra empty line, one bare 569 per lost request, then
    the 7-field summary. (That TEST-NET-1 never answers is the emulator's choice.)"""
    start = time.monotonic()
    uart.port.write(b'AT+QPING=0,"192.0.2.1",4,4\r')
    got = uart.read_until(lambda b: b.endswith(b"+QPING: 0,4,0,4,0,0,0\r\n"))
    assert got == b"\r\nOK\r\n\r\n\r\n+QPING: 569\r\n" + b"\r\n+QPING: 569\r\n" * 3 + b"\r\n+QPING: 0,4,0,4,0,0,0\r\n"
    assert time.monotonic() - start >= 4 * 4 * SCALE * 0.9  # each request waits its 4 s timeout


@pytest.fixture
def own_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An emulator of its own: the module one serves one host at a time, and `link` holds it."""
    yield from running_emulator(tmp_path_factory, SCALE)


def test_qping_urcs_reach_a_host_channel_fact_17(own_emulator: EmulatorProcess) -> None:
    """The harness's own AT channel takes the extra empty line in stride and delivers the URCs."""
    with fresh_module(own_emulator.url, SCALE) as ch:
        assert ch.command('AT+QPING=0,"192.0.2.1",1,2').ok
        assert [ch.wait_urc("+QPING", 5).args for _ in range(3)] == [[569], [569], [0, 2, 0, 2, 0, 0, 0]]


@pytest.mark.parametrize(("line", "final"), [
    # out of range or malformed: +CME ERROR: 50 (general.py's rule; the manual's ranges)
    *((line, b"+CME ERROR: 50") for line in (
        b'AT+CCLK="26/13/40,25:61:61+08"', b'AT+CCLK="26/01/01,00:00:00+97"', b"AT+CCLK=26/01/01",
        b'AT+QPING=0,""', b'AT+QPING=0,"h",0', b'AT+QPING=0,"h",4,11', b'AT+QPING=1,"h"', b"AT+QPING=0",
        b'AT+CGDCONT=11,"IP"', b'AT+CGDCONT=1,"PPP"', b'AT+CGDCONT=1,"IP",apn', b"AT+CGPADDR=11",
        b"AT+QBAND=1,7", b"AT+QBAND=18", b"AT+QBAND=2,3", b"AT+QBAND=2,3,3", b"AT+QENG=4",
        b"AT+CPSMS=3", b'AT+CPSMS=1,"01000001","00000101"', b'AT+CEDRXS=1,5,"01010"', b'AT+CEDRXS=1,4',
        b"AT+QNBIOTEVENT=2,1", b"AT+QNBIOTEVENT=1,2", b"AT+QNBIOTEVENT=1", b'AT+QCFG="dsevent",2',
        b"AT+QCFG=dsevent,1", b'AT+QCFG="nwscanmode",3', b'AT+QCFG="dsevent",1,1', b"AT+COPS=5",
        b'AT+COPS=1,2', b'AT+COPS=1,0,"00101"', b'AT+COPS=1,2,"00101",7', b"AT+CTZR=4", b"AT+CSCON=2",
        b"AT+QBANDSCAN=2", b"AT+CGSN=4")),
    # forms the commands do not have: plain ERROR whatever AT+CMEE says (general.py's rule)
    *((line, b"ERROR") for line in (b"AT+CESQ?", b"AT+CIMI?", b"AT+CBC?", b"AT+QCCID=?", b"AT+QPING?",
                                      b"AT+CEDRXRDP?", b"AT+CCLK", b'AT+QENG="servingcell"')),
])
def test_bad_forms_are_refused_and_the_module_keeps_serving(uart: Uart, line: bytes, final: bytes) -> None:
    """Each malformed line gets its final result (the `emulator` fixture's teardown also fails on
    any handler that crashed on one), and the module answers the next command."""
    assert uart.cmd(b"AT+CMEE=1") == OK
    assert uart.cmd(line) == b"\r\n" + final + b"\r\n"
    uart.info(b"AT+CBC", f"+CBC: {v.SUPPLY_MV}".encode())
