"""A progress line for long runs: which case, which section, elapsed and an estimate of
what is left. Printed at most every `every_s` seconds so it neither floods a CI log nor
breaks pytest's own progress output."""

from __future__ import annotations

import time


def _clock(seconds: float) -> str:
    s = int(max(seconds, 0))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    def __init__(self, total: int, every_s: float = 15.0, now: float | None = None) -> None:
        self.total = total
        self.every_s = every_s
        self.start = time.monotonic() if now is None else now
        self.last = self.start
        self.done = 0

    def step(self, nodeid: str, section: str, now: float | None = None) -> str | None:
        """Count one finished case; return a line to print when it is time to print one."""
        self.done += 1
        now = time.monotonic() if now is None else now
        if now - self.last < self.every_s or self.done >= self.total:
            return None
        self.last = now
        elapsed = now - self.start
        left = elapsed / self.done * (self.total - self.done)
        where = f"section {section}, " if section else ""
        return (f"[progress] {self.done}/{self.total} cases, {where}elapsed {_clock(elapsed)}, "
                f"about {_clock(left)} left; last: {nodeid}")
