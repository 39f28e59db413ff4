"""No emulator, mosquitto or temporary directory outlives the run that started it (issue 11,
"A run that is cut short ... loses nothing"): whatever ends the harness process (SIGKILL, a
normal exit without stop(), an interrupt inside a release path, a terminal's Ctrl-C to the
process group), its children go with it. Real processes throughout; every wait is a poll with a
deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.at import ATChannel
from harness.broker.mosquitto import MosquittoBroker, missing_reason
from harness.emulator.launcher import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 10.0  # a child's SIGTERM handling (the emulator's asyncio shutdown) fits well within this
pytestmark = pytest.mark.timeout(120)


def gone(pid: int) -> bool:
    """The process has exited: no such pid, or a zombie nobody reaped yet (in a container, pid 1
    may never reap the orphans it inherits)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_for(condition: Callable[[], bool], deadline_s: float = DEADLINE_S) -> bool:
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)  # poll interval; the deadline above is the assertion
    return True


def kill_if_alive(pid: int) -> None:
    """A test that failed must not leave the orphan it found behind."""
    if not gone(pid):
        os.kill(pid, signal.SIGKILL)


class Child:
    """A harness-like Python process running `parts` (each dedented), which print one JSON line of facts."""

    def __init__(self, *parts: str, **popen: object) -> None:
        code = "\n".join(["import json, sys, time", *(textwrap.dedent(p) for p in parts)])
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     **popen)  # type: ignore[call-overload]
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            self.proc.kill()
            raise AssertionError(f"the child printed nothing: {self.proc.communicate(timeout=30)[1][-2000:]}")
        self.facts = json.loads(line)

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def finish(self) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=DEADLINE_S * 3)
        return self.proc.returncode, err

    def close(self) -> None:
        """Whatever the test found: the child itself is not left running either."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=DEADLINE_S)


def harness_ends(child: Child, end: Callable[[Child], None], what: str, how: str) -> None:
    """`end` ends the harness `child`; the process it started (its facts' pid) must go with it.
    Neither is left running, whatever the test found."""
    pid = child.facts["pid"]
    try:
        end(child)
        assert wait_for(lambda: gone(pid)), f"{what} {pid} outlived {how}"
    finally:
        child.close()
        kill_if_alive(pid)


def sigkill(child: Child) -> None:
    child.proc.send_signal(signal.SIGKILL)
    child.finish()


def normal_exit(child: Child) -> None:
    code, err = child.finish()
    assert code == 0, err


EMULATOR_CHILD = """
    from harness.emulator.launcher import EmulatorProcess
    emu = EmulatorProcess.start(time_scale=0.1, control=True)
    print(json.dumps({"pid": emu.proc.pid, "dir": str(emu.control.parent), "log": str(emu.log_path),
                      "url": emu.url}), flush=True)
"""


def test_emulator_dies_with_a_sigkilled_harness_and_the_next_launch_removes_its_directory(tmp_path: Path) -> None:
    child = Child(EMULATOR_CHILD, "time.sleep(600)")
    pid, ctl = child.facts["pid"], Path(child.facts["dir"])

    def running_then_sigkill(child: Child) -> None:
        assert not gone(pid) and ctl.is_dir()
        sigkill(child)

    harness_ends(child, running_then_sigkill, "emulator", "its SIGKILLed harness")
    # Nobody can remove a directory when its owner is SIGKILLed: the next launch removes it, as its
    # owner (the pid written in it) is dead.
    assert ctl.is_dir()
    emu = EmulatorProcess.start(time_scale=0.1, log_path=tmp_path / "emu.log")
    try:
        assert not ctl.exists(), f"{ctl} of a dead harness is still there after the next launch"
    finally:
        emu.stop()


def test_a_live_runs_directory_is_left_alone_by_the_next_launch(tmp_path: Path) -> None:
    child = Child(EMULATOR_CHILD, "sys.stdin.readline()\nemu.stop()")
    ctl = Path(child.facts["dir"])
    try:
        EmulatorProcess.start(time_scale=0.1, log_path=tmp_path / "emu.log").stop()
        assert ctl.is_dir() and (ctl / "control.sock").exists()  # its owner still runs
        child.proc.stdin.write("\n")  # type: ignore[union-attr]
        child.proc.stdin.flush()  # type: ignore[union-attr]
        assert child.finish()[0] == 0
    finally:
        child.close()
    assert not ctl.exists()


def test_emulator_is_stopped_at_a_normal_exit_without_stop() -> None:
    """The harness forgot stop() (or an exception skipped it): the exit hook stops the emulator
    and removes its control directory and its temporary log."""
    child = Child(EMULATOR_CHILD)  # prints and returns: a normal interpreter exit
    ctl, log = Path(child.facts["dir"]), Path(child.facts["log"])
    harness_ends(child, normal_exit, "emulator", "the harness's normal exit")
    assert not ctl.exists() and not log.exists()


def test_ctrl_c_to_the_process_group_leaves_the_emulator_to_the_harness() -> None:
    """A terminal's Ctrl-C reaches every process of the foreground group at once. The emulator is
    in a session of its own, so it keeps answering until the harness, handling KeyboardInterrupt,
    stops it in order (a half-stopped emulator would fail the cases' teardown instead)."""
    child = Child("""
    from harness.emulator.launcher import EmulatorProcess
    emu = EmulatorProcess.start(time_scale=0.1)
    try:
        print(json.dumps({"pid": emu.proc.pid, "url": emu.url}), flush=True)
        time.sleep(600)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.stdin.readline()
        emu.stop()
    """, start_new_session=True)  # its own group, so the test can signal the group without itself
    pid = child.facts["pid"]
    try:
        os.killpg(child.proc.pid, signal.SIGINT)
        assert child.line() == "interrupted", child.finish()[1][-2000:]
        with ATChannel(child.facts["url"], time_scale=0.1) as ch:
            assert ch.command("AT").ok  # still serving: the group's SIGINT did not reach it
        child.proc.stdin.write("\n")  # type: ignore[union-attr]
        child.proc.stdin.flush()  # type: ignore[union-attr]
        assert child.finish()[0] == 0
        assert wait_for(lambda: gone(pid))
    finally:
        child.close()
        kill_if_alive(pid)


def test_release_stops_the_emulator_when_closing_the_channel_is_interrupted() -> None:
    from harness.rig.session import release as _release

    class InterruptedClose(ATChannel):
        def close(self) -> None:
            super().close()
            raise KeyboardInterrupt  # the Ctrl-C lands inside channel.close()

    emu = EmulatorProcess.start(time_scale=0.1, control=True)
    ctl = emu.control.parent if emu.control else None
    try:
        channel = InterruptedClose(emu.url, time_scale=0.1)
        with pytest.raises(KeyboardInterrupt):
            _release(channel, None, emu)
        assert not emu.alive() and ctl is not None and not ctl.exists()
    finally:
        emu.stop()


MOSQUITTO_CHILD = """
    from harness.broker.mosquitto import MosquittoBroker
    broker = MosquittoBroker().start()
    print(json.dumps({"pid": broker._process.pid, "dir": str(broker.log_path.parent)}), flush=True)
"""


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_mosquitto_dies_with_a_sigkilled_harness_and_the_next_start_removes_its_directory() -> None:
    child = Child(MOSQUITTO_CHILD, "time.sleep(600)")
    work = Path(child.facts["dir"])
    harness_ends(child, sigkill, "mosquitto", "its SIGKILLed harness")
    assert work.is_dir()
    with MosquittoBroker():
        assert not work.exists(), f"{work} of a dead harness is still there after the next start"


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_mosquitto_is_stopped_at_a_normal_exit_without_stop() -> None:
    child = Child(MOSQUITTO_CHILD)
    work = Path(child.facts["dir"])
    harness_ends(child, normal_exit, "mosquitto", "the harness's normal exit")
    assert not work.exists()
