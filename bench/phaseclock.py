"""A pytest plugin that times a run's phases, loaded into the suite runs as `-p bench.phaseclock`.

Why: a wall time alone says how long the suite took, not where the harness spends the time the
note does not make it wait. With the case phases (setup = fixtures, mostly the known-state reset;
call = the case; teardown) and the gaps around them (start-up before the first case, pytest's own
bookkeeping between cases, report writing after the last) summed per run, the bench solves each
part for its fixed and its time-scaled share (bench/suite.py).

Writes one JSON object to the file named by $BENCH_PHASECLOCK when pytest unconfigures; wall-clock
times (time.time()) so that the parent process can put its own start and end beside them. Does
nothing without that variable, and never changes a verdict.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest

_ENV = "BENCH_PHASECLOCK"
_clock: dict[str, Any] = {"setup": 0.0, "call": 0.0, "teardown": 0.0, "cases": 0, "gaps": 0.0, "per_case": {}}


def _timed(phase: str, nodeid: str) -> Generator[None, Any, None]:
    t0 = time.time()
    if "first_start" not in _clock:
        _clock["first_start"] = t0
    last_end = _clock.get("last_end")
    if phase == "setup" and last_end is not None:
        _clock["gaps"] += t0 - last_end  # pytest between one case's teardown and the next setup
    try:
        yield
    finally:
        t1 = time.time()
        _clock[phase] += t1 - t0
        _clock["per_case"].setdefault(nodeid, [0.0, 0.0, 0.0])[("setup", "call", "teardown").index(phase)] = t1 - t0
        if phase == "setup":
            _clock["cases"] += 1
            _clock.setdefault("first_setup_s", t1 - t0)  # the session's bring-up lands in the first setup
        elif phase == "teardown":
            _clock["last_end"] = t1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, None]:
    yield from _timed("setup", item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    yield from _timed("call", item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, Any, None]:
    yield from _timed("teardown", item.nodeid)


def pytest_configure(config: pytest.Config) -> None:
    _clock["configure"] = time.time()


def pytest_collection_finish(session: pytest.Session) -> None:
    _clock["collected"] = time.time()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.get(_ENV)
    if not path:
        return
    _clock["unconfigure"] = time.time()
    with open(path, "w", encoding="utf-8") as f:
        json.dump(_clock, f)
