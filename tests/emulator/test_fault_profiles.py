"""Proof the suite catches faults (issue "The conformance suites"): against each deliberately
faulty firmware profile of the emulator, the expected cases fail, and only those.

CI runs each profile against the suite modules that hold its expected failures (every other case
there must pass); BC660K_PROOF_FULL=1 (`make proof`) runs the whole suite for each profile."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from fault_expectations import EXPECTED
from run_project import ROOT, run

from harness.emulator import profiles

FULL = os.environ.get("BC660K_PROOF_FULL") == "1"


def matches(nodeid: str, pattern: str) -> bool:
    """`*` is the only wildcard: brackets in node ids are parametrizations, not character classes."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), nodeid) is not None


def test_every_faulty_profile_has_expectations():
    """The built-in faults and the profiles shipped as files (a firmware observed in the wild)."""
    assert sorted(EXPECTED) == sorted([p.name for p in profiles.faulty()] + list(profiles.shipped()))


def run_suite(profile: str, out: Path, modules: tuple[str, ...], strict: bool = False) -> dict:
    """`modules` (the whole suite with BC660K_PROOF_FULL=1) on firmware `profile`, reports in `out`:
    its record."""
    proc = run(ROOT, *(["suites"] if FULL else modules), "-q", f"--report-dir={out}", "--firmware", profile,
               *(["--strict"] if strict else []), timeout=900)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "record.json").read_text())


RUNS = [(p, False) for p in sorted(EXPECTED)] + [(p, True) for p in sorted(EXPECTED) if EXPECTED[p].strict_fails]


@pytest.mark.parametrize(("profile", "strict"), RUNS, ids=[p + ("-strict" if s else "") for p, s in RUNS])
def test_suite_fails_exactly_the_expected_cases(profile, strict, tmp_path):
    """Without --strict a profile fails `fails` only (a deviation from the plain reading is flagged,
    not failed); with --strict it fails `fails` and `strict_fails`."""
    expect = EXPECTED[profile]
    record = run_suite(profile, tmp_path, expect.modules, strict)
    failed = sorted(c["nodeid"] for c in record["cases"] if c["verdict"] in ("failed", "error"))
    assert record["summary"]["passed"] > 0
    patterns = expect.fails + (expect.strict_fails if strict else ())
    unexpected = [n for n in failed if not any(matches(n, pat) for pat in patterns)]
    missed = [pat for pat in patterns if not any(matches(n, pat) for n in failed)]
    why = {c["nodeid"]: c.get("message", "") for c in record["cases"]}
    assert not unexpected, (f"{profile}: cases failed that do not check the fault ({expect.why}): "
                            + "; ".join(f"{n}: {why[n]}" for n in unexpected))
    assert not missed, f"{profile}: the suite did not catch the fault ({expect.why}) in: {missed}"
