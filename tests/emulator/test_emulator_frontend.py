"""The emulator's AT front end and general commands, over its real TCP transport (3.1.2,
DESIGN "Module facts"); data mode and handler faults in-process on the real engine."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from raw_uart import RawUart

from harness.emulator import frontend
from harness.emulator.api import Command, Context, handles
from harness.emulator.general import luhn_ok
from harness.emulator.launcher import EmulatorProcess

pytestmark = pytest.mark.timeout(30)
SCALE = 0.05


class Uart(RawUart):
    def cmd(self, line: bytes, timeout: float = 3.0) -> bytes:
        return self.exchange(line, timeout)

    def reset(self) -> None:
        """AT+QRST=1 and wait for RDY: a fresh module (echo is saved, so set it off after)."""
        self.port.write(b"AT+QRST=1\r")
        self.read_until(lambda b: b.endswith(b"RDY\r\n"))
        assert self.cmd(b"ATE0").endswith(b"\r\nOK\r\n")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """This module's own: the emulator must also exit with 0 when stopped (tests/conftest.py's `link` is over it)."""
    proc = EmulatorProcess.start(time_scale=SCALE, log_path=tmp_path_factory.mktemp("emu") / "stderr.log")
    yield proc
    proc.stop()
    assert proc.proc.returncode == 0


@pytest.fixture
def uart(link: Uart) -> Uart:
    link.port.reset_input_buffer()
    link.reset()
    return link


def test_echo_on_frames_command_and_cr_before_ok(uart: Uart) -> None:
    """DESIGN "Module facts": the command and <CR>, then <CR><LF>OK<CR><LF> (3.1.2)."""
    assert uart.cmd(b"ATE1") == b"\r\nOK\r\n"  # ATE1 runs with echo still off
    assert uart.cmd(b"AT") == b"AT\r\r\nOK\r\n"
    assert uart.cmd(b"ATE0") == b"ATE0\r\r\nOK\r\n"  # echoed before it takes effect
    assert uart.cmd(b"AT") == b"\r\nOK\r\n"


@pytest.mark.parametrize("line", [b"at", b"aT", b"At", b"AT", b"  AT  "])
def test_at_prefix_any_case_3_1_2(uart: Uart, line: bytes) -> None:
    assert uart.cmd(line) == b"\r\nOK\r\n"


def test_lf_after_cr_ignored_and_lines_queue_in_order(uart: Uart) -> None:
    uart.port.write(b"AT\r\nAT+CGMM\r\nAT+NOPE\r\n")
    got = uart.read_until(lambda b: b.endswith(b"ERROR\r\n"))
    assert got == b"\r\nOK\r\n\r\nQuectel_BC660K-GL\r\n\r\nOK\r\n\r\nERROR\r\n"


@pytest.mark.parametrize("cmee", [0, 1, 2])
@pytest.mark.parametrize("line", [b"AT+NOPE", b"AT+QMTFOO=1", b"ATZZ", b"garbage", b"AT+", b'AT+QMTCFG="x'])
def test_unknown_or_malformed_is_plain_error_whatever_cmee(uart: Uart, cmee: int, line: bytes) -> None:
    assert uart.cmd(b"AT+CMEE=%d" % cmee) == b"\r\nOK\r\n"
    assert uart.cmd(line) == b"\r\nERROR\r\n"
    assert uart.cmd(b"AT") == b"\r\nOK\r\n"


@pytest.mark.parametrize(("cmee", "mqtt", "general"), [
    (0, b"ERROR", b"ERROR"),
    (1, b"+CME ERROR: 8507", b"+CME ERROR: 50"),
    (2, b"+CME ERROR: MQTT invalid parameter", b"+CME ERROR: incorrect parameters"),
])
def test_cmee_selects_error_shape_chapter_4(uart: Uart, cmee: int, mqtt: bytes, general: bytes) -> None:
    uart.cmd(b"AT+CMEE=%d" % cmee)
    assert uart.cmd(b"AT+CMEE?") == b"\r\n+CMEE: %d\r\n\r\nOK\r\n" % cmee
    assert uart.cmd(b'AT+QMTCFG="keepalive",5') == b"\r\n" + mqtt + b"\r\n"
    assert uart.cmd(b"AT+CMEE=3") == b"\r\n" + general + b"\r\n"


def test_ati_cgmr_cgmm_formats(uart: Uart) -> None:
    """DESIGN "Module facts": ATI is three lines, a blank line and OK."""
    assert uart.cmd(b"ATI") == (b"\r\nQuectel_Ltd\r\nQuectel_BC660K-GL\r\nRevision: BC660KGLAAR01A05"
                                b"\r\n\r\nOK\r\n")
    assert uart.cmd(b"AT+CGMR") == b"\r\nRevision: BC660KGLAAR01A05\r\n\r\nOK\r\n"
    assert uart.cmd(b"AT+CGMM") == b"\r\nQuectel_BC660K-GL\r\n\r\nOK\r\n"


def test_cgsn_imei_is_15_digits_with_luhn(uart: Uart) -> None:
    got = uart.cmd(b"AT+CGSN")
    m = re.fullmatch(rb"\r\n\+CGSN: (\d{15})\r\n\r\nOK\r\n", got)
    assert m and luhn_ok(m.group(1).decode())
    assert uart.cmd(b"AT+CGSN=1") == got


@pytest.mark.parametrize(("line", "answer"), [
    (b"AT+CPIN?", b"+CPIN: READY"),
    (b"AT+CFUN?", b"+CFUN: 1"),
    (b"AT+CGATT?", b"+CGATT: 1"),
    (b"AT+CEREG?", b"+CEREG: 0,1"),
    (b"AT+CGPADDR", b'+CGPADDR: 0,"192.0.2.10"'),
    (b"AT+CSQ", b"+CSQ: 25,0"),
    (b"AT+QSCLK?", b"+QSCLK: 0"),
    (b"AT+QCGDEFCONT?", b'+QCGDEFCONT: "IP",""'),
])
def test_attached_module_answers_host_attach_sequence(uart: Uart, line: bytes, answer: bytes) -> None:
    assert uart.cmd(line) == b"\r\n" + answer + b"\r\n\r\nOK\r\n"


@pytest.mark.parametrize("line", [b"AT+COPS=0", b"AT+CGATT=1", b"AT+CEREG=2", b"AT+CFUN=1", b"AT+QSCLK=0",
                                  b'AT+QCGDEFCONT="IP","iot.example"'])
def test_attach_writes_answer_ok(uart: Uart, line: bytes) -> None:
    assert uart.cmd(line) == b"\r\nOK\r\n"


def test_settings_read_back(uart: Uart) -> None:
    uart.cmd(b'AT+QCGDEFCONT="IP","iot.example"')
    assert uart.cmd(b"AT+QCGDEFCONT?") == b'\r\n+QCGDEFCONT: "IP","iot.example"\r\n\r\nOK\r\n'
    uart.cmd(b"AT+CFUN=0")
    assert uart.cmd(b"AT+CEREG?") == b"\r\n+CEREG: 0,0\r\n\r\nOK\r\n"
    assert uart.cmd(b"AT+CGPADDR") == b"\r\nOK\r\n"


@pytest.mark.parametrize("line", [b"AT+CPIN=1234", b"AT+CSQ?", b"AT+CGMR?", b"ATE2", b"ATI5", b"AT+QRST",
                                  b"AT+QRST=2", b"AT+CMEE", b"AT+QSCLK=3", b"AT+CFUN=2",
                                  b'AT+QCGDEFCONT="PPP"'])
def test_unknown_forms_of_general_commands_error(uart: Uart, line: bytes) -> None:
    assert uart.cmd(line).endswith(b"ERROR\r\n")


def test_garbage_and_overlong_lines_then_at_still_ok(uart: Uart) -> None:
    assert uart.cmd(b"\x00\xff\x13 noise") == b"\r\nERROR\r\n"
    assert uart.cmd(b"AT+QMTCFG=" + b"9" * 5000) == b"\r\nERROR\r\n"  # over the 3 KB line cap
    uart.port.write(b"x" * 70000)  # no <CR> at all: discarded
    assert uart.cmd(b"") == b"\r\nERROR\r\n"  # ...the <CR> ends the discarded line
    assert uart.cmd(b"AT") == b"\r\nOK\r\n"


def test_qrst_keeps_echo_resets_cmee_and_sends_rdy(uart: Uart) -> None:
    """DESIGN "Module facts": echo is saved across reset; AT+QRST=1 answers OK, then RDY."""
    uart.cmd(b"AT+CMEE=1")
    uart.cmd(b"ATE1")
    uart.port.write(b"AT+QRST=1\r")
    got = uart.read_until(lambda b: b.endswith(b"RDY\r\n"))
    assert got == b"AT+QRST=1\r\r\nOK\r\n\r\nRDY\r\n"
    assert uart.cmd(b"AT+CMEE?") == b"AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n"


def test_qsclk_sleeping_module_answers_first_at_with_blank_line(tmp_path: Path) -> None:
    """DESIGN "Module facts": with AT+QSCLK=1 a sleeping module answers the first AT with only a
    blank line (obs. fact 14; its timing: tests/emulator/test_emulator_sleep.py). The idle period is the
    stimulus here, so it is slept on purpose."""
    emu = EmulatorProcess.start(time_scale=0.01, log_path=tmp_path / "stderr.log")  # 10 module s = 100 ms
    try:
        u = Uart(emu.url)
        u.cmd(b"ATE0")
        assert u.cmd(b"AT+QSCLK=1").endswith(b"\r\nOK\r\n")
        time.sleep(0.3)
        u.port.write(b"AT\r")
        assert u.read_until(lambda b: b == b"\r\n") == b"\r\n"
        assert u.cmd(b"AT") == b"\r\nOK\r\n"
        u.cmd(b"AT+QSCLK=0")
        time.sleep(0.3)
        assert u.cmd(b"AT") == b"\r\nOK\r\n"
        u.close()
    finally:
        emu.stop()


# ---- in-process: data mode and handler faults on the real engine ---------------------------

@handles("+ZZDATA", "exec", "write")
async def _zz_data(ctx: Context, cmd: Command) -> None:
    length = cmd.args[0].as_int() if cmd.args else None
    ctx.urc("+ZZURC: before")
    data = await ctx.read_data(length, echo=bool(cmd.args[1:]))
    ctx.urc("+ZZURC: during")  # sent: data mode is over
    ctx.info(f"+ZZDATA: {data!r}")
    ctx.ok()


@handles("+ZZURC", "exec")
async def _zz_urc_in_data_mode(ctx: Context, cmd: Command) -> None:
    async def later() -> None:
        await asyncio.sleep(0.01)
        ctx.urc("+ZZURC: held")

    ctx.spawn(later())
    data = await ctx.read_data(None)
    ctx.info(f"+ZZDATA: {data!r}")
    ctx.ok()


@handles("+ZZBOOM", "exec")
async def _zz_boom(ctx: Context, cmd: Command) -> None:
    raise RuntimeError("handler bug")


def _engine_run(chunks: list[tuple[float, bytes]], until: bytes, time_scale: float = 1.0) -> bytes:
    async def main() -> bytes:
        out = bytearray()
        got = asyncio.Event()

        def sink(data: bytes) -> None:
            out.extend(data)
            if out.endswith(until):
                got.set()

        engine = frontend.ATEngine(time_scale=time_scale)
        engine.attach(sink)
        engine.module.echo = False
        for delay, chunk in chunks:
            await asyncio.sleep(delay)
            engine.feed(chunk)
        await asyncio.wait_for(got.wait(), 5)
        await engine.close()
        return bytes(out)

    return asyncio.run(main())


@pytest.mark.parametrize(("chunks", "result"), [
    ([(0, b"AT+ZZDATA\r"), (0.02, b"hello\r\nworld\x1a")], b"b'hello\\r\\nworld'"),
    ([(0, b"AT+ZZDATA=4\r"), (0.02, b"ab\x1ac")], b"b'ab\\x1ac'"),  # fixed length: Ctrl+Z is data
    ([(0, b"AT+ZZDATA\r"), (0.02, b"abc\x1b")], b"None"),  # Esc cancels
    ([(0, b"AT+ZZDATA=3\r"), (0.02, b"a\x1b")], b"None"),
    ([(0, b"AT+ZZDATA=0\r")], b"b''"),  # <msg_len> 0 needs no input
])
def test_data_mode_prompt_ctrl_z_length_esc_3_3_8(chunks: list[tuple[float, bytes]], result: bytes) -> None:
    out = _engine_run(chunks, b"OK\r\n")
    assert out == (b"\r\n+ZZURC: before\r\n\r\n> \r\n+ZZURC: during\r\n\r\n+ZZDATA: " + result
                   + b"\r\n\r\nOK\r\n")


def test_data_mode_echo_mirrors_input() -> None:
    out = _engine_run([(0, b"AT+ZZDATA=3,1\r"), (0.02, b"xyz")], b"OK\r\n")
    assert b"\r\n> xyz\r\n+ZZURC: during" in out


def test_data_mode_exits_after_60_module_seconds_3_3_8_note_5() -> None:
    out = _engine_run([(0, b"AT+ZZDATA\r"), (0.02, b"partial")], b"OK\r\n", time_scale=0.002)
    assert out.endswith(b"+ZZDATA: None\r\n\r\nOK\r\n")


def test_urcs_held_in_data_mode_and_flushed_after() -> None:
    out = _engine_run([(0, b"AT+ZZURC\r"), (0.1, b"p\x1a")], b"OK\r\n")
    assert out == b"\r\n> \r\n+ZZURC: held\r\n\r\n+ZZDATA: b'p'\r\n\r\nOK\r\n"


def test_handler_exception_answers_error_and_keeps_serving() -> None:
    out = _engine_run([(0, b"AT+ZZBOOM\rAT\r")], b"OK\r\n")
    assert out == b"\r\nERROR\r\n\r\nOK\r\n"


@pytest.mark.parametrize(("line", "name", "form", "args"), [
    ('AT+QMTCFG="will",0,1,2,0,"t/a,b","m"', "+QMTCFG", "write",
     [("will", True), ("0", False), ("1", False), ("2", False), ("0", False), ("t/a,b", True), ("m", True)]),
    ('AT+QMTPUB=3,0,0,0,"t",17,"{"a":"1","b":"2"}"', "+QMTPUB", "write",  # chapter 6 example
     [("3", False), ("0", False), ("0", False), ("0", False), ("t", True), ("17", False),
      ('{"a":"1","b":"2"}', True)]),
    ("at+qmtcfg=?", "+QMTCFG", "test", []),
    ("AT+CMEE?", "+CMEE", "read", []),
    ("AT+CGSN", "+CGSN", "exec", []),
])
def test_parse_forms_3_1_2_table_1(line: str, name: str, form: str, args: list[tuple[str, bool]]) -> None:
    cmd = frontend.parse_line(line)
    assert cmd is not None
    assert (cmd.name, cmd.form, [(a.text, a.quoted) for a in cmd.args]) == (name, form, args)


def test_registration_change_is_reported_with_cereg_1(uart: Uart) -> None:
    """27.007 +CEREG <n>=1: `+CEREG: <stat>` when the registration changes, after the command's
    OK; <n>=2 adds the cell; <n>=0 (the default) reports nothing."""
    assert uart.cmd(b"AT+CEREG=1") == b"\r\nOK\r\n"
    assert uart.cmd(b"AT+CFUN=0") == b"\r\nOK\r\n"
    assert uart.read_until(lambda b: b.endswith(b"\r\n+CEREG: 0\r\n")) == b"\r\n+CEREG: 0\r\n"
    assert uart.cmd(b"AT+CEREG=2") == b"\r\nOK\r\n"
    assert uart.cmd(b"AT+CFUN=1") == b"\r\nOK\r\n"
    # registered a while later (general.set_radio), then the bearer's address (obs. fact 22)
    assert uart.read_until(lambda b: b.endswith(b"+IP: 192.0.2.10\r\n")) == (
        b'\r\n+CEREG: 1,"1A2B","0C0D0E0F",9\r\n\r\n+IP: 192.0.2.10\r\n')
    assert uart.cmd(b"AT+CEREG=0") == b"\r\nOK\r\n"
    assert uart.cmd(b"AT+CGATT=0") == b"\r\nOK\r\n"  # a change, but nobody asked for reports
    assert uart.cmd(b"AT+CGATT?") == b"\r\n+CGATT: 0\r\n\r\nOK\r\n"  # nothing came in between
