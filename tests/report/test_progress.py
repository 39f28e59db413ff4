"""The progress line's estimate (harness/report/progress.py), on an injected clock."""

from __future__ import annotations

import json
from pathlib import Path

from harness.report.progress import Progress, last_durations


def test_estimate_follows_the_last_run_scaled_by_this_runs_pace() -> None:
    # the last run: one slow case (a keep-alive wait) among quick ones
    expected = {"a": 1.0, "b": 1.0, "slow": 100.0, "c": 1.0}
    p = Progress(["a", "b", "slow", "c"], every_s=0, now=0.0, expected=expected)
    assert p.step("a", "3.3.1", now=2.0) is not None  # twice as slow as last time
    assert p.left(2.0) == (1.0 + 100.0 + 1.0) * 2.0  # not 3 x the 2 s average so far
    p.step("b", "3.3.1", now=4.0)
    assert p.left(4.0) == (100.0 + 1.0) * 2.0


def test_cases_the_last_run_did_not_have_count_at_this_runs_average_for_such_cases() -> None:
    p = Progress(["known", "new1", "new2", "new3"], every_s=0, now=0.0, expected={"known": 10.0})
    p.step("new1", "", now=3.0)
    assert p.left(3.0) == 10.0 * 1.0 + 2 * 3.0  # no known case done yet: the last run's time as is
    p.step("known", "", now=23.0)  # took 20 s, last time 10 s
    assert p.left(23.0) == 2 * 3.0


def test_without_a_last_run_it_is_the_average_so_far_and_the_ratio_is_bounded() -> None:
    p = Progress(["a", "b", "c"], every_s=0, now=0.0)
    line = p.step("a", "5.1", now=10.0)
    assert line is not None and "1/3 cases, section 5.1, elapsed 0:10, about 0:20 left; last: a" in line
    q = Progress(["x", "y"], every_s=0, now=0.0, expected={"x": 0.001, "y": 1.0})
    q.step("x", "", now=5.0)  # 5000 x slower: another rig, not a pace to extrapolate
    assert q.left(5.0) == 1.0 * 4.0


def test_lines_are_rate_limited_and_none_after_the_last_case() -> None:
    p = Progress(["a", "b", "c"], every_s=15.0, now=0.0)
    assert p.step("a", "", now=1.0) is None
    assert p.step("b", "", now=20.0) is not None
    assert p.step("c", "", now=40.0) is None  # the summary line follows anyway


def test_last_durations_reads_a_record_and_shrugs_off_a_damaged_one(tmp_path: Path) -> None:
    good = tmp_path / "record.json"
    good.write_text(json.dumps({"cases": [{"nodeid": "s::a", "duration_s": 1.5}, {"nodeid": "s::b"}]}))
    assert last_durations(good) == {"s::a": 1.5, "s::b": 0.0}
    bad = tmp_path / "bad.json"
    bad.write_text("{no")
    assert last_durations(bad) == {} and last_durations(tmp_path / "missing.json") == {}
