"""One run at a time per report directory. Two runs writing the same reports/ would clean each
other's Allure results and interleave record, matrix and history; the second run stops at once
with one line instead. flock(2): the lock goes with the process, so a crashed run leaves none."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_NAME = ".run.lock"


class ReportDirBusy(Exception):
    """str() is one line: the directory, the other run's pid, what to do."""


def hold(directory: Path) -> IO[str]:
    """Lock `directory` for this process; keep the returned file open for as long as the run."""
    directory.mkdir(parents=True, exist_ok=True)
    f = open(directory / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 (held for the run)
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        other = f.read().strip() or "?"
        f.close()
        raise ReportDirBusy(f"{directory}: another run (pid {other}) is writing this report directory; "
                            "wait for it, or give this run its own with --report-dir DIR") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def release(f: IO[str]) -> None:
    fcntl.flock(f, fcntl.LOCK_UN)
    f.close()
