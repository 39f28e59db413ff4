"""`python -m harness.rig doctor [--rig FILE] [--port URL] [--no-power]`: check a rig before a
qualification run.

Prints one row per part (OK / FAIL / SKIP and what was found). Exit status as a conformance run's
(README "Exit status", harness/rig/exits.py): 0 nothing failed, 3 a part of the rig failed (the
DUT unreachable, the relay, the broker), 4 the rig file or an option is wrong.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import NoReturn

from harness.rig.doctor import print_table, run_doctor
from harness.rig.exits import USAGE
from harness.rig.loader import DEFAULT_RIG


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # an option is wrong: 4, not argparse's 2
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m harness.rig", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    doc = sub.add_parser("doctor", help="check the rig: file, port, DUT identity, relay, broker, certificates")
    doc.add_argument("--rig", default=DEFAULT_RIG, metavar="FILE", help=f"rig file (default: {DEFAULT_RIG})")
    doc.add_argument("--port", default=None, metavar="URL",
                     help="pyserial URL of an external DUT (as the suite's --port: no emulator is started)")
    doc.add_argument("--no-power", action="store_true", help="do not switch the relay (no power cycle, no reset)")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the broker libraries' own logging is not the doctor's table
    rows, status = run_doctor(args.rig, power=not args.no_power, port=args.port)
    print_table(rows, sys.stdout)
    sys.stdout.flush()
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
