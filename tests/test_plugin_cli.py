"""The run stops before any case, with one clear line and a non-zero exit, when the rig is
wrong (issue: "A rig.yaml with a misspelt key, a relay kind that does not exist, or a port that
does not open each gives one clear line and a non-zero exit")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.report.lock import hold, release

ROOT = Path(__file__).resolve().parents[1]
GOOD = (ROOT / "rig.yaml").read_text()


def run_suite(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real pytest run of the suite, as a lab engineer types it; reports go to tmp_path."""
    cmd = [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q",
           f"--report-dir={tmp_path}", f"--junitxml={tmp_path / 'junit.xml'}", f"--html={tmp_path / 'report.html'}",
           f"--alluredir={tmp_path / 'allure'}", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return [ln for ln in out.splitlines() if ln.strip()]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("  kind: emulator", "  kidn: emulator"), "dut.kidn"),
        (("  kind: none", "  kind: gpio-magic"), "relay.kind"),
        (("  kind: amqtt", "  kind: mosquito"), "broker.kind"),
    ],
    ids=["misspelt-key", "unknown-relay-kind", "unknown-broker-kind"],
)
def test_broken_rig_file_stops_with_one_line(tmp_path, edit, expected):
    old, new = edit
    assert old in GOOD, f"rig.yaml no longer contains {old!r}: update this test"
    rig = tmp_path / "broken-rig.yaml"
    rig.write_text(GOOD.replace(old, new, 1))
    proc = run_suite(tmp_path, "--rig", str(rig))
    assert proc.returncode == 4
    lines = [ln for ln in error_lines(proc) if "broken-rig.yaml" in ln]
    assert len(lines) == 1 and expected in lines[0], proc.stdout + proc.stderr
    assert not (tmp_path / "junit.xml").exists() or "testcase" not in (tmp_path / "junit.xml").read_text()


def test_port_that_does_not_open_stops_with_one_line(tmp_path):
    proc = run_suite(tmp_path, "--port", str(tmp_path / "ttyNOPE"), "-k", "bare_at")
    assert proc.returncode == 4
    lines = [ln for ln in error_lines(proc) if "cannot open serial port" in ln]
    assert len(lines) == 1 and "ttyNOPE" in lines[0], proc.stdout + proc.stderr


def test_bad_time_scale_option_names_the_option(tmp_path):
    proc = run_suite(tmp_path, "--time-scale", "fast")
    assert proc.returncode == 4
    assert any("--time-scale" in ln for ln in error_lines(proc)), proc.stdout + proc.stderr


def test_section_option_selects_by_the_notes_numbering(tmp_path):
    proc = run_suite(tmp_path, "--collect-only", "--section", "3.3.1")
    assert proc.returncode == 0, proc.stdout[-2000:]
    ids = {ln for ln in proc.stdout.splitlines() if "::" in ln}
    everything = {ln for ln in run_suite(tmp_path, "--collect-only").stdout.splitlines() if "::" in ln}
    assert ids < everything
    assert {i for i in everything if i.startswith("suites/test_qmtcfg.py::")} <= ids  # all marked 3.3.1
    assert not any(i.startswith("suites/test_general.py::") for i in ids)  # 3.1.2 only


def test_report_dir_option_puts_every_report_there(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q", f"--report-dir={out}",
           "-k", "bare_at"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for name in ("html/index.html", "junit.xml", "record.json", "matrix.html", "history/index.html"):
        assert (out / name).is_file(), name
    assert list((out / "allure-results").glob("*-result.json"))


def test_second_run_on_a_busy_report_dir_stops_with_one_line(tmp_path):
    """Two runs on one report directory would clean each other's Allure results: the second stops."""
    held = hold(tmp_path)
    try:
        proc = run_suite(tmp_path, "-k", "bare_at")
    finally:
        release(held)
    assert proc.returncode == 4
    lines = [ln for ln in error_lines(proc) if "report directory" in ln]
    assert len(lines) == 1 and f"pid {os.getpid()}" in lines[0] and "--report-dir" in lines[0], lines
    assert run_suite(tmp_path, "-k", "bare_at").returncode == 0  # free again once released
