"""The "rig broken" state: once the recovery ladder cannot bring the rig back (harness/rig/ladder.py),
no later case runs (each is reported "rig broken: <why>", not run) and the run exits with 3 (README
"Exit status"). The fixtures mark it (`modem`, `broker`, `wire`); these hooks act on it, and attach
the ladder's log to the case that found the rig broken, so every report shows what was tried.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.at import Transcript
from harness.report.attach import attach_junit, attach_text, transcript_html
from harness.rig.exits import RIG_BROKEN as RIG_BROKEN_EXIT

# why the rig broke, and the DUT the rest of the run would have used (for the record)
RIG_BROKEN_KEY = pytest.StashKey[tuple[str, str]]()
LADDER_TITLE = "Recovery ladder"
# the ladder's transcript of a case skipped because the ladder failed (attached by the hook below)
BROKEN_LOG_KEY = pytest.StashKey[Transcript]()
CALL_FAILED_KEY = pytest.StashKey[bool]()  # the case's body failed: is the rig to blame? (teardown asks)



def mark_rig_broken(config: pytest.Config, why: str, dut: Any = None) -> None:
    """From now on every case is skipped as "rig broken: <why>" and the run exits with 3."""
    if RIG_BROKEN_KEY not in config.stash:
        config.stash[RIG_BROKEN_KEY] = (" ".join(why.split()), dut.describe() if dut else "")


def rig_broken(config: pytest.Config) -> str | None:
    found = config.stash.get(RIG_BROKEN_KEY, None)
    return found[0] if found else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Once the rig is broken no case runs: each is reported as not run, with the reason. A case
    that uses the DUT carries the DUT's name, so the record and the matrix list it as skipped."""
    found = item.config.stash.get(RIG_BROKEN_KEY, None)
    if found is None:
        return
    why, who = found
    if who and "dut" in getattr(item, "fixturenames", ()):
        item.user_properties.append(("dut", who))
    pytest.skip(f"rig broken: {why}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    why = rig_broken(session.config)
    if why is None:
        return
    session.exitstatus = RIG_BROKEN_EXIT
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write("\n")
        reporter.write_line(f"RIG BROKEN: {why} (the cases after it were not run; exit status {RIG_BROKEN_EXIT})",
                            red=True, bold=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A case skipped because the ladder failed has no call phase: attach the ladder's log to
    its setup report, so every report format shows what was tried before the rig was declared broken."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[CALL_FAILED_KEY] = report.failed
    log = item.stash.get(BROKEN_LOG_KEY, None)
    if log is not None and report.when == "setup":
        attach_text(report, LADDER_TITLE, log.render(), transcript_html(log.entries, LADDER_TITLE))
    elif log is not None and report.when == "teardown":
        attach_junit(report, LADDER_TITLE, log.render())
