"""`python -m harness.report diff OLD.json NEW.json [--html FILE]` and
`python -m harness.report matrix RECORD.json --html FILE`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .diff import diff_records, render_html, render_text
from .matrix import render_html as matrix_html
from .record import RecordError, load_record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("diff", help="what changed between two qualification records; exit 1 on a regression")
    d.add_argument("old")
    d.add_argument("new")
    d.add_argument("--html", type=Path, help="also write the diff as an HTML page")
    m = sub.add_parser("matrix", help="the conformance matrix of one record as HTML")
    m.add_argument("record")
    m.add_argument("--html", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "matrix":
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(matrix_html(load_record(args.record)), encoding="utf-8")
            print(args.html)
            return 0
        old, new = load_record(args.old), load_record(args.new)
    except RecordError as exc:
        print(f"harness.report: {exc}", file=sys.stderr)
        return 2
    result = diff_records(old, new)
    print(render_text(result, old, new))
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_html(result, old, new), encoding="utf-8")
    return 1 if result.regressions else 0


if __name__ == "__main__":
    sys.exit(main())
