"""`pytest suites` leaves the three report outputs, each carrying the case's AT transcript and
the DUT's identity (issue 2, "Done when"); and a suite run against an emulator started by hand
through --port runs the same cases."""

from __future__ import annotations

import html
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from run_project import ROOT, run

from harness.emulator.launcher import EmulatorProcess


def run_suite(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The suite with `args`, quietly, every report under `out` (JUnit, HTML and Allure by their own options)."""
    return run(ROOT, "suites", "-q", f"--report-dir={out}", f"--junitxml={out / 'junit.xml'}",
               f"--html={out / 'html' / 'index.html'}", "--self-contained-html", f"--alluredir={out / 'allure'}",
               *args, timeout=300)


@pytest.fixture(scope="module")
def qualified(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    selection = "bare_at or ati_identifies or (value_in_range_is_accepted_and_reads_back and keepalive)"
    proc = run_suite(out, "-k", selection)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def html_tests(page: str) -> dict:
    """pytest-html 4 keeps every case's row, log and extras in one JSON blob in the page."""
    blob = re.search(r'data-jsonblob="([^"]*)"', page)
    assert blob, "no pytest-html data blob in the report"
    return json.loads(html.unescape(blob.group(1)))["tests"]


def test_html_report_is_self_contained_and_carries_transcripts(qualified):
    page = (qualified / "html" / "index.html").read_text()
    tests = html_tests(page)
    assert tests
    for nodeid, phases in tests.items():
        extras = [x["content"] for ph in phases for x in ph["extras"] if x["format_type"] == "html"]
        assert any("AT transcript" in x and "TX" in x for x in extras), nodeid
    keepalive = [x["content"] for k, phases in tests.items() if "keepalive" in k for ph in phases
                 for x in ph["extras"]]
    assert any("AT+QMTCFG=&quot;keepalive&quot;,0,0&lt;CR&gt;" in x for x in keepalive)
    assert "Quectel_BC660K-GL" in page and "DUT IMEI" in page
    assert not list((qualified / "html").glob("assets/*")), "a self-contained report needs no assets"


def test_junit_has_transcripts_in_system_out_and_identity_properties(qualified):
    root = ET.parse(qualified / "junit.xml").getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["DUT model"] == "Quectel_BC660K-GL"
    assert len(props["DUT IMEI"]) == 15
    cases = suite.findall("testcase")
    assert cases
    for case in cases:
        out = case.findtext("system-out") or ""
        assert "AT transcript" in out and " TX " in out, case.get("name")


def test_allure_results_have_transcript_attachments_and_environment(qualified):
    allure = qualified / "allure"
    results = [json.loads(p.read_text()) for p in allure.glob("*-result.json")]
    assert results
    for res in results:
        names = [a["name"] for a in res.get("attachments", [])]
        assert "AT transcript" in names, res["name"]
        source = next(a["source"] for a in res["attachments"] if a["name"] == "AT transcript")
        assert " TX " in (allure / source).read_text()
    env = (allure / "environment.properties").read_text()
    assert "DUT\\ firmware=BC660KGL" in env
    categories = [c["name"] for c in json.loads((allure / "categories.json").read_text())]
    assert categories == ["Waived", "Rig fault", "Timeout", "DUT nonconformance", "Harness error"]
    keepalive = [r for r in results if "keepalive" in r["name"]]
    assert keepalive
    for res in keepalive:  # the tree follows the note: chapter, then section
        labels = {(lb["name"], lb["value"]) for lb in res["labels"]}
        assert ("epic", "3 MQTT AT Commands") in labels
        assert ("feature", "3.3.1 AT+QMTCFG  configure optional parameters") in labels


def test_suite_runs_unchanged_against_an_emulator_started_by_hand(tmp_path):
    emulator = EmulatorProcess.start(transport="tcp", time_scale=0.1, log_path=tmp_path / "emu.log")
    try:
        proc = run_suite(tmp_path, "--port", emulator.url, "--time-scale", "0.1", "-k", "bare_at or ati_identifies")
    finally:
        emulator.stop()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "passed" in proc.stdout.splitlines()[-1]


def test_coverage_page_of_a_subset_says_so_beside_the_whole_suite(tmp_path):
    """Issue 12: after `--section 3.3.8` the page says the run was a subset and sets the
    selection's coverage beside the whole suite's, instead of pink NOT COVERED rows alone."""
    out = tmp_path / "reports"
    proc = run(ROOT, "suites", "-q", f"--report-dir={out}", "--section", "3.3.8", "-k", "not ssl", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    page = (out / "coverage.html").read_text()
    assert "This run was a subset (subset: -k not ssl --section 3.3.8)" in page
    data = json.loads((out / "coverage.json").read_text())
    assert data["whole_summary"]["all"]["covered"] > data["summary"]["all"]["covered"] > 0
    assert "not in this selection" in page
    assert "chapter 3 MQTT AT Commands: sections" in proc.stdout and str(out / "matrix.html") in proc.stdout
