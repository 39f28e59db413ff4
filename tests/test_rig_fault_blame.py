"""Rig faults are rig faults (issue 19, item 1): a case whose body fails because the rig failed
under it (the DUT hung, the emulator process stopped or died) is an error "rig fault", never a
firmware failure; the recovery ladder runs right then, its log attached to that case; when the
ladder cannot bring the rig back the run stops as rig broken (exit 3). A real conformance run
against the real emulator, the faults injected the way a lab's rig fails."""

from __future__ import annotations

import json
import signal
import xml.etree.ElementTree as ET

import pytest

from tests.run_project import make_project, run

pytestmark = pytest.mark.timeout(150)

HANG_THEN_FAIL = '''
import pytest

pytestmark = pytest.mark.spec("3.1.2")


def test_1_dut_hangs_mid_case(modem, dut):
    dut.relay.hang()  # the AT parser stops answering until a reset: not this firmware's verdict
    assert modem.command("AT", timeout=0.5).ok


def test_2_a_real_failure(modem):
    assert modem.command("AT").final == "ERROR", "the firmware answered OK"


def test_3_after(modem):
    assert modem.command("AT").ok
'''

STOPPED = '''
import os
import signal

import pytest

pytestmark = pytest.mark.spec("3.1.2")


def test_1_emulator_stopped(modem, dut):
    os.kill(dut.emulator.proc.pid, signal.SIGSTOP)
    assert modem.command("AT", timeout=0.5).ok


def test_2_never_runs(modem):
    assert modem.command("AT").ok
'''


def _cases(project) -> tuple[dict, dict[str, dict]]:
    data = json.loads((project / "reports" / "record.json").read_text())
    return data, {c["nodeid"].rsplit("::", 1)[1]: c for c in data["cases"]}


def test_a_hang_mid_case_is_a_rig_fault_and_the_ladder_runs_at_once(tmp_path) -> None:
    project = make_project(tmp_path, {"test_blame.py": HANG_THEN_FAIL})
    proc = run(project, "-q")
    assert proc.returncode == 1, proc.stdout[-3000:]
    data, cases = _cases(project)
    hung = cases["test_1_dut_hangs_mid_case"]
    assert hung["verdict"] == "error", hung
    assert hung["message"].startswith("rig fault: the DUT at ") and "no longer answers AT" in hung["message"]
    assert "the recovery ladder brought the rig back" in hung["message"]
    # the genuine failure stays a failure; the case after the fault runs on a recovered rig
    assert cases["test_2_a_real_failure"]["verdict"] == "failed"
    assert cases["test_3_after"]["verdict"] == "passed"
    assert data["complete"] is True
    junit = ET.parse(project / "reports" / "junit.xml").getroot()
    out = "".join(c.findtext("system-out") or "" for c in junit.iter("testcase") if c.get("name") == hung["nodeid"]
                  .rsplit("::", 1)[1])
    assert "ladder: reset line: ok" in out, out[-2000:]  # the ladder's log is this case's evidence
    categories = json.loads((project / "reports" / "allure-results" / "categories.json").read_text())
    rig = next(c for c in categories if c["name"] == "Rig fault")
    import re
    assert re.match(rig["messageRegex"], hung["message"]), rig


def test_a_stopped_emulator_breaks_the_rig_and_is_not_the_firmwares_failure(tmp_path) -> None:
    project = make_project(tmp_path, {"test_blame.py": STOPPED})
    proc = run(project, "-q")
    try:
        assert proc.returncode == 3, proc.stdout[-3000:]
        data, cases = _cases(project)
        stopped = cases["test_1_emulator_stopped"]
        assert stopped["verdict"] == "error" and "is stopped (SIGSTOP" in stopped["message"], stopped
        assert cases["test_2_never_runs"]["verdict"] == "not-run"
        assert data["incomplete"]["kind"] == "rig-broken", data["incomplete"]
        assert "RIG BROKEN" in proc.stdout
    finally:
        _continue_stopped()


def _continue_stopped() -> None:
    """A stopped emulator left by a failed assertion above must not stay stopped."""
    import os
    from pathlib import Path

    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "harness.emulator" in (stat.parent / "cmdline").read_bytes().decode(errors="replace") and \
                text.rsplit(")", 1)[1].split()[0] == "T":
            os.kill(int(stat.parent.name), signal.SIGCONT)
