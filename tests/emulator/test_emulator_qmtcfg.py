"""AT+QMTCFG on the emulator (application note 3.3.1), over its real TCP transport.

Errors are read with AT+CMEE=1 so the MQTT code (chapter 4: 8507 "MQTT invalid parameter") is
visible; plain ERROR marks forms the BC660K-GL does not have at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from raw_uart import FINAL, RawUart

from harness.emulator import frontend
from harness.emulator.launcher import EmulatorProcess
from harness.emulator.mqtt_client import MqttClient
from harness.emulator.mqtt_types import Retry
from harness.emulator.qmtcfg import TEST_LINES
from harness.emulator.state import Link

pytestmark = pytest.mark.timeout(30)
OK, INVALID, ERROR = b"\r\nOK\r\n", b"\r\n+CME ERROR: 8507\r\n", b"\r\nERROR\r\n"


class Uart(RawUart):
    def cmd(self, line: str) -> bytes:
        return self.exchange(line.encode())

    def query(self, item: str, cid: int = 0) -> bytes:
        return self.cmd(f'AT+QMTCFG="{item}",{cid}')

    def fresh(self) -> None:
        """AT+QRST=1, RDY, then echo off and numeric errors."""
        self.port.reset_input_buffer()
        self.port.write(b"AT+QRST=1\r")
        self.read_until(lambda b: b.endswith(b"RDY\r\n"))
        assert self.cmd("ATE0").endswith(OK)
        assert self.cmd("AT+CMEE=1") == OK


def _start(log_dir: Path, firmware: str = "conformant") -> tuple[EmulatorProcess, Uart]:
    emu = EmulatorProcess.start(time_scale=0.05, firmware=firmware, log_path=log_dir / f"{firmware}.log")
    return emu, Uart(emu.url)


@pytest.fixture(scope="module")
def link(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uart]:
    emu, u = _start(tmp_path_factory.mktemp("emu"))
    yield u
    u.port.close()
    emu.stop()


@pytest.fixture
def at(link: Uart) -> Uart:
    link.fresh()
    return link


def q(*values: str) -> bytes:
    """The query answer: `+QMTCFG: <values>` lines, a blank line, OK."""
    return b"\r\n" + b"".join(b"+QMTCFG: " + v.encode() + b"\r\n" for v in values) + OK


def test_test_command_lists_all_ten_items_in_note_order_3_3_1(at: Uart) -> None:
    assert at.cmd("AT+QMTCFG=?") == b"\r\n" + "".join(f"{ln}\r\n" for ln in TEST_LINES).encode() + OK
    assert [ln.split('"')[1] for ln in TEST_LINES] == [
        "will", "timeout", "session", "keepalive", "aliauth", "version", "showrecvlen", "echo_mode",
        "dataformat", "ssl"]


@pytest.mark.parametrize(("item", "default"), [
    ("will", q("0")), ("timeout", q("30,0,0")), ("session", q("1")), ("keepalive", q("120")),
    ("aliauth", OK), ("version", q("1")), ("showrecvlen", q("0")), ("echomode", q("0")),
    ("dataformat", q("0,0")), ("ssl", q("0")),
])
@pytest.mark.parametrize("cid", [0, 4])
def test_query_defaults_3_3_1(at: Uart, item: str, default: bytes, cid: int) -> None:
    assert at.query(item, cid) == default


@pytest.mark.parametrize(("write", "item", "readback"), [
    ('"will",1,1,2,1,"dev/1/lwt","gone"', "will", q('1,2,1,"dev/1/lwt","gone"')),
    ('"will",1,1,0,0,"t","m"', "will", q('1,0,0,"t","m"')),
    ('"timeout",1,5', "timeout", q("5,0,0")),
    ('"timeout",1,5,3', "timeout", q("5,3,0")),
    ('"timeout",1,5,3,1', "timeout", q("5,3,1")),
    ('"timeout",1,7,,1', "timeout", q("7,0,1")),  # [,<retry_times>][,<timeout_notice>]
    ('"session",1,0', "session", q("0")),
    ('"keepalive",1,0', "keepalive", q("0")),
    ('"keepalive",1,3600', "keepalive", q("3600")),
    ('"aliauth",1,"pk","dev","s3cret"', "aliauth", q('"pk","dev","s3cret"')),
    ('"version",1,0', "version", q("0")),
    ('"showrecvlen",1,1', "showrecvlen", q("1")),
    ('"SHOWRECVLEN",1,1', "showrecvlen", q("1")),  # chapter 5.2 spells it in capitals
    ('"echomode",1,1', "echomode", q("1")),
    ('"dataformat",1,1,0', "dataformat", q("1,0")),
    ('"ssl",1,1', "ssl", q("1,0,0")),
    ('"ssl",1,1,0,0', "ssl", q("1,0,0")),  # chapter 6: AT+QMTCFG="ssl",3,1,0,0
])
def test_set_and_read_back_only_that_connect_id(at: Uart, write: str, item: str, readback: bytes) -> None:
    before = at.query(item, 2)
    assert at.cmd(f"AT+QMTCFG={write}") == OK
    assert at.query(item, 1) == readback
    assert at.query(item, 2) == before


@pytest.mark.parametrize(("write", "ok"), [
    ('"keepalive",0,3600', True), ('"keepalive",0,3601', False), ('"keepalive",0,-1', False),
    ('"timeout",0,1', True), ('"timeout",0,60', True), ('"timeout",0,0', False), ('"timeout",0,61', False),
    ('"timeout",0,30,0', True), ('"timeout",0,30,10', True), ('"timeout",0,30,11', False),
    ('"timeout",0,30,0,1', True), ('"timeout",0,30,0,2', False),
    ('"session",0,1', True), ('"session",0,2', False),
    ('"version",0,1', True), ('"version",0,2', False), ('"version",0,0,4', False),  # BG96's <vsn> 4
    ('"showrecvlen",0,2', False), ('"echomode",0,2', False), ('"dataformat",0,1,2', False),
    ('"dataformat",0,1', False), ('"ssl",0,2', False), ('"ssl",0,1,1,0', False), ('"ssl",0,1,0,1', False),
    ('"ssl",0,1,11,0', False), ('"ssl",0,1,0', False),
    ('"will",0,1,2,1,"t","m"', True), ('"will",0,1,3,0,"t","m"', False), ('"will",0,1,0,2,"t","m"', False),
    ('"will",0,1,0,0,"' + "t" * 256 + '","m"', True), ('"will",0,1,0,0,"' + "t" * 257 + '","m"', False),
    ('"will",0,1,0,0,"t","' + "m" * 256 + '"', True), ('"will",0,1,0,0,"t","' + "m" * 257 + '"', False),
    ('"will",0,1,0,0,"","m"', False), ('"will",0,1,0,0,"t",""', False),
    ('"aliauth",0,"' + "k" * 64 + '","d","s"', True), ('"aliauth",0,"' + "k" * 65 + '","d","s"', False),
    ('"aliauth",0,"k","d","' + "s" * 65 + '"', False), ('"aliauth",0,"k","d"', False),
    ('"keepalive",4,60', True), ('"keepalive",5,60', False), ('"keepalive",-1,60', False),
    ('"keepalive"', False),  # the connect ID is not optional
])
def test_bounds_and_one_past_each_bound_3_3_1(at: Uart, write: str, ok: bool) -> None:
    assert at.cmd(f"AT+QMTCFG={write}") == (OK if ok else INVALID)


@pytest.mark.parametrize("write", [
    '"keepalive",0,"60"', '"keepalive","0",60', '"keepalive",0,6x', '"keepalive",0,',
    '"will",0,1,0,0,topic,"m"', '"aliauth",0,pk,"d","s"', '"timeout",0,1.5',
])
def test_wrong_type_is_invalid_parameter(at: Uart, write: str) -> None:
    assert at.cmd(f"AT+QMTCFG={write}") == INVALID


def test_failed_write_changes_nothing(at: Uart) -> None:
    assert at.cmd('AT+QMTCFG="timeout",0,10,99') == INVALID
    assert at.query("timeout") == q("30,0,0")


def test_will_flag_rules_note_1(at: Uart) -> None:
    """NOTE 1: the four will fields must come with <will_fg>=1 and should be omitted with 0."""
    assert at.cmd('AT+QMTCFG="will",0,1') == INVALID
    assert at.cmd('AT+QMTCFG="will",0,1,1,0,"t"') == INVALID
    assert at.cmd('AT+QMTCFG="will",0,1,1,0,"t","m"') == OK
    assert at.query("will") == q('1,1,0,"t","m"')
    assert at.cmd('AT+QMTCFG="will",0,0') == OK
    assert at.query("will") == q("0")
    assert at.cmd('AT+QMTCFG="will",0,0,1,0') == INVALID  # partial list
    assert at.cmd('AT+QMTCFG="will",0,0,1,0,"t","m"') == OK  # "should be omitted": tolerated
    assert at.query("will") == q("0")


@pytest.mark.parametrize("line", [
    'AT+QMTCFG="pdpcid",0', 'AT+QMTCFG="clean_session",0,1', 'AT+QMTCFG="recv/mode",0,0,1',
    'AT+QMTCFG="echo_mode",0,1', 'AT+QMTCFG="keepalive "', "AT+QMTCFG=keepalive,0", "AT+QMTCFG?",
    "AT+QMTCFG", 'AT+QMTCFG="ssl/version",0',
])
def test_forms_of_other_modules_are_plain_error(at: Uart, line: str) -> None:
    assert at.cmd(line) == ERROR


def test_version_4_is_the_query_of_connect_id_4(at: Uart) -> None:
    """Hosts written for BG96 send AT+QMTCFG="version",4 meaning "MQTT 3.1.1"; on the BC660K-GL
    the note makes it the query form for connect ID 4 (3.3.1), so it answers like one."""
    assert at.cmd('AT+QMTCFG="version",4') == q("1")


def test_cmee_0_gives_plain_error(at: Uart) -> None:
    assert at.cmd("AT+CMEE=0") == OK
    assert at.cmd('AT+QMTCFG="keepalive",0,3601') == ERROR


def test_qrst_resets_every_option_but_keeps_echo(at: Uart) -> None:
    """3.3.1 "The configuration will not be saved"; echo is saved (DESIGN "Module facts")."""
    for write in ('"keepalive",3,60', '"timeout",3,5,2,1', '"will",3,1,1,1,"t","m"', '"ssl",3,1',
                  '"aliauth",3,"a","b","c"', '"version",3,0'):
        assert at.cmd(f"AT+QMTCFG={write}") == OK
    assert at.cmd("ATE1") == OK
    at.port.write(b"AT+QRST=1\r")
    assert at.read_until(lambda b: b.endswith(b"RDY\r\n")) == b"AT+QRST=1\r\r\nOK\r\n\r\nRDY\r\n"
    assert at.cmd('AT+QMTCFG="keepalive",3') == b'AT+QMTCFG="keepalive",3\r' + q("120")
    assert at.cmd("ATE0") == b"ATE0\r" + OK
    for item, default in (("timeout", q("30,0,0")), ("will", q("0")), ("ssl", q("0")), ("aliauth", OK),
                          ("version", q("1"))):
        assert at.query(item, 3) == default


@pytest.mark.parametrize(("firmware", "default", "accepts_3601"), [
    ("conformant", "120", False),
    ("wrong-keepalive-default", "60", False),
    ("keepalive-off-by-one", "120", True),
])
def test_profiles_switch_keepalive_behaviour(tmp_path: Path, firmware: str, default: str,
                                            accepts_3601: bool) -> None:
    emu, u = _start(tmp_path, firmware)
    try:
        u.cmd("ATE0")
        u.cmd("AT+CMEE=1")
        assert u.query("keepalive", 2) == q(default)
        assert u.cmd('AT+QMTCFG="keepalive",2,3601') == (OK if accepts_3601 else INVALID)
        assert u.cmd('AT+QMTCFG="keepalive",2,3602') == INVALID
        assert u.cmd("AT+QMTCFG=?").count(b'"keepalive",(0-4),(0-3600)') == 1  # the faults hide
        u.port.close()
    finally:
        emu.stop()


@pytest.mark.parametrize(("write", "blocked"), [
    ('"keepalive",1,60', True), ('"will",1,1,0,0,"t","m"', True), ('"session",1,0', True),
    ('"aliauth",1,"a","b","c"', True), ('"version",1,0', True), ('"ssl",1,1', True),
    ('"timeout",1,10', False), ('"showrecvlen",1,1', False), ('"echomode",1,1', False),
    ('"dataformat",1,1,1', False), ('"keepalive",0,60', False), ('"keepalive",1', False),
])
def test_note_6_settings_rejected_while_connection_open(write: str, blocked: bool) -> None:
    """3.3.1 NOTE 6: will/session/keepalive/aliauth/version/ssl are configured before
    AT+QMTOPEN; with connect ID 1 open (ModuleState.links, kept by the MQTT side) they are refused."""

    async def main() -> bytes:
        out = bytearray()
        done = asyncio.Event()

        def sink(data: bytes) -> None:
            out.extend(data)
            if FINAL.search(bytes(out)):
                done.set()

        engine = frontend.ATEngine(time_scale=0.05)
        engine.attach(sink)
        engine.module.echo = False
        engine.module.cmee = 1
        client = MqttClient(1, lambda: Retry(1.0, 0), lambda event: None)  # never opened: no socket
        engine.module.links.by_id[1] = Link(1, "127.0.0.1", 1883, client, opened=True)
        engine.feed(f"AT+QMTCFG={write}\r".encode())
        await asyncio.wait_for(done.wait(), 5)
        await engine.close()
        return bytes(out)

    import harness.emulator.qmtcfg  # noqa: F401  registers the handler in this process

    got = asyncio.run(main())
    assert got == INVALID if blocked else got.endswith(OK)
