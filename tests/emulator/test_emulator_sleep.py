"""Sleep as a real BC660K-GL does it (issue 13 item 2; harness/emulator/sleep.py), over the
emulator's real TCP transport, byte for byte and timed on the scaled clock: the idle time follows
AT+QCFG="slplocktimes" (obs. fact 21), the first line after sleep is lost and answered with a line
end after the wake time (fact 14), AT+QNBIOTEVENT=1,1 reports ENTER/EXIT DEEPSLEEP (fact 21), and a
publish sent to a sleeping module gets no prompt and is lost (fact 44).

Every timing check has a lower bound (the module waited at least its module time, scaled) and an
upper one (a deadline: the module time plus GRACE); silence is what makes the module sleep, so a
case waits for the +QNBIOTEVENT report (or its idle time) rather than asserting after a sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from raw_uart import RawUart

from harness.mqtt import codec
from harness.peer import ScriptedPeer
from harness.spec.timing import GRACE_S, boot_deadline_s

pytestmark = pytest.mark.timeout(60)
SCALE = 0.1  # module seconds -> real seconds
OK = b"\r\nOK\r\n"
ENTER = b'\r\n+QNBIOTEVENT: "ENTER DEEPSLEEP"\r\n'  # obs. fact 21, quoted as ZE matches it
EXIT = b'\r\n+QNBIOTEVENT: "EXIT DEEPSLEEP"\r\n'
IDLE_S = 10.0  # manual 11.1.5 / obs. fact 21: awake 10 s after UART activity by default
WAKE_S = 1.8  # obs. fact 14: the line end came 1.817 s after the first AT
EARLY = 0.9  # a lower bound's slack: the emulator's clock and ours are not the same clock
LOCK = 5  # AT+QCFG="slplocktimes" where a case needs a short idle time (0.5 s here)


def deadline(module_s: float) -> float:
    return module_s * SCALE + GRACE_S


class Uart(RawUart):
    def cmd(self, line: bytes) -> bytes:
        return self.exchange(line, deadline(0.3))

    def timed(self, done: Callable[[bytes], object], module_s: float) -> tuple[bytes, float]:
        """What arrives until `done`, within the deadline for `module_s`, and the real seconds it took."""
        start = time.monotonic()
        got = self.read_until(done, deadline(module_s))
        return got, time.monotonic() - start

    def quiet(self, within: float) -> bytes:
        """Whatever arrives within `within` real seconds (b"" when the line stays quiet)."""
        end, buf = time.monotonic() + within, b""
        while time.monotonic() < end:
            buf += self.port.read(max(1, self.port.in_waiting))
        return buf


@pytest.fixture
def uart(link: Uart) -> Uart:
    """A module just reset (AT+QRST=1, RDY; sleep is not saved, manual 9.10), echo off."""
    got = b""
    for _ in range(40):  # `AT` every 50 ms until one is answered, as ZE wakes a module (fact 14)
        link.port.write(b"AT\r")
        end = time.monotonic() + 0.05
        while time.monotonic() < end and OK not in got:
            got += link.port.read(max(1, link.port.in_waiting))
        if OK in got:
            break
    assert OK in got, got
    link.port.write(b"AT+QRST=1\r")  # at once: awake for at least MIN_AWAKE_S (sleep.py)
    link.read_until(lambda b: b.endswith(b"RDY\r\n"), boot_deadline_s(SCALE))
    assert link.cmd(b"ATE0").endswith(OK)
    return link


def asleep_reported(uart: Uart, idle_s: float = IDLE_S) -> float:
    """AT+QNBIOTEVENT=1,1 and AT+QSCLK=1, then the ENTER DEEPSLEEP report: the real seconds from
    the last OK to it."""
    assert uart.cmd(b"AT+QNBIOTEVENT=1,1") == OK
    assert uart.cmd(b"AT+QSCLK=1") == OK
    got, took = uart.timed(lambda b: b.endswith(ENTER), idle_s)
    assert got == ENTER
    return took


def test_idle_time_follows_slplocktimes_fact_21(uart: Uart) -> None:
    """obs. fact 21 / manual 11.1.5: awake 10 s after UART activity by default, the setting's
    seconds otherwise; a line sent within the idle time is executed as usual."""
    assert uart.cmd(b"AT+QSCLK=1") == OK
    time.sleep(0.5 * IDLE_S * SCALE)  # half the default idle time: still awake
    assert uart.cmd(b"AT") == OK
    assert uart.cmd(b"AT+QSCLK=0") == OK
    took = asleep_reported(uart)
    assert took >= IDLE_S * SCALE * EARLY
    uart.port.write(b"AT\r")
    assert uart.read_until(lambda b: b.endswith(EXIT)) == b"\r\n" + EXIT
    assert uart.cmd(b'AT+QCFG="slplocktimes",3') == OK
    took = asleep_reported(uart, 3)
    assert 3 * SCALE * EARLY <= took < IDLE_S * SCALE * EARLY  # the setting, not the default


def test_first_line_after_sleep_is_lost_and_answered_after_the_wake_time_fact_14(uart: Uart) -> None:
    """obs. fact 14 (MB-T, exact): the first AT got only `\r\n`, 1.817 s later; the next AT got OK
    at once. Without AT+QNBIOTEVENT nothing else is said."""
    assert uart.cmd(b'AT+QCFG="slplocktimes",%d' % LOCK) == OK
    assert uart.cmd(b"AT+QSCLK=1") == OK
    time.sleep(2 * LOCK * SCALE)  # twice the idle time of silence: the stimulus under test
    start = time.monotonic()
    uart.port.write(b"AT\r")
    got = uart.read_until(lambda b: b.endswith(b"\r\n"), deadline(WAKE_S))
    took = time.monotonic() - start
    assert got == b"\r\n" and took >= WAKE_S * SCALE * EARLY
    assert uart.quiet(0.3 * SCALE + 0.1) == b""  # the line was not executed: no OK follows
    assert uart.cmd(b"AT") == OK  # awake now


def test_lines_sent_while_it_wakes_are_lost_too(uart: Uart) -> None:
    """sleep.py DECIDED: what arrives during the wake time is lost with the line that woke the
    module (hosts repeat `AT` until one is answered: ZE, UD, fact 14); the first line after the
    line end is executed."""
    assert uart.cmd(b'AT+QCFG="slplocktimes",%d' % LOCK) == OK
    asleep_reported(uart, LOCK)
    uart.port.write(b"AT\r")
    time.sleep(0.3 * WAKE_S * SCALE)
    uart.port.write(b"AT+CGMR\r")  # still waking: lost (its answer would come before the next one)
    assert uart.read_until(lambda b: b.endswith(EXIT), deadline(WAKE_S)) == b"\r\n" + EXIT
    assert uart.cmd(b"AT+CGMM") == b"\r\nQuectel_BC660K-GL\r\n" + OK


def test_deepsleep_reports_only_when_enabled_fact_21(uart: Uart) -> None:
    """obs. fact 21: `+QNBIOTEVENT: "ENTER DEEPSLEEP"` as it falls asleep and `"EXIT DEEPSLEEP"`
    as it wakes, with AT+QNBIOTEVENT=1,1 (the quoted form, ZE). With <enable> 0: nothing, and
    AT+QCFG="dsevent" alone does not enable them (sleep.py DECIDED)."""
    assert uart.cmd(b'AT+QCFG="slplocktimes",%d' % LOCK) == OK
    asleep_reported(uart, LOCK)
    uart.port.write(b"AT\r")
    assert uart.read_until(lambda b: b.endswith(EXIT), deadline(WAKE_S)) == b"\r\n" + EXIT
    assert uart.cmd(b"AT+QNBIOTEVENT=0,1") == OK
    assert uart.cmd(b'AT+QCFG="dsevent",1') == OK
    assert uart.quiet(2 * LOCK * SCALE) == b""  # asleep by now, and not a word about it
    uart.port.write(b"AT\r")
    assert uart.read_until(lambda b: b.endswith(b"\r\n"), deadline(WAKE_S)) == b"\r\n"
    assert uart.quiet(0.3 * SCALE + 0.1) == b""


def test_light_sleep_mode_2_loses_the_line_but_reports_no_deepsleep(uart: Uart) -> None:
    """sleep.py DECIDED: AT+QSCLK=2 is light sleep only: the first line is lost the same way,
    no DEEPSLEEP report."""
    assert uart.cmd(b'AT+QCFG="slplocktimes",%d' % LOCK) == OK
    assert uart.cmd(b"AT+QNBIOTEVENT=1,1") == OK
    assert uart.cmd(b"AT+QSCLK=2") == OK
    assert uart.quiet(2 * LOCK * SCALE) == b""
    uart.port.write(b"AT\r")
    assert uart.read_until(lambda b: b.endswith(b"\r\n"), deadline(WAKE_S)) == b"\r\n"
    assert uart.quiet(0.3 * SCALE + 0.1) == b""
    assert uart.cmd(b"AT") == OK


def test_publish_to_a_sleeping_module_gets_no_prompt_and_is_lost_fact_44(uart: Uart) -> None:
    """obs. fact 44 (CF): an AT+QMTPUB sent while the module slept got no `>` at all; later the
    module printed EXIT DEEPSLEEP on its own; the publish was lost, with no ERROR. Awake again,
    the same publish gets its prompt."""
    with ScriptedPeer(default_timeout=deadline(1)) as peer:
        uart.port.write(b'AT+QMTOPEN=0,"127.0.0.1",%d\r' % peer.port)
        assert uart.read_until(lambda b: b.endswith(b"+QMTOPEN: 0,0\r\n")) == OK + b"\r\n+QMTOPEN: 0,0\r\n"
        conn = peer.accept()
        assert uart.cmd(b'AT+QMTCONN=0,"sleepy"') == OK
        conn.handshake(0)
        assert uart.read_until(lambda b: b.endswith(b"+QMTCONN: 0,0,0\r\n")) == b"\r\n+QMTCONN: 0,0,0\r\n"
        assert uart.cmd(b'AT+QCFG="slplocktimes",%d' % LOCK) == OK
        asleep_reported(uart, LOCK)
        uart.port.write(b'AT+QMTPUB=0,0,0,0,"t"\r')
        got = uart.read_until(lambda b: b.endswith(EXIT), deadline(WAKE_S))
        assert got == b"\r\n" + EXIT  # no `>`, no ERROR
        assert uart.cmd(b"AT+QSCLK=0") == OK  # a command line, not a payload: no data mode
        conn.expect_nothing(0.5, ignore=(codec.PingReq,))  # the publish never left the module
        uart.port.write(b'AT+QMTPUB=0,0,0,0,"t"\r')
        assert uart.read_until(lambda b: b.endswith(b"> ")) == b"\r\n> "
        uart.port.write(b"kept\x1a")
        assert conn.ack_publish(payload=b"kept").payload == b"kept"
        assert uart.read_until(lambda b: b.endswith(b"+QMTPUB: 0,0,0\r\n")) == OK + b"\r\n+QMTPUB: 0,0,0\r\n"
