"""A report directory holds one run (issue 11, item 3): the harness's own tests and a run that
stops at start-up leave it byte for byte as it was; a run that gets going replaces every
artefact of the previous run, including the ones it does not write itself.

Every run here is in the repository without --report-dir, on purpose: its rig file (in the test's
tmp dir) names every report location, in the old run's directory there (run_project's
`reports_checked_by_caller`)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from run_project import ROOT, run

pytestmark = pytest.mark.timeout(120)

OLD_RUN = {"html/index.html": "<html>old run</html>", "junit.xml": "<testsuites/>", "record.json": "{}",
           "matrix.html": "old matrix", "coverage.html": "old coverage", "allure-results/old-result.json": "{}",
           "history/20260101T000000-X.json": "{}", "emulator.log": "old log"}


def _tree(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def old_reports(tmp_path: Path) -> tuple[Path, Path]:
    """A report directory holding an earlier run, and a rig file that points at it."""
    reports = tmp_path / "reports"
    for name, text in OLD_RUN.items():
        (reports / name).parent.mkdir(parents=True, exist_ok=True)
        (reports / name).write_text(text)
    rig = tmp_path / "rig.yaml"
    rig.write_text(f"dut: {{kind: emulator, time_scale: 0.1}}\nreport: {{dir: {reports}, "
                   f"html: {reports / 'html' / 'index.html'}, allure: {reports / 'allure-results'}, "
                   f"junit: {reports / 'junit.xml'}}}\n")
    return reports, rig


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    """pytest `args` in the repository, quietly, with no --report-dir (the rig file in `args` says where)."""
    return run(ROOT, "-q", *args, timeout=110, reports_checked_by_caller=True)  # the rig file names them


def test_a_harness_test_run_touches_no_report(old_reports) -> None:
    reports, rig = old_reports
    before = _tree(reports)
    proc = _pytest("tests/report/test_progress.py", "--rig", str(rig))
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert _tree(reports) == before


@pytest.mark.parametrize("args, status", [
    (["--port", "socket://127.0.0.1:1"], 3),  # nothing listens there: the DUT is unreachable
    (["--firmware", "nope"], 4),  # an option is wrong
], ids=["refused-port", "unknown-firmware"])
def test_a_run_that_stops_at_start_up_leaves_the_reports_as_they_were(old_reports, args, status) -> None:
    reports, rig = old_reports
    before = _tree(reports)
    proc = _pytest("suites/test_general.py", "--rig", str(rig), *args)
    assert proc.returncode == status, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _tree(reports) == before
    assert not list(reports.glob(".staging-*"))


def test_a_run_replaces_every_artefact_of_the_previous_one(old_reports) -> None:
    reports, rig = old_reports
    proc = _pytest("suites/test_general.py", "--rig", str(rig), "-k", "bare_at")
    assert proc.returncode == 0, proc.stdout[-2000:]
    after = _tree(reports)
    assert "coverage.html" not in after  # this run wrote none: the old one must not stand beside it
    assert "allure-results/old-result.json" not in after
    for name in ("html/index.html", "junit.xml", "record.json", "matrix.html", "emulator.log"):
        assert (reports / name).read_text() != OLD_RUN[name], name
    assert "history/20260101T000000-X.json" in after  # history keeps past runs by design
    assert not list(reports.glob(".staging-*"))
