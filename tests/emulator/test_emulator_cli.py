"""`python -m harness.emulator` as the DESIGN "Contracts" section states it: one URL line on
stdout once it accepts input, serving until SIGINT/SIGTERM (exit 0), one-line errors (exit 2)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from emulator_child import Child

from harness.emulator.launcher import ROOT, EmulatorProcess

pytestmark = pytest.mark.timeout(30)
OK = b"\r\nOK\r\n"


FINAL = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: [^\r\n]*)\r\n\Z")


def _read_until(port: serial.Serial, end: bytes | re.Pattern[bytes], timeout: float = 3.0) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while not (end.search(buf) if isinstance(end, re.Pattern) else buf.endswith(end)):
        assert time.monotonic() < deadline, f"no {end!r} within {timeout} s: {buf!r}"
        buf += port.read(max(1, port.in_waiting))
    return buf


def _cmd(port: serial.Serial, line: bytes) -> bytes:
    port.write(line + b"\r")
    return _read_until(port, FINAL)


@pytest.fixture
def child() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for c in started:
        c.stop(signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_tcp_prints_one_url_line_and_exits_0_on_signal(child: list[Child], sig: int) -> None:
    c = Child("--tcp", "127.0.0.1:0", "--time-scale", "0.05")
    child.append(c)
    assert re.fullmatch(r"socket://127\.0\.0\.1:\d+", c.url) and not c.url.endswith(":0")
    port = serial.serial_for_url(c.url, timeout=0.02)
    assert _cmd(port, b"AT") == b"AT\r" + OK  # echo on by default
    t0 = time.monotonic()
    status, rest, err = c.stop(sig)
    port.close()
    assert (status, rest) == (0, "")  # exactly one stdout line in the whole run
    assert time.monotonic() - t0 < 3
    assert "Traceback" not in err


def test_pty_is_the_default_and_works_with_pyserial(child: list[Child]) -> None:
    c = Child("--time-scale", "0.05")
    child.append(c)
    assert re.fullmatch(r"/dev/pts/\d+", c.url)
    with serial.Serial(c.url, 115200, timeout=0.02) as port:
        assert _cmd(port, b"AT") == b"AT\r" + OK  # raw pty: no line-discipline echo on top
        assert _cmd(port, b"AT+CGMM") == b"AT+CGMM\r\r\nQuectel_BC660K-GL\r\n" + OK
    with serial.Serial(c.url, 115200, timeout=0.02) as port:  # reopen: the module is still there
        assert _cmd(port, b"ATE0") == b"ATE0\r" + OK
        assert _cmd(port, b"AT") == OK
    assert c.stop()[0] == 0


def test_pty_link_symlink_created_and_removed(child: list[Child], tmp_path: Path) -> None:
    link = tmp_path / "ttyBC660"
    c = Child("--pty", str(link))
    child.append(c)
    assert c.url == str(link)
    assert re.fullmatch(r"/dev/pts/\d+", os.readlink(link))
    with serial.Serial(str(link), timeout=0.02) as port:
        assert _cmd(port, b"AT") == b"AT\r" + OK
    assert c.stop()[0] == 0
    assert not link.is_symlink()


def test_tcp_reconnect_keeps_module_state(tmp_path: Path) -> None:
    emu = EmulatorProcess.start(time_scale=0.05, log_path=tmp_path / "stderr.log")
    try:
        with serial.serial_for_url(emu.url, timeout=0.02) as port:
            assert _cmd(port, b"ATE0") == b"ATE0\r" + OK
            assert _cmd(port, b"AT+CMEE=2") == OK
            assert _cmd(port, b'AT+QMTCFG="keepalive",1,77') == OK
        with serial.serial_for_url(emu.url, timeout=0.02) as port:
            assert _cmd(port, b"AT+CMEE?") == b"\r\n+CMEE: 2\r\n" + OK
            assert _cmd(port, b'AT+QMTCFG="keepalive",1') == b"\r\n+QMTCFG: 77\r\n" + OK
    finally:
        emu.stop()


def test_second_host_waits_for_the_first_to_close(tmp_path: Path) -> None:
    emu = EmulatorProcess.start(time_scale=0.05, log_path=tmp_path / "stderr.log")
    try:
        first = serial.serial_for_url(emu.url, timeout=0.02)
        assert _cmd(first, b"AT") == b"AT\r" + OK
        second = serial.serial_for_url(emu.url, timeout=0.02)
        second.write(b"ATE0\r")
        assert _cmd(first, b"AT") == b"AT\r" + OK  # still the first host's module
        first.close()
        assert _read_until(second, OK) == b"ATE0\r" + OK  # served once the first has gone
        second.close()
    finally:
        emu.stop()


def test_two_emulators_side_by_side(tmp_path: Path) -> None:
    a = EmulatorProcess.start(time_scale=0.05, log_path=tmp_path / "a.log")
    b = EmulatorProcess.start(time_scale=0.05, extra=["--imei", "490154203237518"],
                              log_path=tmp_path / "b.log")
    try:
        assert a.url != b.url
        imeis = []
        for emu in (a, b):
            with serial.serial_for_url(emu.url, timeout=0.02) as port:
                port.write(b"ATE0\rAT+CGSN\r")
                imeis.append(_read_until(port, b"\r\n\r\nOK\r\n"))
        assert imeis[0] == b"ATE0\r\r\nOK\r\n\r\n+CGSN: 869181050123452\r\n\r\nOK\r\n"
        assert imeis[1] == b"ATE0\r\r\nOK\r\n\r\n+CGSN: 490154203237518\r\n\r\nOK\r\n"
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize(("args", "says"), [
    (["--tcp", "nowhere"], "HOST:PORT"),
    (["--tcp", "127.0.0.1:70000"], "HOST:PORT"),
    (["--tcp", "192.0.2.1:0"], "loopback"),
    (["--time-scale", "0"], "positive"),
    (["--time-scale", "nan"], "positive"),
    (["--baud", "fast"], "baud"),
    (["--imei", "123456789012345"], "check digit"),
    (["--firmware", "nope"], "known: conformant, connack-bad-flags-accepted, "),
    (["--pty", "--tcp", "127.0.0.1:0"], "not allowed"),
    (["--bogus"], "unrecognized"),
])
def test_bad_argument_is_one_line_exit_2(args: list[str], says: str) -> None:
    r = subprocess.run([sys.executable, "-m", "harness.emulator", *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and says in r.stderr


def test_help_documents_pty_default() -> None:
    r = subprocess.run([sys.executable, "-m", "harness.emulator", "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0 and "Without --pty or --tcp the emulator opens a pty" in r.stdout
