"""Issue 19 (4): a host that stops reading costs the emulator at most overflow.OUT_CAP bytes of
output, not everything the module says meanwhile (before: 25 -> 110 MB of memory for 200,000
lines over TCP). A real emulator process on loopback TCP, flooded with commands whose answers
nobody reads; its peak memory comes from /proc, the loss from its log and its control socket.
In-process on the real engine: the paced transmit queue and the URCs held in data mode."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulated import emulator_logged

from harness.emulator import frontend
from harness.emulator.api import Command, Context, handles
from harness.emulator.launcher import EmulatorProcess
from harness.emulator.overflow import OUT_CAP, Overflow
from harness.emulator.transport import Pacer
from harness.rig.relay import build_relay
from harness.rig.relay.emulated import EmulatedRelay
from harness.rig.relay_schema import RelayConfig

pytestmark = pytest.mark.timeout(90)

LINES, BATCH = 200_000, 200  # 12 bytes in, 454 bytes out each: ~90 MB the host never reads
FLOOD = b"AT+QMTCFG=?\r"
GROWTH_MAX = 10 * OUT_CAP // 1024  # kB of peak memory over the start (the cap plus allocator slack)


def peak_kb(pid: int) -> int:
    """The process's peak resident set (VmHWM): a flood's high-water mark even once it is over."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def dropped(relay: EmulatedRelay) -> int:
    reply = relay.request("stats")
    found = re.fullmatch(r"output_dropped=(\d+)", reply)
    assert found, f"stats answered {reply!r}"
    return int(found.group(1))


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def settled(pid: int, timeout: float = 30.0) -> None:
    """Wait until the emulator is idle (under 5 % of a core for 0.5 s): it has worked through
    its input. Its CPU time, not its answers, since the host is not reading those."""
    last, deadline = cpu_ticks(pid), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_ticks(pid)
        if now - last < 3:
            return
        last = now
    raise AssertionError(f"the emulator was still busy after {timeout} s")


def read_until_quiet(sock: socket.socket, quiet: float = 0.5, limit: int = 64 * OUT_CAP) -> bytes:
    """Everything the host had not read: the cap plus what the kernel's socket buffers held."""
    out = bytearray()
    sock.settimeout(quiet)
    while len(out) < limit:
        try:
            chunk = sock.recv(1 << 16)
        except TimeoutError:
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """An emulator of its own for each case (the flood leaves it busy), with its control socket."""
    with emulator_logged(tmp_path / "stderr.log", 0.05, control=True) as emu:
        yield emu


def test_tcp_output_a_host_does_not_read_is_bounded_and_the_loss_noted(emulator: EmulatorProcess) -> None:
    relay = build_relay(RelayConfig(kind="emulated", timeout_s=5), device=str(emulator.control))
    assert isinstance(relay, EmulatedRelay)
    host, port = emulator.url.removeprefix("socket://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"AT\r")
        assert read_until_quiet(sock).endswith(b"\r\nOK\r\n")
        start = peak_kb(emulator.proc.pid)
        for _ in range(LINES // BATCH):  # paced a little, so the module works through most of it
            sock.sendall(FLOOD * BATCH)
            time.sleep(0.005)
        settled(emulator.proc.pid)
        growth = peak_kb(emulator.proc.pid) - start
        assert growth < GROWTH_MAX, f"peak memory grew by {growth} kB while the host did not read"
        lost = dropped(relay)
        assert lost > 10 * OUT_CAP, f"only {lost} bytes lost: the flood did not outrun the cap"

        kept = read_until_quiet(sock)  # the oldest output is what a host that reads again finds
        assert kept.startswith(b"AT+QMTCFG=?\r\r\n+QMTCFG: "), kept[:80]
        assert len(kept) < 16 * OUT_CAP
        sock.sendall(b"AT\r")  # the UART carries output again at once
        assert read_until_quiet(sock).endswith(b"AT\r\r\nOK\r\n")

    log = emulator.log_path.read_text(errors="replace")
    began = [x for x in log.splitlines() if "the host is not reading" in x]
    assert len(began) == 1, began  # once per loss, not once per write: the log stays small too
    assert f"{lost} bytes of output were lost while the host was not reading" in log
    assert len(log) < 64 * 1024, f"the emulator's log grew to {len(log)} bytes"


def test_paced_transmit_queue_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    """Input arrives unpaced, output leaves at the baud rate: what the line cannot carry waits
    in the module's transmit queue, up to OUT_CAP bytes, and the newest beyond it is lost."""
    lost: list[int] = []

    async def main() -> None:
        pacer = Pacer(lambda data: None, 9600, Overflow("transmit queue", lost.append))
        try:
            for _ in range(3):
                pacer(b"x" * (OUT_CAP // 2))
            assert pacer._queued <= OUT_CAP
        finally:
            pacer.close()

    with caplog.at_level(logging.WARNING, logger="harness.emulator"):
        asyncio.run(main())
    assert sum(lost) >= OUT_CAP // 2
    assert [r.getMessage() for r in caplog.records].count(
        "transmit queue: the host is not reading; output beyond 1048576 unsent bytes is lost "
        "(the newest, as on a UART the host does not read)") == 1


@handles("+ZZHELD", "exec")
async def _zz_held(ctx: Context, cmd: Command) -> None:
    """Data mode while a subscription floods: more URCs than the module holds."""
    for i in range(frontend.MAX_HELD + 500):
        ctx.spawn(_urc_later(ctx, i))
    ctx.info(f"+ZZHELD: {await ctx.read_data(None)!r}")
    ctx.ok()


async def _urc_later(ctx: Context, i: int) -> None:
    await asyncio.sleep(0.01)
    ctx.urc(f"+ZZURC: {i}")


def test_urcs_held_in_data_mode_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> bytes:
        out = bytearray()
        engine = frontend.ATEngine()
        engine.attach(out.extend)
        engine.module.echo = False
        engine.feed(b"AT+ZZHELD\r")
        await asyncio.sleep(0.3)
        engine.feed(b"p\x1a")
        for _ in range(100):
            if out.endswith(b"OK\r\n"):
                break
            await asyncio.sleep(0.05)
        await engine.close()
        return bytes(out)

    with caplog.at_level(logging.WARNING, logger="harness.emulator"):
        out = asyncio.run(main())
    assert out.endswith(b"\r\n+ZZHELD: b'p'\r\n\r\nOK\r\n")
    assert out.count(b"+ZZURC: ") == frontend.MAX_HELD  # the first ones held; the rest lost
    assert b"+ZZURC: 0\r\n" in out and b"+ZZURC: %d\r\n" % (frontend.MAX_HELD - 1) in out
    assert f"data mode: 500 URCs lost beyond the {frontend.MAX_HELD} held" in caplog.text
