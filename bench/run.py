"""Benchmarks, measured here rather than asserted in tests (timed tests flake on a busy machine).

    .venv/bin/python bench/run.py                 # everything: what `make bench` runs (< 15 min)
    .venv/bin/python bench/run.py --quick --no-write   # a small selection, seconds, for development

Issue 17 asks how close the suite runs to the time the note makes it wait, and what the harness
costs. Each figure is a ratio taken within one run, so a noisy machine moves both sides of it:
1. suite efficiency: the suite at two time scales; wall = overhead + scale x module time, solved
   for both, per case and per phase (bench/suite.py, bench/phaseclock.py);
2. AT round trip: ATChannel against bare pyserial on the same emulator port, pty and TCP, and
   paced at 115200 baud against the wire-time floor (bench/at_rtt.py);
3. publish path: QoS 0/1/2 publishes/s through AT -> emulator -> amqtt -> paho subscriber against
   paho publishing directly (bench/publish.py);
4. scale: cases/s with -n 0, 1, 2 xdist workers, each with its own emulator (bench/suite.py);
5. start-up: invoking pytest on one trivial case to that case's start (bench/suite.py);
6. the real qualification time at time scale 1: from 1 on the ideal link, and from one run on an
   NB-IoT link (--network nbiot) with 1's overhead (bench/suite.py);
7. peak RSS of pytest and of the emulator over the first whole-suite run (bench/common.py).
And the measures this script had before (bench/legacy.py). Writes bench/results/<date>.json,
rewrites the figures table in bench/README.md, and appends to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import at_rtt, legacy, publish, report, suite  # noqa: E402
from bench.common import machine  # noqa: E402

QUICK_SELECT = ["suites/test_general.py", "suites/test_qmtconn.py"]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1, help="repeats of the legacy measures (median)")
    ap.add_argument("--suite-workers", default="0,1,2", help='xdist worker counts to run ("": no suite runs)')
    ap.add_argument("--suite-repeat", type=int, default=2, help="pairs of time-scale runs, while the budget lasts")
    ap.add_argument("--scales", default="0.1,0.2", help="two time scales for the efficiency fit")
    ap.add_argument("--select", nargs="*", default=["suites"], help="pytest selection of the suite runs")
    ap.add_argument("--budget", type=float, default=600.0, help="seconds after which suite repeats are dropped")
    ap.add_argument("--network", default="nbiot", help='the link of measure 6\'s second run ("": none)')
    ap.add_argument("--quick", action="store_true", help="small selection and counts (development)")
    ap.add_argument("--no-write", action="store_true", help="print only: no JSON, README or RESULTS.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.select, args.suite_repeat = QUICK_SELECT, 1
    return args


def measure(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.monotonic()
    budget = suite.Budget.of(args.budget)
    small = args.quick
    r: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    print("AT round trips ...", file=sys.stderr)
    r["at_round_trip"] = at_rtt.all_round_trips(n=50 if small else 200, rounds=3 if small else 5)
    r["known_state_reset"] = at_rtt.known_state_reset(n=5 if small else 20)
    print("publish path ...", file=sys.stderr)
    r["publish_path"] = publish.publish_path(n=100 if small else 500, rounds=1 if small else 3,
                                             data_form_n=20 if small else 50)
    print("legacy measures ...", file=sys.stderr)
    r["legacy"] = legacy.legacy_rows(args.repeat)
    scales = _floats(args.scales)
    print("start-up ...", file=sys.stderr)
    r["startup"] = suite.startup(scales[0], repeat=1 if small else 3)
    workers = [int(x) for x in args.suite_workers.split(",") if x.strip()]
    if workers:
        print("suite efficiency ...", file=sys.stderr)
        base = suite.efficiency(args.select, (scales[0], scales[1]), budget, repeat=args.suite_repeat)
        r["suite_efficiency"] = base
        print("scale-out ...", file=sys.stderr)
        r["scale_out"] = suite.scale_out(args.select, scales[0], workers, base, budget)
        if args.network:
            print(f"suite on the {args.network} link ...", file=sys.stderr)
            r["suite_on_network"] = suite.on_nbiot(args.select, scales[0], base, args.network)
        for w, row in r["scale_out"]["by_workers"].items():  # the old RESULTS.md rows
            r["legacy"].append((f"suite wall time -n {w}, s", f"{row['wall_s']:.1f}"))
    r["bench_wall_s"] = round(time.monotonic() - t0, 1)
    return r


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    r = measure(args)
    figs = report.figures(r)
    print(report.table(figs))
    if not args.no_write:
        path = report.write_json(r, figs)
        report.write_readme(r, figs)
        report.append_results(r, figs)
        print(f"wrote {path.relative_to(ROOT)}, bench/README.md, bench/RESULTS.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
