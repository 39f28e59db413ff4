"""The fleet page (issue 14, 4): `python -m harness.report merge` over three recorded runs from two
rigs. The records come from real conformance runs against the emulator (tests/run_project.py); CI
artefacts of different nights differ in their start time only, so the second night's record is the
same kind of run with its `started` moved a day on. A case that failed on one night only is
flagged unstable; one that failed every night, consistently failing; the rest stable."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from run_project import case_module, make_project, passes, run

from harness.report.fleet import FAILING, STABLE, UNSTABLE, merge

pytestmark = pytest.mark.timeout(150)
ROOT = Path(__file__).resolve().parents[2]
DAY = 86400.0

CASES = case_module(passes("test_always_passes"), '''def test_flaky(modem):
    assert modem.command("AT").ok
    assert os.environ.get("FLEET_FLAKY") != "fail", "timed out waiting for OK (this night only)"
''', '''def test_always_fails(modem):
    assert modem.command("AT").final == "ERROR", "the firmware answers OK here"
''', imports="import os")


def record_run(project: Path, out: Path, *, night: int, flaky_fails: bool = False) -> None:
    """One real run; its record (record.json and history/) under `out`, started `night` days on."""
    reports = project / f"reports-{out.parent.name}-{out.name}"
    proc = run(project, f"--report-dir={reports}", extra_env={"FLEET_FLAKY": "fail" if flaky_fails else ""})
    assert proc.returncode == 1, proc.stdout[-2000:]  # test_always_fails fails every night
    shutil.copytree(reports, out)
    for rec_path in [out / "record.json", *sorted((out / "history").glob("*.json"))]:
        rec = json.loads(rec_path.read_text())
        rec["started"] += night * DAY
        rec["finished"] = (rec["finished"] or rec["started"]) + night * DAY
        rec_path.write_text(json.dumps(rec))


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CI artefacts: rig-a on two nights (the flaky case fails on the second), rig-b on the first."""
    base = tmp_path_factory.mktemp("fleet")
    (base / "project").mkdir()
    project = make_project(base / "project", {"test_fleet_cases.py": CASES})
    record_run(project, base / "artefacts" / "rig-a" / "night1", night=0)
    record_run(project, base / "artefacts" / "rig-a" / "night2", night=1, flaky_fails=True)
    record_run(project, base / "artefacts" / "rig-b" / "night1", night=0)
    return base / "artefacts"


def test_merge_flags_a_case_failing_on_one_night_only_as_unstable(artefacts, tmp_path):
    page, data = tmp_path / "fleet.html", tmp_path / "fleet.json"
    proc = subprocess.run([sys.executable, "-m", "harness.report", "merge", f"rig-a={artefacts / 'rig-a'}",
                           f"rig-b={artefacts / 'rig-b'}", "--html", str(page), "--json", str(data)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    merged = json.loads(data.read_text())
    assert len(merged["runs"]) == 3 and len(merged["nights"]) == 2  # record.json and history/ counted once
    stability = {(c["rig"], c["nodeid"].rsplit("::", 1)[1]): c["stability"] for c in merged["cases"]}
    assert stability == {
        ("rig-a", "test_always_passes"): STABLE, ("rig-a", "test_flaky"): UNSTABLE,
        ("rig-a", "test_always_fails"): FAILING,
        ("rig-b", "test_always_passes"): STABLE, ("rig-b", "test_flaky"): STABLE,
        ("rig-b", "test_always_fails"): FAILING,
    }
    flaky = next(c for c in merged["cases"] if c["rig"] == "rig-a" and c["nodeid"].endswith("test_flaky"))
    assert sorted(flaky["nights"].values()) == ["failed", "passed"]
    assert [ln for ln in proc.stdout.splitlines() if ln.startswith("UNSTABLE")] == [
        f"UNSTABLE rig-a [BC660KGLAAR01A05] {flaky['nodeid']}: failed on {merged['nights'][1]} of 2 nights"]
    sections = {(s["rig"], s["section"]): s["nights"] for s in merged["sections"]}
    assert sections[("rig-a", "3.1.2")] == dict.fromkeys(merged["nights"], "failed")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text()))
    assert "1 unstable, 2 consistently failing" in text and "rig x firmware x section" in text.lower()
    assert re.search(r"rig-a\s+BC660KGLAAR01A05\s+\S+test_flaky\s+3\.1\.2\s+unstable\s+passed\s+failed", text), text


def test_merge_names_rigs_by_their_facts_without_names(artefacts):
    """Without RIG=, runs of one module (same model and IMEI) are one rig: the emulator's default IMEI."""
    fleet = merge([artefacts / "rig-a", artefacts / "rig-b"])
    assert {r.rig for r in fleet.runs} == {"Quectel_BC660K-GL 869181050123452"}


def test_merge_with_nothing_to_merge_says_so_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    for args in ([str(tmp_path / "empty")], [str(tmp_path / "absent")]):
        proc = subprocess.run([sys.executable, "-m", "harness.report", "merge", *args, "--html",
                               str(tmp_path / "f.html")], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
