"""A run that is cut short says so and loses nothing (issue 11, item 2): real conformance runs
against the real emulator, stopped by SIGINT and SIGTERM (to pytest alone and to its whole
process group), by -x, by pytest.exit and by a crash of a plugin. Each must leave every report,
a record that says "incomplete" with the reason and the case it stopped in, the case that was
running as interrupted (never passed), the rest as not-run, and no process or temporary
directory behind it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from run_project import case_module, make_project, passes, record, run, start

pytestmark = pytest.mark.timeout(120)

CASES = case_module(passes("test_1_pass"), passes("test_2_pass", "ATI"), '''def test_3_blocks(modem):
    assert modem.command("AT").ok
    Path(os.environ["CUT_SHORT_MARKER"]).write_text("running")
    threading.Event().wait(60)  # the signal lands here
''', passes("test_4_never_starts"), imports="import os\nimport threading\nfrom pathlib import Path\n")

STOPS = case_module(passes("test_1_pass"), '''def test_2_stops(modem, request):
    if request.config.getoption("--maxfail"):
        assert modem.command("AT").final == "ERROR", "the DUT answered OK"
    pytest.exit("the operator stopped the run", returncode=2)
''', passes("test_3_never_starts"))

CRASHING_PLUGIN = '''
def pytest_runtest_logreport(report):
    if report.when == "setup" and report.nodeid.endswith("test_2_stops"):
        raise RuntimeError("a plugin bug")
'''


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (ppid is field 4 of /proc/N/stat)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.05)


def _temp_dirs(pids: set[int]) -> set[Path]:
    """The temporary directories named on these processes' command lines (the emulator's
    control socket lives in one): other runs on the machine have their own."""
    found = set()
    for pid in pids:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        found |= {Path(a.decode()).parent for a in args if a.startswith(b"/tmp/bc660k-")}
    return found


def _all_reports_written(reports: Path) -> None:
    for name in ("html/index.html", "junit.xml", "record.json", "matrix.html", "emulator.log"):
        assert (reports / name).is_file(), f"{name} missing after the run was cut short"
    assert list((reports / "allure-results").glob("*-result.json")), "no Allure results"
    assert "INCOMPLETE" in (reports / "matrix.html").read_text()
    assert "CONFORMS" not in (reports / "matrix.html").read_text().replace("DOES NOT CONFORM", "")
    assert not list(reports.glob(".staging-*")), "the staging directory was left behind"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("target", ["pytest", "group"])
def test_signal_mid_case_writes_every_report_and_leaves_nothing(tmp_path: Path, sig: signal.Signals,
                                                                target: str) -> None:
    project = make_project(tmp_path, {"test_cut.py": CASES})
    marker = tmp_path / "marker"
    proc = start(project, "-q", extra_env={"CUT_SHORT_MARKER": str(marker)}, start_new_session=True)
    try:
        _wait_for(marker.exists, 60, "the third case to start")
        helpers = _descendants(proc.pid)
        temp_dirs = _temp_dirs(helpers)
        assert helpers and temp_dirs, "the run started no emulator with a control socket?"
        os.killpg(proc.pid, sig) if target == "group" else proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 2, out[-3000:]
    reports = project / "reports"
    _all_reports_written(reports)
    data, cases = record(reports)
    name = sig.name
    assert data["complete"] is False, data["incomplete"]
    assert data["incomplete"]["kind"] == "signal" and name in data["incomplete"]["reason"], data["incomplete"]
    assert data["incomplete"]["at"].endswith("test_3_blocks"), data["incomplete"]
    assert [c["verdict"] for c in cases.values()] == ["passed", "passed", "interrupted", "not-run"]
    assert data["summary"]["passed"] == 2 and data["summary"]["interrupted"] == 1
    _wait_for(lambda: not any(_alive(p) for p in helpers), 10, f"helpers {helpers} to exit")
    assert not [d for d in temp_dirs if d.exists()], f"temporary directories left: {temp_dirs}"


def test_maxfail_stops_and_says_so(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"test_stops.py": STOPS})
    proc = run(project, "-q", "-x", timeout=90)
    assert proc.returncode == 1, proc.stdout[-3000:]
    reports = project / "reports"
    _all_reports_written(reports)
    data, cases = record(reports)
    assert data["incomplete"]["kind"] == "maxfail" and data["incomplete"]["at"].endswith("test_2_stops")
    assert [c["verdict"] for c in cases.values()] == ["passed", "failed", "not-run"]
    assert cases["test_2_stops"]["message"].startswith("AssertionError: the DUT answered OK\nassert 'OK' == 'ERROR'")


def test_pytest_exit_stops_and_says_so(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"test_stops.py": STOPS})
    proc = run(project, "-q", timeout=90)
    assert proc.returncode == 2, proc.stdout[-3000:]
    reports = project / "reports"
    _all_reports_written(reports)
    data, cases = record(reports)
    assert data["incomplete"]["kind"] == "exit", data["incomplete"]
    assert "the operator stopped the run" in data["incomplete"]["reason"]
    assert [c["verdict"] for c in cases.values()] == ["passed", "interrupted", "not-run"]


def test_a_crashing_plugin_still_leaves_every_report(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"test_stops.py": STOPS})
    (project / "conftest.py").write_text(CRASHING_PLUGIN)
    proc = run(project, "-q", timeout=90)
    assert "INTERNALERROR" in proc.stdout + proc.stderr and proc.returncode == 3, proc.stdout[-3000:]
    reports = project / "reports"
    _all_reports_written(reports)
    data, cases = record(reports)
    assert data["incomplete"]["kind"] == "crash" and "a plugin bug" in data["incomplete"]["reason"]
    assert cases["test_1_pass"]["verdict"] == "passed"
    assert cases["test_2_stops"]["verdict"] == "interrupted"
    assert "Traceback" not in proc.stderr
