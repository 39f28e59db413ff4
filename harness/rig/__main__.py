"""`python -m harness.rig doctor [--rig FILE] [--no-power]`: check a rig before a qualification run.

Prints one row per part (OK / FAIL / SKIP and what was found); exits 0 only when nothing failed,
1 when a part failed, 4 when the rig file itself is wrong (README "Exit status").
"""

from __future__ import annotations

import argparse
import logging
import sys

from harness.rig.doctor import print_table, run_doctor
from harness.rig.loader import DEFAULT_RIG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.rig", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    doc = sub.add_parser("doctor", help="check the rig: file, port, DUT identity, relay, broker, certificates")
    doc.add_argument("--rig", default=DEFAULT_RIG, metavar="FILE", help=f"rig file (default: {DEFAULT_RIG})")
    doc.add_argument("--no-power", action="store_true", help="do not switch the relay (no power cycle, no reset)")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the broker libraries' own logging is not the doctor's table
    rows, status = run_doctor(args.rig, power=not args.no_power)
    print_table(rows, sys.stdout)
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
