"""Coverage of the note may only grow: the suite's citations (covers markers) are collected
into reports/coverage.json, and this test fails when fewer entries are covered than the floor
recorded in tests/coverage_floor.json. Raise the floor when cases are added."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_project import ROOT, run

from harness.report.coverage import CoverageError, coverage_map, summary
from harness.report.coverage import write as write_coverage
from harness.spec import ENTRIES

FLOOR = json.loads((ROOT / "tests" / "coverage_floor.json").read_text())


def collect_coverage(out: Path) -> dict:
    """The suites collected for real; their citations through the product's coverage writer."""
    dump = out / "citations.json"
    proc = run(ROOT, "suites", "--collect-only", "-q", "-p", "tests.coverage_dump", f"--report-dir={out / 'reports'}",
               timeout=120, extra_env={"COVERAGE_DUMP": str(dump)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    write_coverage(coverage_map(json.loads(dump.read_text())), out)
    return json.loads((out / "coverage.json").read_text())


def test_coverage_of_the_note_does_not_drop(tmp_path):
    data = collect_coverage(tmp_path)
    covered = data["summary"]["all"]["covered"]
    assert covered >= FLOOR["all"], (
        f"{covered} of {len(ENTRIES)} spec entries covered, the floor is {FLOOR['all']}: a case lost its "
        "covers() marker or was removed; see reports/coverage.html")
    assert len(data["entries"]) == len(ENTRIES)


def test_citing_an_entry_that_does_not_exist_is_an_error():
    with pytest.raises(CoverageError, match=r"t::x: covers\('3.3.1/no/such'\)"):
        coverage_map([("t::x", ["3.3.1/no/such"])])


def test_summary_counts_per_kind():
    first = ENTRIES[0]
    s = summary(coverage_map([("t::a", [first.id])]))
    assert s["all"] == {"covered": 1, "total": len(ENTRIES)}
    assert s[first.kind]["covered"] == 1
