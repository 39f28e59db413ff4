"""A progress line for long runs: which case, which section, elapsed and an estimate of
what is left. Printed at most every `every_s` seconds so it neither floods a CI log nor
breaks pytest's own progress output.

The estimate uses what each case took in the previous run into the same report directory
(its record.json), scaled by how this run compares so far: a rig run is long and uneven
(a keep-alive case waits minutes, a syntax case milliseconds), so an average over the cases
done so far says little about the ones to come. Cases the last run did not have are
counted at this run's average for such cases."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

RATIO_BOUNDS = (0.25, 4.0)  # this run vs the last one: a different rig or time scale, not noise


def _clock(seconds: float) -> str:
    s = int(max(seconds, 0))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def last_durations(record_path: Path) -> dict[str, float]:
    """nodeid -> seconds from a previous record.json; empty when there is none or it is damaged."""
    try:
        data = json.loads(record_path.read_text(encoding="utf-8"))
        found = {c["nodeid"]: float(c.get("duration_s", 0.0)) for c in data.get("cases", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    # an earlier run's damaged figures (Infinity, NaN, negative) are not trusted, only dropped
    return {k: v for k, v in found.items() if math.isfinite(v) and v >= 0}


class Progress:
    def __init__(self, nodeids: Iterable[str], every_s: float = 15.0, now: float | None = None,
                 expected: Mapping[str, float] | None = None) -> None:
        self.remaining = set(nodeids)
        self.total = len(self.remaining)
        self.every_s = every_s
        self.expected = dict(expected or {})
        self.start = time.monotonic() if now is None else now
        self.last = self.start  # last line printed
        self.prev = self.start  # last case finished
        self.done = 0
        self._known_spent = self._known_expected = 0.0  # cases the last run had
        self._new_spent, self._new_done = 0.0, 0  # cases it did not

    def step(self, nodeid: str, section: str, now: float | None = None) -> str | None:
        """Count one finished case; return a line to print when it is time to print one."""
        now = time.monotonic() if now is None else now
        spent, self.prev = now - self.prev, now
        self.done += 1
        self.remaining.discard(nodeid)
        if nodeid in self.expected:
            self._known_spent += spent
            self._known_expected += self.expected[nodeid]
        else:
            self._new_spent += spent
            self._new_done += 1
        if now - self.last < self.every_s or self.done >= self.total:
            return None
        self.last = now
        elapsed = now - self.start
        where = f"section {section}, " if section else ""
        return (f"[progress] {self.done}/{self.total} cases, {where}elapsed {_clock(elapsed)}, "
                f"about {_clock(self.left(elapsed))} left; last: {nodeid}")

    def left(self, elapsed: float) -> float:
        """Seconds still to go: the last run's time for the remaining cases it had, scaled by
        this run's pace on the ones done, plus this run's average for the others."""
        average = elapsed / self.done if self.done else 0.0
        ratio = self._known_spent / self._known_expected if self._known_expected > 0 else 1.0
        ratio = min(max(ratio, RATIO_BOUNDS[0]), RATIO_BOUNDS[1])
        new_average = self._new_spent / self._new_done if self._new_done else average
        known = [self.expected[n] for n in self.remaining if n in self.expected]
        return sum(known) * ratio + (len(self.remaining) - len(known)) * new_average
