"""What every measure shares: the repository root, the machine, and running pytest as a child.

Why a child process: the suite is measured as a lab runs it (`python -m pytest suites ...`), with
its start-up, its emulator and its report writing; an in-process run would hide all three. While
it runs, a sampler reads the peak RSS (VmHWM) of pytest and of the emulators it started from /proc,
so a memory figure costs no extra run.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")
COUNTED = ("passed", "failed", "skipped", "error", "errors", "xfailed", "xpassed")


def machine() -> dict[str, object]:
    """Cores, CPU model, Python and date: every result file says where it was measured."""
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"host": platform.node(), "cores": os.cpu_count(), "cpu_model": model,
            "python": platform.python_version(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d"), "time": time.strftime("%H:%M:%S"),
            "loadavg_at_start": [round(x, 2) for x in load]}


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size of `pid` so far (kernel-kept, so sampling misses no peak), KiB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _children(pid: int) -> list[int]:
    """Direct children of `pid` (the emulator is one of pytest's: harness/children.popen)."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class PeakSampler:
    """Polls VmHWM of one process and of its emulator children from a thread until stopped."""

    pid: int
    period: float = 0.2
    peak_kib: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> PeakSampler:
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        return {k: round(v / 1024, 1) for k, v in self.peak_kib.items()}  # MiB

    def _note(self, what: str, pid: int) -> None:
        kib = vm_hwm_kib(pid)
        if kib is not None and kib > self.peak_kib.get(what, 0):
            self.peak_kib[what] = kib

    def _run(self) -> None:
        emulators: set[int] = set()
        last_scan = 0.0
        while not self._stop.is_set():  # ends when the run does (stop() after wait())
            now = time.monotonic()
            if now - last_scan >= 1.0:
                emulators |= {c for c in _children(self.pid) if "harness.emulator" in _cmdline(c)}
                last_scan = now
            self._note("pytest", self.pid)
            for c in emulators:
                self._note("emulator", c)
            self._stop.wait(self.period)


@dataclass
class PytestRun:
    """One pytest child: its wall time, its closing counts and, with the phase clock, its phases."""

    args: list[str]
    wall: float
    returncode: int
    counts: dict[str, int]
    last_line: str
    t_invoke: float  # time.time() just before the child was started
    t_exit: float
    cpu_s: float = 0.0  # user+system CPU of pytest and everything it waited for (workers, emulators)
    phases: dict[str, float] = field(default_factory=dict)
    peak_mib: dict[str, float] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        return sum(v for k, v in self.counts.items() if k in COUNTED)


def run_pytest(select: list[str], *, time_scale: float, workers: int | None = None, clock: bool = False,
               sample_memory: bool = False, extra: list[str] | None = None, timeout: float = 900.0) -> PytestRun:
    """`python -m pytest <select> -q` against the emulator, with its own report directory.

    `workers`: None runs without xdist; N passes -n N (each worker starts its own emulator and broker).
    `timeout` bounds the run: a hung suite ends the benchmark with an error instead of never."""
    with tempfile.TemporaryDirectory(prefix="bc660k-bench-") as tmp:
        args = [PYTHON, "-m", "pytest", *select, "-q", "-p", "no:cacheprovider", "--report-dir", f"{tmp}/reports",
                "--time-scale", repr(time_scale), *(extra or [])]
        if workers is not None:
            args += ["-n", str(workers)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        clock_file = Path(tmp) / "phaseclock.json"
        if clock:
            args += ["-p", "bench.phaseclock"]
            env["BENCH_PHASECLOCK"] = str(clock_file)
        out_path = Path(tmp) / "stdout.txt"
        with open(out_path, "wb") as out:
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t_invoke = time.time()
            t0 = time.perf_counter()
            proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            sampler = PeakSampler(proc.pid).start() if sample_memory else None
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"pytest run did not end within {timeout:.0f} s: {' '.join(args)}") from None
            finally:
                peak = sampler.stop() if sampler else {}
            wall = time.perf_counter() - t0
            t_exit = time.time()
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        text = out_path.read_text(errors="replace").strip()
        last = text.splitlines()[-1] if text else "?"
        counts = {m.group(2): int(m.group(1)) for m in SUMMARY.finditer(last)}
        phases = json.loads(clock_file.read_text()) if clock and clock_file.exists() else {}
    run = PytestRun(args=args[1:], wall=wall, returncode=proc.returncode, counts=counts, last_line=last,
                    t_invoke=t_invoke, t_exit=t_exit,
                    cpu_s=(ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime), phases=phases, peak_mib=peak)
    print(f"  pytest {' '.join(select)} s={time_scale:g} n={workers}: {wall:.1f} s ({last})", file=sys.stderr)
    if not run.cases:
        raise RuntimeError(f"pytest ran no case (exit {proc.returncode}): {last}")
    return run
