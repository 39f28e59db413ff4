"""One run at a time per report directory. Two runs writing the same reports/ would clean each
other's Allure results and interleave record, matrix and history; the second run stops at once
with one line instead. flock(2) on the directory itself: the lock goes with the process, so a
crashed run leaves none, and taking it writes nothing into the directory (a run that stops at
start-up must leave the previous run's reports byte for byte as they were)."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path


class ReportDirBusy(Exception):
    """str() is one line: the directory, the other run's pid, what to do."""


@dataclass
class Held:
    directory: Path
    fd: int


def hold(directory: Path) -> Held:
    """Lock `directory` for this process; keep the returned handle until the run ends."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ReportDirBusy(f"{directory}: another run (pid {holder(directory)}) is writing this report directory; "
                            "wait for it, or give this run its own with --report-dir DIR") from None
    return Held(directory, fd)


def release(held: Held) -> None:
    fcntl.flock(held.fd, fcntl.LOCK_UN)
    os.close(held.fd)


def holder(directory: Path) -> str:
    """The pid holding the flock on `directory`, from /proc/locks (Linux); "?" elsewhere."""
    try:
        st = os.stat(directory)
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return "?"
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        parts = line.split()
        if len(parts) > 5 and parts[1] == "FLOCK" and parts[5] == dev:
            return parts[4]
    return "?"
