"""`--pace`: on a real UART the module's output leaves at the baud rate, so a host that reads
a long answer sees it arrive over time, not in one lump (issue 3, "optional pacing at the real
byte rate"). The check is a bound on bytes per elapsed time since the host wrote the command:
a busy machine only makes the answer later, never earlier, so the bound cannot flake, and an
unpaced emulator breaks it at once (the last test shows it does)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import serial
from emulator_child import Child

pytestmark = pytest.mark.timeout(60)

BAUD = 9600
RATE = BAUD / 10  # bytes per second on an 8N1 line
CHUNK = 64  # the pacer hands out at most this much at once
COMMAND = b"AT+QMTCFG=?\r"  # 3.3.1 test form: the longest answer of the note (over 400 bytes)


def _timed_answer(url: str) -> tuple[float, list[tuple[float, int]], bytes]:
    """(time of write, [(arrival time, bytes so far)], the bytes), until the final OK."""
    port = serial.serial_for_url(url, BAUD, timeout=0.005)
    try:
        t_write = time.monotonic()
        port.write(COMMAND)
        buf, samples = b"", []
        deadline = t_write + 20
        while not buf.endswith(b"\r\nOK\r\n"):
            assert time.monotonic() < deadline, f"no OK within 20 s: {buf[-80:]!r}"
            chunk = port.read(4096)
            if chunk:
                buf += chunk
                samples.append((time.monotonic(), len(buf)))
        return t_write, samples, buf
    finally:
        port.close()


def _over_the_line(t_write: float, samples: list[tuple[float, int]],
                   rate: float = RATE) -> list[tuple[float, int]]:
    """Samples where more bytes had arrived than a line at `rate` could carry since the write."""
    return [(round(t - t_write, 3), n) for t, n in samples if n > rate * (t - t_write) + CHUNK]


@pytest.fixture
def emulators() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for c in started:
        c.stop()


@pytest.mark.parametrize("transport", [["--tcp", "127.0.0.1:0"], ["--pty"]], ids=["tcp", "pty"])
def test_paced_output_never_outruns_the_baud_rate(emulators: list[Child], transport: list[str]) -> None:
    emulators.append(plain := Child("--tcp", "127.0.0.1:0"))
    emulators.append(paced := Child(*transport, "--baud", str(BAUD), "--pace"))
    _, _, expected = _timed_answer(plain.url)
    t_write, samples, got = _timed_answer(paced.url)
    assert got == expected  # pacing delays bytes, it never changes them
    assert len(got) > 400
    assert _over_the_line(t_write, samples) == []
    assert samples[-1][0] - t_write >= (len(got) - CHUNK) / RATE
    assert len(samples) > 3  # it arrived in pieces over time, not in one read


def test_unpaced_output_breaks_the_bound(emulators: list[Child]) -> None:
    """The bound above is not vacuous: without --pace the answer arrives far faster. Checked
    against a 300-baud line (30 bytes/s, over 10 s for this answer), so that even a machine
    slowed to a crawl delivers it faster than that."""
    emulators.append(plain := Child("--tcp", "127.0.0.1:0", "--baud", str(BAUD)))
    t_write, samples, _ = _timed_answer(plain.url)
    assert _over_the_line(t_write, samples, rate=30) != []
