"""Rig faults are rig faults (issue 19, item 1): a case whose body fails because the rig failed
under it (the DUT hung, the emulator process stopped or died) is an error "rig fault", never a
firmware failure; the recovery ladder runs right then, its log attached to that case; when the
ladder cannot bring the rig back the run stops as rig broken (exit 3). A real conformance run
against the real emulator, the faults injected the way a lab's rig fails."""

from __future__ import annotations

import json
import re
import signal

import pytest
from run_project import BROKER_CHILDREN, BROKER_CRASH_IMPORTS, case_module, run_cases

from harness.broker.mosquitto import missing_reason

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

BROKER_KILLED = case_module(BROKER_CHILDREN, '''def _kill_broker_children() -> int:
    """SIGKILL the mosquitto this pytest started (a child of this process): a broker crash."""
    killed = _broker_children()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    return len(killed)


def test_1_broker_dies(modem, broker):
    assert _kill_broker_children() == 1
    open_connect(modem, broker.dut_host, broker.port, "blame-broker")


def test_2_never_runs(modem, broker):
    open_connect(modem, broker.dut_host, broker.port, "blame-after")
''', spec="3.3.2", imports=BROKER_CRASH_IMPORTS)

KILLED = STOPPED.replace("signal.SIGSTOP", "signal.SIGKILL").replace("_emulator_stopped", "_emulator_killed")


def test_a_hang_mid_case_is_a_rig_fault_and_the_ladder_runs_at_once(tmp_path) -> None:
    run = run_cases(tmp_path, {"test_blame.py": HANG_THEN_FAIL}, status=1)
    hung = run.case("test_1_dut_hangs_mid_case", "error")
    assert hung["message"].startswith("rig fault: the DUT at ") and "no longer answers AT" in hung["message"]
    assert "the recovery ladder brought the rig back" in hung["message"]
    # the genuine failure stays a failure; the case after the fault runs on a recovered rig
    assert run.cases["test_2_a_real_failure"]["verdict"] == "failed"
    assert run.cases["test_3_after"]["verdict"] == "passed"
    assert run.data["complete"] is True
    out = run.junit()[hung["nodeid"].rsplit("::", 1)[1]].findtext("system-out") or ""
    assert "ladder: reset line: ok" in out, out[-2000:]  # the ladder's log is this case's evidence
    categories = json.loads((run.reports / "allure-results" / "categories.json").read_text())
    rig = next(c for c in categories if c["name"] == "Rig fault")
    assert re.match(rig["messageRegex"], hung["message"]), rig


def test_a_stopped_emulator_breaks_the_rig_and_is_not_the_firmwares_failure(tmp_path) -> None:
    try:
        run = run_cases(tmp_path, {"test_blame.py": STOPPED}, status=3)
        stopped = run.case("test_1_emulator_stopped", "error")
        assert "is stopped (SIGSTOP" in stopped["message"], stopped
        run.stopped_rig_broken("test_2_never_runs")
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


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_a_dead_broker_breaks_the_rig_and_is_not_the_firmwares_failure(tmp_path) -> None:
    run = run_cases(tmp_path, {"test_blame.py": BROKER_KILLED}, "--broker", "mosquitto", status=3)
    died = run.case("test_1_broker_dies", "error")
    assert died["message"].startswith("rig fault: the broker (mosquitto) at 127.0.0.1:"), died
    assert "does not accept connections" in died["message"] and "no rung restarts the broker" in died["message"]
    run.stopped_rig_broken("test_2_never_runs")


def test_a_killed_emulator_breaks_the_rig_and_leaves_nothing_behind(tmp_path) -> None:
    run = run_cases(tmp_path, {"test_blame.py": KILLED}, status=3)
    killed = run.case("test_1_emulator_killed", "error")
    assert killed["message"].startswith("rig fault: the emulator process has exited"), killed
    assert "no rung restarts an emulator process" in killed["message"], killed
    run.stopped_rig_broken("test_2_never_runs")
    assert (run.reports / "matrix.html").exists() and (run.reports / "junit.xml").exists()
