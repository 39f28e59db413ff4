"""What a part of the harness leaves behind after it is started and stopped many times (brokers,
observers, loop threads): threads, file descriptors, ResourceWarnings, and whatever else a test
counts. One check for all of them, so each leak test says only what its cycle is."""

from __future__ import annotations

import gc
import os
import threading
import time
import warnings
from collections.abc import Callable

SETTLE_S = 5.0  # real seconds for a peer in this process (an embedded broker) to close its side


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def assert_cycles_leak_nothing(cycle: Callable[[], object], times: int = 50,
                               also: Callable[[], object] | None = None) -> None:
    """Run `cycle` once to warm up (first-use imports and caches are not leaks), then `times`
    times: afterwards the same threads and no more file descriptors than before (waiting up to SETTLE_S
    for sockets another thread of this process is still closing), no warning at all, and the
    same value of `also` (e.g. the set of child processes)."""
    cycle()
    gc.collect()  # what earlier tests left must not be counted against this one
    threads, fds, other = set(threading.enumerate()), fd_count(), also() if also else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(times):
            cycle()
        gc.collect()
    assert not caught, [str(w.message) for w in caught]
    deadline = time.monotonic() + SETTLE_S
    while fd_count() > fds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(threading.enumerate()) == threads
    # fewer is no leak: in a long pytest process something else may close an fd meanwhile
    assert fd_count() <= fds, f"{fd_count() - fds} file descriptors more than before the cycles"
    if also is not None:
        assert also() == other
