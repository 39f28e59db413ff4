"""What a run selected, on record: the history sets subset runs apart and the firmware diff says
when two records did not run the same cases (harness/report/selection.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report.diff import diff_records, render_text
from harness.report.history import keep_history
from harness.report.selection import WHOLE, describe, is_subset

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("args", "kw", "want"), [
    ([], {}, WHOLE),
    (["suites"], {}, WHOLE),
    (["tests", "suites"], {}, WHOLE),  # make test: tests/ cases are not in the record
    ([str(ROOT / "suites")], {}, WHOLE),
    (["suites/test_qmtpub.py"], {}, "subset: suites/test_qmtpub.py"),
    (["suites/test_qmtpub.py::test_x[1]"], {}, "subset: suites/test_qmtpub.py::test_x[1]"),
    (["suites"], {"keyword": "keepalive"}, "subset: -k keepalive"),
    (["suites"], {"markexpr": "not slow", "sections": ["3.3.8", "5"]},
     "subset: -m not slow --section 3.3.8 --section 5"),
])
def test_selection_is_described_by_what_narrowed_it(args: list[str], kw: dict, want: str) -> None:
    assert describe(args, ROOT, **kw) == want
    assert is_subset({"Selection": want}) == (want != WHOLE)


def _record(firmware: str, started: float, selection: str, passed: int) -> dict:
    return {"facts": {"DUT firmware": firmware, "Selection": selection}, "started": started,
            "summary": {"passed": passed, "failed": 0, "error": 0, "skipped": 0},
            "cases": [{"nodeid": f"suites/test_a.py::test_{i}", "verdict": "passed"} for i in range(passed)]}


def test_history_keeps_subset_runs_apart_and_stays_bounded(tmp_path: Path) -> None:
    for i, sel in enumerate([WHOLE, "subset: -k keepalive", WHOLE]):
        keep_history(_record("FW_A", 1_700_000_000 + i, sel, 3 if sel == WHOLE else 1), tmp_path, keep=2)
    (tmp_path / "00000000T000000-broken.json").write_text("{not json")  # damaged: skipped, not fatal
    keep_history(_record("FW_B", 1_700_000_100, WHOLE, 3), tmp_path, keep=3)
    runs = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(runs) == 3 and "00000000T000000-broken.json" not in runs  # the oldest went first
    page = (tmp_path / "index.html").read_text()
    assert page.count("<tr class=subset>") == 1 and "subset: -k keepalive" in page
    assert "<h2>FW_A</h2>" in page and "<h2>FW_B</h2>" in page
    assert json.loads((tmp_path / runs[-1]).read_text())["facts"]["DUT firmware"] == "FW_B"


def test_diff_says_when_the_runs_selected_different_cases() -> None:
    whole, subset = _record("A", 0, WHOLE, 3), _record("B", 0, "subset: -k x", 1)
    text = render_text(diff_records(whole, subset), whole, subset)
    assert f"selection {WHOLE} -> subset: -k x" in text and "VANISHED" in text
    same = render_text(diff_records(whole, whole), whole, whole)
    assert "selection" not in same and "no differences" in same
