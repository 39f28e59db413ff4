"""The one way the harness's tests run pytest in a subprocess: `run` (to the end) and `start` (a
run to signal or wait on), both in a directory of the test's choosing, with the project's
packages importable and no cache written.

Mostly that directory is a throw-away conformance project in a temporary directory (`make_project`):
a rig file (so the product's plugin, loaded through its pytest11 entry point, is active) and case
modules under its own suites/, so a real pytest run of those cases is a conformance run with every
report, against a real emulator, and its reports land in the project (`<project>/reports`), never
in the repository's reports/. A run in the repository itself (`run(ROOT, "suites/...")`) must
name a temporary `--report-dir` (`run` and `start` refuse it otherwise, unless the caller says it
checks where the reports go: a rig file in its tmp dir naming them);
tests/conftest.py fails the session if a run of the harness's tests touched reports/ all the same.

Used by the tests that check what the reports say about a run (verdicts, cut-short runs, rig faults)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EMULATOR_RIG = "dut: {kind: emulator, time_scale: 0.1}\n"


def make_project(tmp: Path, cases: dict[str, str], rig: str = EMULATOR_RIG) -> Path:
    """`cases`: module name -> source, written under tmp/suites/. Returns the project directory."""
    (tmp / "pytest.ini").write_text("[pytest]\ntestpaths = suites\naddopts = -ra --strict-markers\n"
                                    "junit_family = xunit1\njunit_logging = system-out\n")
    (tmp / "rig.yaml").write_text(rig)
    (tmp / "suites").mkdir(exist_ok=True)
    for name, source in cases.items():
        (tmp / "suites" / name).write_text(source)
    return tmp


def case_module(*cases: str, spec: str = "3.1.2", imports: str = "") -> str:
    """A case module's source: `imports`, pytest, the module's spec mark, then `cases` (each a
    function's source, see `passes`)."""
    head = f"{imports}\nimport pytest\n\npytestmark = pytest.mark.spec({spec!r})\n"
    return "\n\n".join([head, *cases])


def passes(name: str, command: str = "AT") -> str:
    """A case that sends `command` and expects OK."""
    return f"def {name}(modem):\n    assert modem.command({command!r}).ok\n"


BROKER_CHILDREN = '''def _broker_children() -> list[int]:
    """The mosquitto processes this pytest started (its children)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, rest = stat.read_text().split(") ", 1)
        except (OSError, ValueError):
            continue
        if comm.endswith("(mosquitto") and int(rest.split()[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found
'''
# what case modules that crash the broker import (BROKER_CHILDREN needs os and Path)
BROKER_CRASH_IMPORTS = ("import os\nimport signal\nfrom pathlib import Path\n\n"
                        "from harness.at.flows import open_connect\n")


def env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The project's packages importable from the temporary directory; `extra` variables on top."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT), **(extra or {})}


def command(*args: str) -> list[str]:
    """The pytest command line for `args`, with no cache written and without hypothesis's plugin:
    the dev extras install it for the fuzz test, no run here uses it, and its terminal summary
    imports all of hypothesis, about 0.7 s of every one of these runs (a lab's venv has no hypothesis)."""
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args]


def _reports_elsewhere(project: Path, args: tuple[str, ...]) -> None:
    """A run in the repository itself names where its reports go (`--report-dir`), never the
    repository's reports/."""
    if Path(project).resolve() == ROOT:
        assert any(a.startswith("--report-dir") for a in args), f"pytest {' '.join(args)}: give --report-dir"


def run(project: Path, *args: str, timeout: float = 120, extra_env: Mapping[str, str] | None = None,
        reports_checked_by_caller: bool = False) -> subprocess.CompletedProcess[str]:
    """pytest `args` in `project`, to the end; stdout and stderr captured apart.

    `reports_checked_by_caller`: a run in the repository without `--report-dir` whose rig file (in
    the test's tmp dir) says where the reports go, or that stops at start-up; the caller checks where
    its reports went, and tests/conftest.py fails the session if reports/ changed all the same."""
    if not reports_checked_by_caller:
        _reports_elsewhere(project, args)
    return subprocess.run(command(*args), cwd=project, env=env(extra_env), capture_output=True, text=True,
                          timeout=timeout)


def start(project: Path, *args: str, extra_env: Mapping[str, str] | None = None,
          **popen: Any) -> subprocess.Popen[str]:
    """pytest `args` in `project`, started: stdout piped with stderr folded in, unless `popen` says
    otherwise (e.g. start_new_session=True, to signal its whole process group)."""
    _reports_elsewhere(project, args)
    return subprocess.Popen(command(*args), cwd=project, env=env(extra_env),  # type: ignore[call-overload]
                            **{"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, **popen})


SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|waived|deselected)")


def summary_counts(stdout: str) -> dict[str, int]:
    """pytest's own closing line ("1 failed, 1 passed, ... in 3.2s") as counts, errors as "error"."""
    line = [ln for ln in stdout.splitlines() if re.search(r" in [0-9.]+s", ln)][-1]
    return {("error" if kind.startswith("error") else kind): int(n) for n, kind in SUMMARY.findall(line)}


def record(reports: Path) -> tuple[dict, dict[str, dict]]:
    """record.json of a run, and its cases by their short name (the node id's last part)."""
    data = json.loads((reports / "record.json").read_text())
    return data, {c["nodeid"].rsplit("::", 1)[1]: c for c in data["cases"]}


def junit_cases(reports: Path) -> dict[str, ET.Element]:
    """junit.xml's <testcase> elements by name."""
    root = ET.parse(reports / "junit.xml").getroot()
    return {c.get("name", ""): c for c in root.iter("testcase")}


@dataclass
class Finished:
    """A project's run that ended with the expected exit status, and what its record says."""

    project: Path
    proc: subprocess.CompletedProcess[str]
    data: dict
    cases: dict[str, dict]

    @property
    def reports(self) -> Path:
        return self.project / "reports"

    def junit(self) -> dict[str, ET.Element]:
        return junit_cases(self.reports)

    def case(self, name: str, verdict: str) -> dict:
        """The case `name`, asserted to have `verdict`."""
        found = self.cases[name]
        assert found["verdict"] == verdict, found
        return found

    def stopped_rig_broken(self, *not_run: str) -> None:
        """The run stopped as rig broken: the `not_run` cases never ran, and pytest's output says so."""
        for name in not_run:
            assert self.cases[name]["verdict"] == "not-run", self.cases[name]
        assert self.data["incomplete"]["kind"] == "rig-broken", self.data["incomplete"]
        assert "RIG BROKEN" in self.proc.stdout


def run_cases(tmp: Path, cases: dict[str, str], *args: str, status: int, rig: str = EMULATOR_RIG) -> Finished:
    """`cases` as a throw-away project run quietly (`args` added); asserts the exit `status`."""
    project = make_project(tmp, cases, rig=rig)
    proc = run(project, "-q", *args)
    assert proc.returncode == status, proc.stdout[-3000:]
    return Finished(project, proc, *record(project / "reports"))
