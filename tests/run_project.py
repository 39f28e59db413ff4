"""A throw-away conformance project in a temporary directory: the product's plugin and fixtures
(the same list as the root conftest.py), a rig file, and case modules under its own suites/, so a
real pytest run of those cases is a conformance run with every report, against a real emulator.

Used by the tests that check what the reports say about a run (verdicts, cut-short runs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = re.search(r"pytest_plugins = \[(.*?)\]", (ROOT / "conftest.py").read_text(), re.S)


def make_project(tmp: Path, cases: dict[str, str], rig: str = "dut: {kind: emulator, time_scale: 0.1}\n") -> Path:
    """`cases`: module name -> source, written under tmp/suites/. Returns the project directory."""
    assert PLUGINS is not None, "conftest.py lost its pytest_plugins list"
    (tmp / "conftest.py").write_text(f"pytest_plugins = [{PLUGINS.group(1)}]\n")
    (tmp / "pytest.ini").write_text("[pytest]\ntestpaths = suites\naddopts = -ra --strict-markers\n"
                                    "junit_family = xunit1\njunit_logging = system-out\n")
    (tmp / "rig.yaml").write_text(rig)
    (tmp / "suites").mkdir(exist_ok=True)
    for name, source in cases.items():
        (tmp / "suites" / name).write_text(source)
    return tmp


def env() -> dict[str, str]:
    """The project's packages importable from the temporary directory."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]


def run(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=project, env=env(), capture_output=True, text=True, timeout=timeout)


SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|waived|deselected)")


def summary_counts(stdout: str) -> dict[str, int]:
    """pytest's own closing line ("1 failed, 1 passed, ... in 3.2s") as counts, errors as "error"."""
    line = [ln for ln in stdout.splitlines() if re.search(r" in [0-9.]+s", ln)][-1]
    return {("error" if kind.startswith("error") else kind): int(n) for n, kind in SUMMARY.findall(line)}
