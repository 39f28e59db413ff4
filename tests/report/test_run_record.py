"""Every case has one truthful verdict in every report (issue 11, item 1): a real conformance run
with a pass, a failure, a setup error, a broker-capability skip, an xfail and a waived failure, against the real
emulator and broker; pytest's own summary line, record.json, JUnit, the Allure results and the
matrix must give the same counts, and a failure keeps its assertion text, not a traceback line."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from run_project import case_module, make_project, passes, run, summary_counts
from run_project import record as project_record

pytestmark = pytest.mark.timeout(150)

MIX = case_module(passes("test_a_pass"), '''def test_b_failure(modem):
    sent = len(modem.command("ATI").lines) * 500
    assert sent == 0, f"{sent} bytes went out"


@pytest.fixture
def broken_rig_part():
    raise RuntimeError("the relay board did not answer")


def test_c_setup_error(broken_rig_part, modem):
    pass


@pytest.mark.needs_broker("keepalive_enforced")
def test_d_needs_a_broker_that_enforces_keepalive(broker, modem):
    pass


@pytest.mark.xfail(reason="known: the note's example has a typo", strict=True)
def test_e_expected_failure(modem):
    assert modem.command("AT").final == "ERROR"


def test_f_known_deviation(modem):
    assert modem.command("AT").final == "ERROR", "the firmware answers OK here"
''')

WAIVERS = """
waivers:
  - case: "suites/test_mix.py::test_f_*"
    reason: firmware answers OK, fixed in A06
    ticket: QTL-42
    expires: 2099-12-31
"""

EXPECTED = {"passed": 1, "failed": 1, "error": 1, "skipped": 1, "xfailed": 1, "waived": 1}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    project = make_project(tmp_path_factory.mktemp("mix"), {"test_mix.py": MIX})
    (project / "waivers.yaml").write_text(WAIVERS)
    proc = run(project, "-q", "--waivers", "waivers.yaml")
    return proc, project / "reports"


def test_pytest_itself_saw_the_mix(mixed) -> None:
    proc, _ = mixed
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert summary_counts(proc.stdout) == EXPECTED, proc.stdout[-1500:]


def test_record_agrees_with_pytest_and_keeps_the_assertion_text(mixed) -> None:
    proc, reports = mixed
    record, cases = project_record(reports)
    assert record["complete"] is True and record["incomplete"] is None
    counts = {k: v for k, v in record["summary"].items() if v}
    assert counts == summary_counts(proc.stdout) == EXPECTED
    failure = cases["test_b_failure"]
    assert failure["message"].startswith("AssertionError: 1500 bytes went out"), failure
    assert failure["location"].endswith("test_mix.py:13"), failure
    assert "ATChannel object" not in failure["message"]
    assert cases["test_c_setup_error"]["message"] == "RuntimeError: the relay board did not answer"
    skip = cases["test_d_needs_a_broker_that_enforces_keepalive"]
    assert skip["verdict"] == "skipped" and "does not enforce keep-alive" in skip["message"], skip
    assert cases["test_e_expected_failure"]["verdict"] == "xfailed"
    waived = cases["test_f_known_deviation"]
    assert waived["verdict"] == "waived" and "QTL-42" in waived["message"], waived
    assert "the firmware answers OK here" in waived["message"]
    assert record["waivers"]["waived"] == ["suites/test_mix.py::test_f_known_deviation"]


def test_junit_agrees(mixed) -> None:
    _, reports = mixed
    suite = ET.parse(reports / "junit.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None
    got = Counter()
    for case in suite.iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        got[kinds[0] if kinds else "passed"] += 1
    # JUnit has no xfail or waiver: both are <skipped>, so skipped = skip + xfail + waived
    assert dict(got) == {"passed": 1, "failure": 1, "error": 1, "skipped": 3}, dict(got)
    assert int(suite.get("tests", -1)) == sum(EXPECTED.values())


def test_allure_results_agree(mixed) -> None:
    _, reports = mixed
    results = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    statuses = Counter(r["status"] for r in results)
    # Allure: an assertion is "failed", any other exception "broken"; skip and xfail are "skipped"
    assert dict(statuses) == {"passed": 1, "failed": 1, "broken": 1, "skipped": 3}, dict(statuses)
    waived = next(r for r in results if r["name"] == "test_f_known_deviation")
    assert waived["statusDetails"]["message"].startswith("waived: "), waived["statusDetails"]
    categories = json.loads((reports / "allure-results" / "categories.json").read_text())
    assert any(c["name"] == "Waived" for c in categories)
    assert len({r["historyId"] for r in results}) == len(results)


def test_html_report_agrees(mixed) -> None:
    _, reports = mixed
    page = (reports / "html" / "index.html").read_text()
    blob = re.search(r'data-jsonblob="([^"]*)"', page)
    assert blob, "no pytest-html data blob in the report"
    tests = json.loads(html.unescape(blob.group(1)))["tests"]
    # pytest-html keeps one row per case outcome; it has no "waived" and shows the waiver as skipped
    results = Counter(row["result"].lower() for rows in tests.values() for row in rows)
    assert dict(results) == {"passed": 1, "failed": 1, "error": 1, "skipped": 2, "xfailed": 1}, dict(results)


def test_matrix_and_history_agree(mixed) -> None:
    _, reports = mixed
    matrix = (reports / "matrix.html").read_text()
    assert "DOES NOT CONFORM: 1 passed, 1 failed, 1 error, 1 waived, 1 skipped, 1 xfailed" in matrix, matrix[:2000]
    assert "QTL-42" in matrix
    assert "AssertionError: 1500 bytes went out" in matrix
    history = next((reports / "history").glob("*.json"))
    assert json.loads(history.read_text())["summary"] == json.loads((reports / "record.json").read_text())["summary"]
