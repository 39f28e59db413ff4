"""Waivers (issue 11 item 5): a known deviation of a firmware is accepted visibly and for a while.

The library (harness/report/waivers.py) against real YAML files; the plugin
(harness/plugin/verdicts.py) in real runs of a suite module against the emulator playing
`keepalive-off-by-one`, a firmware that fails exactly two cases of suites/test_qmtcfg_params.py
(tests/fault_expectations.py): waived, they are `waived` in pytest's summary, JUnit and Allure;
expired or for another firmware, they stay failures."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fault_expectations import EXPECTED
from run_project import ROOT
from run_project import run as run_pytest

from harness.emulator import profiles
from harness.report.waivers import Waiver, WaiverError, load_waivers

FIRMWARE = "keepalive-off-by-one"
REVISION = profiles.get(FIRMWARE).revision  # BC660KGLAAR01A05_FKA3601
P = "suites/test_qmtcfg_params.py::"
RANGE_CASE = f"{P}test_value_out_of_range_is_rejected_and_changes_nothing[keepalive-keep_alive_time=3601]"
CODE_CASE = f"{P}test_refusal_carries_a_chapter_4_code[out of range]"
SELECT = ["suites/test_qmtcfg_params.py", "-k", "3601 or refusal_carries"]  # both failures and a few passes


def test_the_two_cases_are_what_the_firmware_fails():
    assert set(EXPECTED[FIRMWARE].fails) == {RANGE_CASE, CODE_CASE}


# --- the library -------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "waivers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = f"""
waivers:
  - case: "{P}test_value_out_of_range_*"
    firmware: "BC660KGL*_FKA3601"
    reason: accepts 3601
    ticket: QTL-1
    expires: 2030-06-30
  - observation: "5.1/QMTSTAT/1"
    reason: peer close reported as 7
    ticket: QTL-2
    expires: "2030-01-31"
"""


def test_a_waiver_file_loads_and_matches(tmp_path):
    ws = load_waivers(write(tmp_path, GOOD), today=dt.date(2030, 6, 30))
    assert [w.ticket for w in ws.entries] == ["QTL-1", "QTL-2"]
    hit = ws.for_case(RANGE_CASE, REVISION)
    assert hit is not None and hit[0] == 0 and not hit[1].expired(ws.today)  # valid through its last day
    assert ws.for_case(RANGE_CASE, "BC660KGLAAR01A05") is None  # another firmware
    assert ws.for_case(CODE_CASE, REVISION) is None
    assert ws.for_observation(["5.1/QMTSTAT/1", "+QMTSTAT code (expected 1)"], "anything")[0] == 1
    assert ws.entries[1].expired(ws.today)
    assert hit[1].text() == "waived: accepts 3601 [QTL-1, expires 2030-06-30]"


def test_a_node_id_matches_itself_although_brackets_are_glob_classes(tmp_path):
    w = Waiver(case=RANGE_CASE, reason="r", ticket="t", expires=dt.date(2030, 1, 1))
    assert w.matches_case(RANGE_CASE, "")
    assert not w.matches_case(RANGE_CASE.replace("3601", "3602"), "")


def test_a_bare_list_is_a_waiver_file_too(tmp_path):
    ws = load_waivers(write(tmp_path, "- {case: x, reason: r, ticket: t, expires: 2030-01-01}\n"))
    assert ws.entries[0].case == "x" and ws.entries[0].firmware == "*"


def test_summary_lists_used_expired_and_in_a_whole_suite_run_unmatched(tmp_path):
    text = GOOD + """  - case: "suites/test_gone.py::*"
    reason: renamed long ago
    ticket: QTL-3
    expires: 2030-12-31
  - case: "suites/test_other_firmware.py::*"
    firmware: "BC660KGLAAR01A01"
    reason: only A01
    ticket: QTL-4
    expires: 2030-12-31
