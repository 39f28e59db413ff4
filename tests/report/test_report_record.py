"""The qualification record, the matrix and the firmware diff (issue "Qualification reports"):
unit checks on the fold of phase reports, and one real pair of runs, conformant firmware
against a faulty profile, whose diff must list exactly the cases that differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_project import ROOT, run

from harness.report.__main__ import main as report_main
from harness.report.diff import diff_records
from harness.report.matrix import rows
from harness.report.record import RunRecord


def test_phases_fold_into_one_verdict():
    rec = RunRecord(facts={}, rig={})
    rec.phase("a", ["3.3.1"], "setup", "passed", 0.1)
    rec.phase("a", ["3.3.1"], "call", "failed", 0.2, "AssertionError: x\nmore")
    rec.phase("a", ["3.3.1"], "teardown", "passed", 0.1)
    rec.phase("b", ["3.3.2"], "setup", "failed", 0.1, "boom")
    rec.phase("c", ["3.3.2"], "setup", "skipped", 0.0, "needs mosquitto")
    rec.phase("c", ["3.3.2"], "teardown", "passed", 0.0)
    cases = rec.cases
    assert (cases["a"].verdict, cases["a"].message) == ("failed", "AssertionError: x\nmore")
    assert cases["a"].duration_s == pytest.approx(0.4)
    assert cases["b"].verdict == "error"
    assert (cases["c"].verdict, cases["c"].message) == ("skipped", "needs mosquitto")
    assert rec.summary()["failed"] == 1 and rec.summary()["error"] == 1


def test_matrix_rows_count_per_section():
    rec = RunRecord(facts={}, rig={})
    rec.phase("a", ["3.3.1"], "call", "passed", 0.1)
    rec.phase("b", ["3.3.1"], "call", "failed", 0.1, "bad")
    rec.phase("c", ["3.3.2"], "setup", "skipped", 0.0, "why")
    table = {r["section"]: r for r in rows(rec.to_json())}
    assert (table["3.3.1"]["cases"], table["3.3.1"]["passed"], table["3.3.1"]["failed"]) == (2, 1, 1)
    assert table["3.3.2"]["skips"] == ["why"]


def _record(verdicts: dict[str, str], obs: dict[str, dict[str, str]] | None = None) -> dict:
    rec = RunRecord(facts={"DUT firmware": "X"}, rig={})
    for nodeid, verdict in verdicts.items():
        rec.phase(nodeid, ["3.3.1"], "call", verdict, 0.1)
        rec.case(nodeid, ["3.3.1"]).observations.update((obs or {}).get(nodeid, {}))
    return rec.to_json()


def test_diff_lists_changes_and_counts_regressions():
    old = _record({"a": "passed", "b": "failed", "c": "passed", "gone": "passed"}, {"c": {"k": "0"}})
    new = _record({"a": "failed", "b": "passed", "c": "passed", "fresh": "failed"}, {"c": {"k": "1"}})
    d = diff_records(old, new)
    assert d.verdicts == [("a", "passed", "failed"), ("b", "failed", "passed")]
    assert [(o[1], o[2], o[3]) for o in d.observations] == [("k", "0", "1")]
    assert d.new == [("fresh", "failed")] and d.vanished == [("gone", "passed")]
    assert [r[0] for r in d.regressions] == ["a", "fresh"]


def test_measurements_are_not_reported_as_observation_changes():
    old = _record({"a": "passed"}, {"a": {"OK to +QMTOPEN latency (real ms)": "1", "default": "0"}})
    new = _record({"a": "passed"}, {"a": {"OK to +QMTOPEN latency (real ms)": "3", "default": "0"}})
    assert diff_records(old, new).empty()


def test_diff_cli_exit_codes(tmp_path, capsys):
    same = tmp_path / "same.json"
    same.write_text(json.dumps(_record({"a": "passed"})))
    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps(_record({"a": "failed"})))
    assert report_main(["diff", str(same), str(same)]) == 0
    assert report_main(["diff", str(same), str(worse), "--html", str(tmp_path / "d.html")]) == 1
    assert "REGRESSED" in (tmp_path / "d.html").read_text()
    assert report_main(["diff", str(same), str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.json: file not found" in err[0]


def _qualify(out: Path, *args: str) -> dict:
    """The keepalive cases run with `args`, reports in `out`: their record."""
    run(ROOT, "suites", "-q", f"--report-dir={out}", "-k", "keepalive", *args, timeout=300)
    return json.loads((out / "record.json").read_text())


def test_diff_of_conformant_and_faulty_firmware_names_exactly_the_differing_cases(tmp_path):
    good = _qualify(tmp_path / "good")
    bad = _qualify(tmp_path / "bad", "--firmware", "keepalive-off-by-one")
    assert good["summary"]["failed"] == 0 and good["summary"]["passed"] > 10
    d = diff_records(good, bad)
    # keepalive-off-by-one accepts <keep_alive_time> 3601 (3.3.1 "Range: 0–3600"): that case, and only it.
    assert [v[0] for v in d.verdicts] == [
        "suites/test_qmtcfg_params.py::test_value_out_of_range_is_rejected_and_changes_nothing"
        "[keepalive-keep_alive_time=3601]"]
    assert not d.new and not d.vanished
    assert (tmp_path / "bad" / "matrix.html").read_text().count("DOES NOT CONFORM") == 1
    assert good["facts"]["Selection"] == "subset: -k keepalive"  # what the run chose is on record
    assert "subset: -k keepalive" in (tmp_path / "good" / "history" / "index.html").read_text()
