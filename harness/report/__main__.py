"""`python -m harness.report diff OLD.json NEW.json [--html FILE]` and
`python -m harness.report matrix RECORD.json --html FILE`;
`python -m harness.report allure [REPORT_DIR]` (make report);
`python -m harness.report merge DIR... [--html FILE] [--json FILE]` (the fleet page, harness/report/fleet.py)."""

from __future__ import annotations

import argparse
import os
import sys
import time
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
    d.add_argument("--all", action="store_true", help="list NEW and VANISHED cases even when the selections differ")
    a = sub.add_parser("allure", help="the Allure HTML of a report directory's last run (make report)")
    a.add_argument("report_dir", type=Path, nargs="?", default=Path("reports"))
    m = sub.add_parser("matrix", help="the conformance matrix of one record as HTML")
    m.add_argument("record")
    m.add_argument("--html", type=Path, required=True)
    f = sub.add_parser("merge", help="the fleet page: records of several rigs and nights (CI artefacts) merged")
    f.add_argument("dirs", nargs="+", metavar="[RIG=]DIR", help="report directories; RIG= names their rig")
    f.add_argument("--html", type=Path, default=Path("fleet.html"), help="the page (default fleet.html)")
    f.add_argument("--json", type=Path, help="also the merged results as JSON")
    f.add_argument("--allure", type=Path, metavar="DIR",
                   help="also every rig's last Allure results in DIR/allure-results, their HTML in "
                        "DIR/allure-report")
    args = parser.parse_args(argv)
    if args.cmd == "merge":
        return _merge(args.dirs, args.html, args.json, args.allure)
    if args.cmd == "allure":
        return _allure(args.report_dir)
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
    if args.html:  # first: a reader closing the pipe (`| head`) must not cost the page
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_html(result, old, new), encoding="utf-8")
    try:
        print(render_text(result, old, new, all_cases=args.all), flush=True)
    except BrokenPipeError:  # the reader has seen enough: no traceback, no second error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if result.regressions else 0


def _merge(dirs: list[str], html: Path, json_path: Path | None, allure: Path | None) -> int:
    from .allure_html import ReportError, generate
    from .fleet import FleetError, merge, render_text, result_dirs, write
    from .fleet_allure import FleetAllureError, merge_results

    try:
        fleet = merge(dirs)
        rigs = result_dirs(dirs) if allure is not None else []
    except FleetError as exc:
        print(f"harness.report: {exc}", file=sys.stderr)
        return 2
    write(fleet, html, json_path)
    print(render_text(fleet))
    print(html)
    if allure is not None:
        try:
            count = merge_results(rigs, allure / "allure-results")
            page = generate(allure / "allure-results", allure / "allure-report", key="fleet")
        except (FleetAllureError, ReportError) as exc:
            print(f"harness.report: --allure: {exc}", file=sys.stderr)
            return 2
        print(f"{page} ({count} results from {len(rigs)} rig director{'y' if len(rigs) == 1 else 'ies'})")
    return 0


def _allure(report_dir: Path) -> int:
    from .allure_html import ReportError, generate, nights, trend_key

    started = time.monotonic()
    try:
        page = generate(report_dir / "allure-results", report_dir / "allure-report")
    except ReportError as exc:
        print(f"harness.report: {exc}", file=sys.stderr)
        return 2
    key = trend_key(report_dir / "allure-results")
    print(f"{page} ({nights(page.parent)} night(s) in the trend of {key}; {time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
