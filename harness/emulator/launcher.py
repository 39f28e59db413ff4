"""Start the emulator as a child process and hand back the URL it serves.

The harness talks to the emulator exactly as to a module: over the URL the emulator prints
(DESIGN "Contracts"), so nothing in the suite can lean on emulator internals.

The emulator dies with the run (harness/children.py): it runs in a session of its own (a
terminal's Ctrl-C to the harness's process group does not stop it half-way; the harness stops it),
the kernel SIGTERMs it when the thread that started it ends (so start it from a long-lived thread:
the main thread, as pytest's fixtures and the tests do), and an exit hook stops one that nobody
stopped. Its temporary files (the control socket, its log when no log_path is given) live in one
private directory, ``/tmp/bc660k-ctl-*``, removed when it stops, at exit, or (after a SIGKILL of
the harness, when nothing can remove it) by the next launch, as its owner's pid is dead.
"""

from __future__ import annotations

import functools
import os
import selectors
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import children

ROOT = Path(__file__).resolve().parents[2]
DIR_PREFIX = "bc660k-ctl-"


class LaunchError(Exception):
    """The emulator did not come up; the message is one line with its stderr tail."""


@dataclass
class EmulatorProcess:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    args: list[str] = field(default_factory=list)
    own_log: bool = False  # a temporary log we made (in own_dir): removed on stop
    control: Path | None = None  # the power/reset control socket (control.py), when started with one
    own_dir: Path | None = None  # our private temporary directory (control socket, own log): removed on stop
    _key: int | None = field(default=None, repr=False)  # in the children registry until stopped

    @classmethod
    def start(cls, *, transport: str = "tcp", time_scale: float = 1.0, firmware: str = "conformant",
              baud: int = 115200, timeout: float = 15.0, extra: list[str] | None = None,
              log_path: Path | None = None, control: bool = False,
              control_path: Path | None = None, network: str = "ideal") -> EmulatorProcess:
        """`log_path` receives the emulator's stderr (a file, so a chatty emulator never blocks
        on a full pipe); by default a temporary file. `control` (or a `control_path`) also opens
        the power/reset control socket, by default in a fresh temporary directory. `network` is
        the uplink's profile (a name or a file, --network). Call it from a long-lived thread (the
        module docstring says why)."""
        where = ["--tcp", "127.0.0.1:0"] if transport == "tcp" else ["--pty"]
        own_log = log_path is None
        children.sweep_stale(DIR_PREFIX)  # the directories of SIGKILLed harnesses
        own_dir = children.private_dir(DIR_PREFIX) if own_log or (control and control_path is None) else None
        if control and control_path is None:
            assert own_dir is not None
            control_path = own_dir / "control.sock"
        if control_path is not None:
            where += ["--control", str(control_path)]
        args = [sys.executable, "-m", "harness.emulator", *where, "--time-scale", repr(time_scale),
                "--firmware", firmware, "--baud", str(baud), "--network", network, *(extra or [])]
        if log_path is None:
            assert own_dir is not None
            log_path = own_dir / "emulator.log"
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as log:
                proc = children.popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
        except BaseException:
            _remove_dir(own_dir)
            raise
        key = children.register(functools.partial(_cleanup, proc, log_path, own_dir))
        try:
            url = _first_line(proc, timeout)
        except BaseException:  # an interrupt while it comes up: it goes, with its directory
            _cleanup(proc, log_path, own_dir)
            children.unregister(key)
            raise
        if not url:
            tail = _cleanup(proc, log_path, own_dir)
            children.unregister(key)
            raise LaunchError(f"emulator did not print its URL within {timeout:.0f} s "
                              f"(exit {proc.returncode}): {tail or 'no output'}")
        return cls(url=url, proc=proc, log_path=log_path, args=args, own_log=own_log, control=control_path,
                   own_dir=own_dir, _key=key)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> str:
        """Stop it (SIGTERM, then SIGKILL) and return the tail of its stderr. Idempotent. When it
        is interrupted before the process is gone, the exit hook finishes the job."""
        tail = _cleanup(self.proc, self.log_path, self.own_dir)
        children.unregister(self._key)
        self._key = None
        return tail


def _cleanup(proc: subprocess.Popen[bytes], log_path: Path, own_dir: Path | None) -> str:
    """Stop the process, then remove our directory (and the log in it); the tail of its stderr."""
    tail = _stop(proc, log_path)
    _remove_dir(own_dir)
    return tail


def _remove_dir(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return ""
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                return ""
            buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode(errors="replace").strip()


def _stop(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    children.terminate(proc)
    if proc.stdout:
        proc.stdout.close()
    try:
        err = log_path.read_text(errors="replace")
    except OSError:
        err = ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return " | ".join(lines[-3:])
