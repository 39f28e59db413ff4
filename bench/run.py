"""Benchmarks, measured here rather than asserted in tests (timed tests flake on a busy machine).

    .venv/bin/python bench/run.py [--repeat N] [--suite-workers 0,2]   (--suite-workers "": no suite)

Prints a Markdown table and appends it to bench/RESULTS.md with the date and the machine:
- AT round trips per second against the emulator (TCP), the channel's own overhead included;
- the AT channel under volume, on a pty and on TCP and their ratio (issue 18: linear cost on every
  transport): a 1 MB line without line end then OK, and 50,000 URCs in one response, from the
  scripted fake module of the channel's tests (tests/at_peer.py);
- embedded amqtt broker start+stop time;
- wall time of the conformance suite against the emulator with -n 0 and -n 2 (several DUTs).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests"))

from at_peer import OK, AtPeer  # noqa: E402

from harness.at import ATChannel  # noqa: E402
from harness.broker import EmbeddedBroker  # noqa: E402
from harness.emulator.launcher import EmulatorProcess  # noqa: E402


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


BIG_LINE = b"Z" * 1_000_000  # no line end: cut at MAX_LINE, piece by piece
URC_FLOOD = b"".join(b"\r\n+QMTSTAT: 0,%d\r\n" % (i % 8) for i in range(50_000))


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


def suite_wall(workers: int, out: Path) -> float:
    args = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", f"--report-dir={out}/n{workers}"]
    if workers:
        args += ["-n", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "?"
    print(f"  suite -n {workers}: {wall:.1f} s ({last})", file=sys.stderr)
    return wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--suite-workers", default="0,2")
    args = ap.parse_args()
    trips = statistics.median(at_round_trips() for _ in range(args.repeat))
    rows = [("AT round trips/s (emulator, TCP)", f"{trips:.0f}")]
    volume = {t: [statistics.median(x) for x in zip(*(channel_volume(t) for _ in range(args.repeat)), strict=True)]
              for t in ("pty", "tcp")}
    for k, what in enumerate(("1 MB line without line end, then OK", "50,000 URCs in one response")):
        pty, tcp = volume["pty"][k], volume["tcp"][k]
        rows.append((f"AT channel: {what}; pty / TCP s (TCP/pty)", f"{pty:.3f} / {tcp:.3f} ({tcp / pty:.2f}x)"))
    rows.append(("amqtt start+stop, median s", f"{broker_start_stop():.3f}"))
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "bc660k-bench"
    for w in (int(x) for x in args.suite_workers.split(",") if x.strip()):
        wall = statistics.median(suite_wall(w, out) for _ in range(args.repeat))
        rows.append((f"suite wall time -n {w}, s", f"{wall:.1f}"))
    head = (f"\n## {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()} ({os.cpu_count()} cores, "
            f"Python {platform.python_version()})\n\n| measure | value |\n| --- | --- |\n")
    table = head + "".join(f"| {k} | {v} |\n" for k, v in rows)
    print(table)
    with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as f:
        f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
