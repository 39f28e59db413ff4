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

from harness.broker.mosquitto import missing_reason
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

BROKER_KILLED = '''
import os
import signal
from pathlib import Path

import pytest

from harness.at.flows import open_connect

pytestmark = pytest.mark.spec("3.3.2")


def _kill_broker_children() -> int:
    """SIGKILL the mosquitto this pytest started (a child of this process): a broker crash."""
    killed = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, rest = stat.read_text().split(") ", 1)
        except (OSError, ValueError):
            continue
        if comm.endswith("(mosquitto") and int(rest.split()[1]) == os.getpid():
            os.kill(int(stat.parent.name), signal.SIGKILL)
            killed += 1
    return killed


def test_1_broker_dies(modem, broker):
    assert _kill_broker_children() == 1
    open_connect(modem, broker.dut_host, broker.port, "blame-broker")


def test_2_never_runs(modem, broker):
    open_connect(modem, broker.dut_host, broker.port, "blame-after")
'''

KILLED = STOPPED.replace("signal.SIGSTOP", "signal.SIGKILL").replace("_emulator_stopped", "_emulator_killed")


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


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_a_dead_broker_breaks_the_rig_and_is_not_the_firmwares_failure(tmp_path) -> None:
    project = make_project(tmp_path, {"test_blame.py": BROKER_KILLED})
    proc = run(project, "-q", "--broker", "mosquitto")
    assert proc.returncode == 3, proc.stdout[-3000:]
    data, cases = _cases(project)
    died = cases["test_1_broker_dies"]
    assert died["verdict"] == "error", died
    assert died["message"].startswith("rig fault: the broker (mosquitto) at 127.0.0.1:"), died
    assert "does not accept connections" in died["message"] and "no rung restarts the broker" in died["message"]
    assert cases["test_2_never_runs"]["verdict"] == "not-run"
    assert data["incomplete"]["kind"] == "rig-broken", data["incomplete"]
    assert "RIG BROKEN" in proc.stdout


def test_a_killed_emulator_breaks_the_rig_and_leaves_nothing_behind(tmp_path) -> None:
    project = make_project(tmp_path, {"test_blame.py": KILLED})
    proc = run(project, "-q")
    assert proc.returncode == 3, proc.stdout[-3000:]
    data, cases = _cases(project)
    killed = cases["test_1_emulator_killed"]
    assert killed["verdict"] == "error", killed
    assert killed["message"].startswith("rig fault: the emulator process has exited"), killed
    assert "no rung restarts an emulator process" in killed["message"], killed
    assert cases["test_2_never_runs"]["verdict"] == "not-run"
    assert data["incomplete"]["kind"] == "rig-broken", data["incomplete"]
    assert (project / "reports" / "matrix.html").exists() and (project / "reports" / "junit.xml").exists()
