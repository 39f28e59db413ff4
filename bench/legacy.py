"""The measures bench/run.py had before issue 17, unchanged, so their history in RESULTS.md goes on.

- AT round trips per second against the emulator (TCP), the channel's own overhead included;
- the AT channel under volume, on a pty and on TCP (issue 18: linear cost on every transport): a
  1 MB line without line end then OK, and 50,000 URCs in one response, from the scripted fake
  module of the channel's tests (tests/at_peer.py);
- embedded amqtt broker start+stop time.
(The suite wall times with -n 0 and -n 2 are now taken from bench/suite.py's runs.)
"""

from __future__ import annotations

import statistics
import sys
import time

from bench.common import ROOT
from harness.at import ATChannel
from harness.broker import EmbeddedBroker
from harness.emulator.launcher import EmulatorProcess

if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from at_peer import OK, AtPeer

BIG_LINE = b"Z" * 1_000_000  # no line end: cut at MAX_LINE, piece by piece
URC_FLOOD = b"".join(b"\r\n+QMTSTAT: 0,%d\r\n" % (i % 8) for i in range(50_000))


def at_round_trips(n: int = 500) -> float:
    emu = EmulatorProcess.start(transport="tcp", time_scale=0.1)
    try:
        with ATChannel(emu.url, time_scale=0.1) as ch:
            ch.resync()
            ch.command("ATE0")
            t0 = time.perf_counter()
            for _ in range(n):
                ch.command('AT+QMTCFG="keepalive",0')
            return n / (time.perf_counter() - t0)
    finally:
        emu.stop()


def channel_volume(transport: str) -> tuple[float, float]:
    """Seconds from sending the command to its OK: (1 MB line without line end, 50,000 URCs)."""
    with AtPeer(transport) as peer:
        peer.on("AT+BIG", BIG_LINE, OK)
        peer.on("AT+URCS", URC_FLOOD, OK)
        with ATChannel(peer.url) as ch:
            t0 = time.perf_counter()
            assert ch.command("AT+BIG", timeout=300).ok
            big = time.perf_counter() - t0
            t0 = time.perf_counter()
            assert ch.command("AT+URCS", timeout=300).ok
            return big, time.perf_counter() - t0


def broker_start_stop(n: int = 10) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        EmbeddedBroker().start().stop()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def legacy_rows(repeat: int = 1) -> list[tuple[str, str]]:
    """The old RESULTS.md rows: (measure, value)."""
    trips = statistics.median(at_round_trips() for _ in range(repeat))
    rows = [("AT round trips/s (emulator, TCP)", f"{trips:.0f}")]
    volume = {t: [statistics.median(x) for x in zip(*(channel_volume(t) for _ in range(repeat)), strict=True)]
              for t in ("pty", "tcp")}
    for k, what in enumerate(("1 MB line without line end, then OK", "50,000 URCs in one response")):
        pty, tcp = volume["pty"][k], volume["tcp"][k]
        rows.append((f"AT channel: {what}; pty / TCP s (TCP/pty)", f"{pty:.3f} / {tcp:.3f} ({tcp / pty:.2f}x)"))
    rows.append(("amqtt start+stop, median s", f"{broker_start_stop():.3f}"))
    return rows
