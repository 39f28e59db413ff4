"""Several DUTs at once (issue "The hardware rig"): `pytest suites -n 2` gives each xdist
worker its own emulator and broker, and the results merge into one record, matrix and report
with the DUT named on every case."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from run_project import ROOT, run


def test_two_workers_two_duts_one_report(tmp_path):
    proc = run(ROOT, "suites", "-n", "2", "-q", f"--report-dir={tmp_path}", "-k", "qmtcfg or mqtt_flow", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((tmp_path / "record.json").read_text())
    duts = {c["dut"] for c in record["cases"]}
    assert len(duts) == 2, duts  # each worker had its own emulator (its own URL)
    assert record["summary"]["failed"] == 0 and record["summary"]["passed"] == len(record["cases"])
    assert record["facts"]["DUT model"] == "Quectel_BC660K-GL"
    cases = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    for case in cases:
        names = {p.get("name") for p in case.iter("property")}
        assert "dut" in names, case.get("name")
    assert "matrix" in (tmp_path / "matrix.html").read_text().lower()
    # the controller collects nothing under xdist: the coverage pages come from a worker's collection
    coverage = json.loads((tmp_path / "coverage.json").read_text())
    assert coverage["selection"].startswith("subset"), coverage["selection"]
    assert 0 < coverage["summary"]["all"]["covered"] < coverage["whole_summary"]["all"]["covered"], coverage["summary"]


def test_rig_listing_several_duts_gives_each_worker_its_own(tmp_path):
    """`duts:` in the rig file: worker gw0 takes the first entry, gw1 the second. Two emulators
    with different firmware make the assignment visible on every case."""
    rig = tmp_path / "rig.yaml"
    rig.write_text(f"duts:\n  - dut: {{kind: emulator, time_scale: 0.1}}\n"
                   f"  - dut: {{kind: emulator, time_scale: 0.1, firmware: wrong-keepalive-default}}\n"
                   f"report:\n  dir: {tmp_path}\n")
    proc = run(ROOT, "suites/test_general.py", "-n", "2", "-q", "--rig", str(rig),
               f"--junitxml={tmp_path / 'junit.xml'}", f"--html={tmp_path / 'index.html'}",
               f"--alluredir={tmp_path / 'allure'}", timeout=300,
               reports_checked_by_caller=True)  # every report named above, in tmp_path
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    firmware = {p.get("value") for p in ET.parse(tmp_path / "junit.xml").getroot().iter("property")
                if p.get("name") == "DUT firmware"}
    assert firmware == {"BC660KGLAAR01A05", "BC660KGLAAR01A05_FKADEF"}


def test_more_workers_than_listed_duts_is_one_clear_line(tmp_path):
    rig = tmp_path / "rig.yaml"
    rig.write_text(f"duts:\n  - dut: {{kind: emulator}}\nreport:\n  dir: {tmp_path}\n")
    # the rig leaves report.html at reports/html/index.html, but the run stops at start-up (exit 4,
    # one line), before any report: asserted below
    proc = run(ROOT, "suites/test_general.py", "-n", "2", "-q", "--rig", str(rig),
               f"--junitxml={tmp_path / 'junit.xml'}", f"--alluredir={tmp_path / 'allure'}", timeout=300,
               reports_checked_by_caller=True)
    assert proc.returncode == 4
    out = (proc.stdout + proc.stderr).strip().splitlines()
    assert out == ["ERROR: rig.yaml: duts: 1 DUTs listed but 2 workers asked for (pytest -n): one DUT per worker"]
