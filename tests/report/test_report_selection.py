"""What a run selected, on record: the history sets subset runs apart and the firmware diff says
when two records did not run the same cases (harness/report/selection.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report.diff import diff_records, render_text
from harness.report.history import keep_history
from harness.report.record import SCHEMA
from harness.report.selection import WHOLE, describe, is_subset

ROOT = Path(__file__).resolve().parents[2]


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


def _case(nodeid: str, verdict: str, message: str = "") -> dict:
    return {"nodeid": nodeid, "sections": ["3.3.1"], "verdict": verdict, "message": message, "observations": {}}


def test_diff_summarises_new_and_vanished_when_selections_differ_and_names_the_failure() -> None:
    """Issue 12: a subset against the whole suite is one line of counts (details with --all); the
    selection warning only when the selections differ; REGRESSED carries the failure message."""
    whole = {"facts": {"Selection": WHOLE}, "cases": [_case(f"s.py::t{i}", "passed") for i in range(50)]}
    subset = {"facts": {"Selection": "subset: -k t1"},
              "cases": [_case("s.py::t1", "failed", "AssertionError: keepalive 3601 answered OK")]}
    d = diff_records(whole, subset)
    text = render_text(d, whole, subset)
    assert "REGRESSED s.py::t1: passed -> failed: AssertionError: keepalive 3601 answered OK" in text
    assert "VANISHED  s.py::t2" not in text and "49 VANISHED" in text and "--all" in text
    assert "VANISHED  s.py::t2: was passed" in render_text(d, whole, subset, all_cases=True)
    again = {"facts": {"Selection": "subset: -k t1"}, "cases": [_case("s.py::t1", "passed")]}
    assert "selection" not in render_text(diff_records(again, subset), again, subset)


def test_diff_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    import subprocess
    import sys

    cases = [_case(f"s.py::t{i}", "passed") for i in range(5000)]
    big = {"schema": SCHEMA, "facts": {"Selection": WHOLE}, "cases": cases}
    empty = {"schema": SCHEMA, "facts": {"Selection": WHOLE}, "cases": []}
    (tmp_path / "a.json").write_text(json.dumps(big))
    (tmp_path / "b.json").write_text(json.dumps(empty))
    cmd = (f"{sys.executable} -m harness.report diff {tmp_path / 'a.json'} {tmp_path / 'b.json'} "
           f"--html {tmp_path / 'd.html'} | head -1")
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert (tmp_path / "d.html").exists()


def test_history_links_each_nights_matrix_and_counts_observation_changes(tmp_path: Path) -> None:
    """Issue 12: the page per firmware links to each night's matrix and says how many
    observations changed since the previous night of that firmware."""
    first, second = _record("FW_A", 1_700_000_000, WHOLE, 2), _record("FW_A", 1_700_086_400, WHOLE, 2)
    first["cases"][0]["observations"] = {"keepalive default": "120"}
    second["cases"][0]["observations"] = {"keepalive default": "60"}
    for rec in (first, second):
        rec["cases"] = [{**c, "sections": ["3.3.1"], "message": ""} for c in rec["cases"]]
        keep_history(rec, tmp_path, keep=2)
    keep_history(_record("FW_B", 1_600_000_000, WHOLE, 1), tmp_path, keep=2)  # the oldest: pruned at once
    page = (tmp_path / "index.html").read_text()
    matrices = sorted(p.name for p in tmp_path.glob("*.html") if p.name != "index.html")
    assert len(matrices) == 2, "a matrix goes with the record it was made from, and with it"
    assert all(f'href="{m}"' in page for m in matrices)
    assert "<td>1</td>" in page and "observations changed" in page