"""
    ws = load_waivers(write(tmp_path, text), today=dt.date(2030, 3, 1))
    ws.note(0, RANGE_CASE)
    whole = ws.summary(whole_suite=True, firmware=REVISION)
    assert [r["ticket"] for r in whole["used"]] == ["QTL-1"] and whole["used"][0]["matched"] == [RANGE_CASE]
    assert [r["ticket"] for r in whole["expired"]] == ["QTL-2"]
    assert [r["ticket"] for r in whole["unmatched"]] == ["QTL-3"]  # QTL-4 is for another firmware
    subset = ws.summary(whole_suite=False, firmware=REVISION)
    assert subset["unmatched"] == [] and subset["unmatched_checked"] is False


@pytest.mark.parametrize(("text", "where"), [
    ("waivers:\n  - {case: x, reason: r, ticket: t, expires: 2030-01-01}\n  - {case: y, reason: r, ticket: t}\n",
     "entry 2: expires: required"),
    ("- {case: x, reason: r, ticket: t, expires: soon}\n", "entry 1: expires: expected a date YYYY-MM-DD"),
    ("- {case: x, observation: y, reason: r, ticket: t, expires: 2030-01-01}\n",
     "entry 1: give exactly one of 'case' and 'observation'"),
    ("- {case: x, reason: r, ticket: t, expires: 2030-01-01, owner: me}\n", "entry 1: owner: unknown key"),
    ("- {case: x, reason: '', ticket: t, expires: 2030-01-01}\n", "entry 1: reason: expected a non-empty string"),
    ("- {case: x, reason: r, ticket: 42, expires: 2030-01-01}\n", "entry 1: ticket: expected a string"),
    ("waiver:\n  - {}\n", "unknown top-level key 'waiver'"),
    ("case: x\n", "unknown top-level key 'case'"),
    ("- [unclosed\n", "not valid YAML (line 2)"),
    ("- just a string\n", "entry 1: expected a mapping"),
], ids=["missing-key", "bad-date", "both-targets", "unknown-key", "empty-reason", "ticket-not-text",
        "misspelt-top", "mapping-not-list", "yaml-syntax", "entry-not-mapping"])
def test_a_broken_waiver_file_is_one_line_naming_file_entry_and_key(tmp_path, text, where):
    path = write(tmp_path, text)
    with pytest.raises(WaiverError) as exc:
        load_waivers(path)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ") and where in msg, msg


def test_a_missing_waiver_file_is_one_line(tmp_path):
    with pytest.raises(WaiverError, match=r"nope\.yaml: cannot read the waiver file"):
        load_waivers(tmp_path / "nope.yaml")


# --- real runs -----------------------------------------------------------------------------------


def run(tmp_path: Path, *args: str, select: list[str] = SELECT) -> subprocess.CompletedProcess[str]:
    """The `select`ed cases on FIRMWARE, quietly, reports in tmp_path/reports; `args` added."""
    return run_pytest(ROOT, *select, "-q", f"--report-dir={tmp_path / 'reports'}", "--firmware", FIRMWARE, *args,
                      timeout=300)


def summary_line(proc: subprocess.CompletedProcess[str]) -> str:
    return [ln for ln in proc.stdout.splitlines() if re.search(r"\d+ (passed|failed|waived)", ln)][-1]


def junit_cases(tmp_path: Path) -> dict[str, ET.Element]:
    tree = ET.parse(tmp_path / "reports" / "junit.xml")
    return {f"{tc.get('file')}::{tc.get('name')}": tc for tc in tree.iter("testcase")}


def props(tc: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in tc.iter("property")}


def waiver_file(tmp_path: Path, *entries: dict[str, str]) -> Path:
    lines = ["waivers:"]
    for e in entries:
        lines.append("  - " + "\n    ".join(f"{k}: {json.dumps(v)}" for k, v in e.items()))
    return write(tmp_path, "\n".join(lines) + "\n")


BOTH = ({"case": RANGE_CASE, "firmware": "BC660KGL*_FKA3601", "reason": "accepts 3601", "ticket": "QTL-11",
         "expires": "2099-12-31"},
        {"case": f"{P}test_refusal_carries_a_chapter_4_code*", "reason": "no refusal for 3601",
         "ticket": "QTL-12", "expires": "2099-12-31"})


def test_waived_failures_are_waived_in_every_report_and_exit_0(tmp_path):
    proc = run(tmp_path, "--waivers", str(waiver_file(tmp_path, *BOTH)))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    line = summary_line(proc)
    assert "2 waived" in line and "failed" not in line, line
    assert "2 failure(s) waived by 2 waiver(s)" in out
    cases = junit_cases(tmp_path)
    for nodeid, ticket in ((RANGE_CASE, "QTL-11"), (CODE_CASE, "QTL-12")):
        tc = cases[nodeid]
        skipped = tc.find("skipped")
        assert tc.find("failure") is None and skipped is not None, ET.tostring(tc)[:500]
        message = skipped.get("message", "")
        assert re.fullmatch(rf"waived: .* \[{ticket}, expires 2099-12-31\]: AssertionError: .*3601.*", message)
        assert props(tc)["waiver"] == message
    # Allure: skipped, filed under the "Waived" category (first, so no other category takes it)
    allure = tmp_path / "reports" / "allure-results"
    categories = json.loads((allure / "categories.json").read_text())
    assert categories[0]["name"] == "Waived" and categories[0]["matchedStatuses"] == ["skipped"]
    results = [json.loads(p.read_text()) for p in allure.glob("*-result.json")]
    waived = [r for r in results if r["status"] == "skipped"
              and re.fullmatch(categories[0]["messageRegex"], r.get("statusDetails", {}).get("message", ""))]
    assert len(waived) == 2 and not [r for r in results if r["status"] in ("failed", "broken")]


def test_fail_on_waived_makes_a_waived_failure_exit_1(tmp_path):
    proc = run(tmp_path, "--waivers", str(waiver_file(tmp_path, *BOTH)), "--fail-on-waived")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 waived" in summary_line(proc) and "--fail-on-waived: the run fails" in proc.stdout


def test_an_expired_or_other_firmware_waiver_waives_nothing_and_is_listed(tmp_path):
    expired = {**BOTH[0], "expires": "2020-01-01", "ticket": "QTL-OLD"}
    other = {**BOTH[1], "firmware": "BC660KGLAAR01A01"}
    proc = run(tmp_path, "--waivers", str(waiver_file(tmp_path, expired, other)))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    line = summary_line(proc)
    assert "2 failed" in line and "waived" not in line, line
    listed = [ln for ln in proc.stdout.splitlines() if ln.startswith("EXPIRED 2020-01-01")]
    assert len(listed) == 1 and "QTL-OLD" in listed[0] and f"matched {RANGE_CASE} (the failure stands)" in listed[0]
    cases = junit_cases(tmp_path)
    assert cases[RANGE_CASE].find("failure") is not None
    assert "has expired: the failure stands" in props(cases[RANGE_CASE])["waiver_expired"]
    assert cases[CODE_CASE].find("failure") is not None and "waiver_expired" not in props(cases[CODE_CASE])


def test_the_rig_file_names_the_waivers(tmp_path):
    rig = write(tmp_path, (ROOT / "rig.yaml").read_text() + f"  waivers: {waiver_file(tmp_path, *BOTH)}\n",
                "rig.yaml")
    proc = run(tmp_path, "--rig", str(rig))
    assert proc.returncode == 0 and "2 waived" in summary_line(proc), proc.stdout + proc.stderr


def test_a_broken_waiver_file_stops_the_run_before_any_case_with_exit_4(tmp_path):
    path = write(tmp_path, "waivers:\n  - {case: x, reason: r, ticket: t, expires: 2030-01-01}\n"
                           "  - {case: y, reason: r, ticket: t, expires: someday}\n")
    proc = run(tmp_path, "--waivers", str(path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out
    assert "Traceback" not in out
    lines = [ln for ln in out.splitlines() if str(path) in ln]
    assert len(lines) == 1 and "entry 2: expires: expected a date YYYY-MM-DD" in lines[0], out
    assert "passed" not in out and "failed" not in out  # no case ran


def test_unmatched_waivers_are_listed_after_a_whole_suite_run(tmp_path):
    """"whole suite" is what harness.report.selection calls a run of `suites` not narrowed by a path,
    -k, -m or --section; --deselect keeps it whole (today) and keeps this run short."""
    others = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "suites").glob("test_*.py")
                    if p.name != "test_qmtcfg_params.py")
    select = ["suites", *(f"--deselect={m}" for m in others)]
    gone = {"case": "suites/test_gone.py::*", "reason": "renamed", "ticket": "QTL-GONE", "expires": "2099-12-31"}
    proc = run(tmp_path, "--waivers", str(waiver_file(tmp_path, *BOTH, gone)), select=select)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    unmatched = [ln for ln in proc.stdout.splitlines() if ln.startswith("UNMATCHED in this whole-suite run")]
    assert len(unmatched) == 1 and "QTL-GONE" in unmatched[0], proc.stdout
    # the same waivers on a subset: nothing is called unmatched
    proc = run(tmp_path, "--waivers", str(waiver_file(tmp_path, *BOTH, gone)))
    assert "UNMATCHED" not in proc.stdout and "listed only after a complete whole-suite run" in proc.stdout
