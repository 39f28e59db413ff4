"""Start the emulator as a child process and hand back the URL it serves.

The harness talks to the emulator exactly as to a module: over the URL the emulator prints
(DESIGN "Contracts"), so nothing in the suite can lean on emulator internals.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class LaunchError(Exception):
    """The emulator did not come up; the message is one line with its stderr tail."""


@dataclass
class EmulatorProcess:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    args: list[str] = field(default_factory=list)
    own_log: bool = False  # a temporary log we made: removed on stop
    control: Path | None = None  # the power/reset control socket (control.py), when started with one
    own_control_dir: Path | None = None  # a temporary directory we made for it: removed on stop

    @classmethod
    def start(cls, *, transport: str = "tcp", time_scale: float = 1.0, firmware: str = "conformant",
              baud: int = 115200, timeout: float = 15.0, extra: list[str] | None = None,
              log_path: Path | None = None, control: bool = False,
              control_path: Path | None = None) -> EmulatorProcess:
        """`log_path` receives the emulator's stderr (a file, so a chatty emulator never blocks
        on a full pipe); by default a temporary file. `control` (or a `control_path`) also opens
        the power/reset control socket, by default in a fresh temporary directory."""
        where = ["--tcp", "127.0.0.1:0"] if transport == "tcp" else ["--pty"]
        control_dir = None
        if control and control_path is None:
            control_dir = Path(tempfile.mkdtemp(prefix="bc660k-ctl-"))
            control_path = control_dir / "control.sock"
        if control_path is not None:
            where += ["--control", str(control_path)]
        args = [sys.executable, "-m", "harness.emulator", *where, "--time-scale", repr(time_scale),
                "--firmware", firmware, "--baud", str(baud), *(extra or [])]
        own_log = log_path is None
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="bc660k-emulator-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
        url = _first_line(proc, timeout)
        if not url:
            tail = _stop(proc, log_path)
            if own_log:
                log_path.unlink(missing_ok=True)
            _remove_dir(control_dir)
            raise LaunchError(f"emulator did not print its URL within {timeout:.0f} s "
                              f"(exit {proc.returncode}): {tail or 'no output'}")
        return cls(url=url, proc=proc, log_path=log_path, args=args, own_log=own_log, control=control_path,
                   own_control_dir=control_dir)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> str:
        """Stop it (SIGTERM, then SIGKILL) and return the tail of its stderr."""
        tail = _stop(self.proc, self.log_path)
        if self.own_log:
            self.log_path.unlink(missing_ok=True)
        _remove_dir(self.own_control_dir)
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
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout:
        proc.stdout.close()
    try:
        err = log_path.read_text(errors="replace")
    except OSError:
        err = ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return " | ".join(lines[-3:])
