"""The emulator started by hand as a child process (`python -m harness.emulator ...`), for the
tests of its command line and of arguments the launcher does not pass (tests/emulator/)."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time

from harness.emulator.launcher import ROOT


class Child:
    """The emulator started by hand, for arguments the launcher does not pass."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "harness.emulator", *args], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.url = self._line(10.0)

    def _line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf and (left := deadline - time.monotonic()) > 0 and sel.select(left):
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
        sel.close()
        return buf.decode().strip()

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Signal it; return (exit status, the rest of stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out.decode(), err.decode()
