"""Child processes and temporary directories of the harness (the emulator, mosquitto) die with the
run that made them, however the run ends (issue 11: "no emulator, mosquitto or helper process and
no temporary directory outlives the run").

- ``popen`` starts a child in a session of its own (``start_new_session``): a terminal's Ctrl-C
  goes to the whole foreground process group at once, and a child in that group would be killed
  half-way while the harness, handling KeyboardInterrupt, still needs it for its teardown. The
  harness stops its children itself, in order.
- It also sets PR_SET_PDEATHSIG=SIGTERM in the child (Linux prctl, before exec): when the harness
  dies without running any Python (SIGKILL, a crash, SIGTERM left at its default action), the
  kernel sends the child SIGTERM. The signal fires when the *thread* that started the child ends,
  not only the process: start children from a thread that lives as long as they should (the main
  thread; pytest's fixtures and xdist workers run there), never from a short-lived worker thread.
- ``register`` keeps each live child's stop function; an ``atexit`` hook calls the ones still
  registered when the interpreter exits normally (sys.exit, pytest.exit, an uncaught exception, an
  owner that forgot stop()). Only the process that registered a child stops it (a fork inherits
  the registry, not the child).
- ``private_dir`` makes a temporary directory with its owner's pid and start time written in it.
  Nothing can remove a directory when its owner is SIGKILLed, so every start of a child first
  removes the directories of its prefix whose owner is dead (``sweep_stale``), whether or not it
  makes a directory itself; a directory without an owner file, or whose owner lives, is left alone.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

OWNER_FILE = "owner"
_PR_SET_PDEATHSIG = 1

try:  # resolved here, in the parent: the child between fork and exec only calls it
    _prctl: Any = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: the registry and the sessions still hold
    _prctl = None


def _die_with(parent: int) -> Callable[[], None]:
    def preexec() -> None:  # in the child, between fork and exec
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: no signal will ever come
            os._exit(1)

    return preexec


def popen(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """subprocess.Popen in a session of its own, SIGTERMed by the kernel when the starting thread
    ends (see the module docstring: call it from a long-lived thread)."""
    return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with(os.getpid()), **kwargs)


# -- the registry of live children ------------------------------------------------------------------

_lock = threading.Lock()
_live: dict[int, tuple[int, Callable[[], object]]] = {}  # key -> (registering pid, stop)
_next_key = 0


def terminate(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL and wait again: a child gets the chance to
    close its sockets and flush its log, and a stuck one still ends."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)


def register(stop: Callable[[], object]) -> int:
    """Call `stop` at interpreter exit unless `unregister(key)` came first. `stop` must not hold
    its owner object (a bound method would keep a forgotten object, and its finalizer, alive)."""
    global _next_key
    with _lock:
        _next_key += 1
        _live[_next_key] = (os.getpid(), stop)
        return _next_key


def unregister(key: int | None) -> None:
    if key is not None:
        with _lock:
            _live.pop(key, None)


@atexit.register
def stop_all() -> None:
    """Stop every child still registered by this process, newest first; each one whatever the
    others raise."""
    with _lock:
        mine = [(k, stop) for k, (pid, stop) in _live.items() if pid == os.getpid()]
        for key, _ in mine:
            del _live[key]
    for _, stop in reversed(mine):
        with contextlib.suppress(BaseException):
            stop()


# -- private temporary directories --------------------------------------------------------------------


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), "" if unknown:
    with the pid it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19] if len(fields) > 19 else ""


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive, and not ours to judge
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: kill(0) is all we know
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and (not started or _start_time(pid) == started)


def sweep_stale(prefix: str, root: str | Path | None = None) -> list[Path]:
    """Remove the `prefix`* directories under `root` (the temporary directory) whose owner is
    dead; return them."""
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            pid_text, _, started = (path / OWNER_FILE).read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue  # no owner written (yet, or not ours): left alone
        if not _alive(pid, started):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def private_dir(prefix: str) -> Path:
    """A fresh temporary directory (mode 0700) with this process as its owner (see sweep_stale)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
    return path
