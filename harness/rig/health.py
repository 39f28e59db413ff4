"""Is the rig still whole? Asked when a case has failed, before its failure is taken as the
firmware's: a DUT whose emulator process died or was stopped, or that no longer answers AT, did
not fail the case by nonconformance, so the case is an error with "rig fault" (issue 19), the
recovery ladder runs at once, and the next case starts from a working rig.

Only what can be observed without changing the DUT's state more than a failed case already has:
the emulator process (alive, not stopped), one resync (AT, OK) on the channel, and the broker
accepting a TCP connection (a dead broker fails every later case that dials it, and no rung of
the ladder, which only touches the DUT, brings it back: the run stops as rig broken, unless the rig
file's broker.restart lets the harness start it again), and the fault proxy between the DUT and
the broker still running (a stopped proxy refuses the DUT's AT+QMTOPEN like a dead broker would)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from harness.at import ATError
from harness.rig.session import Dut
from harness.spec.timing import deadline_s


def process_state(pid: int) -> str:
    """The one-letter state of /proc/PID/stat ("R", "S", "T" stopped, "Z" zombie); "" if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


@dataclass(frozen=True)
class RigFault:
    why: str
    # why the recovery ladder cannot help ("" when it can: a hung or unreachable DUT); a dead or
    # stopped emulator process or a dead broker it cannot: its rungs reset and power the DUT only
    no_ladder: str = ""
    # what already brought the rig back without the ladder ("" when nothing did): the broker
    # restarted as the rig file's broker.restart says
    repaired: str = ""

    @property
    def recoverable(self) -> bool:
        return not self.no_ladder


_NO_PROCESS_RUNG = "no rung restarts an emulator process"


def rig_fault(dut: Dut) -> RigFault | None:
    """Why the rig, not the firmware, is at fault; None when the rig looks whole."""
    emu = dut.emulator
    if emu is not None:
        if not emu.alive():
            return RigFault(f"the emulator process has exited (status {emu.proc.returncode})", _NO_PROCESS_RUNG)
        if process_state(emu.proc.pid) in ("T", "t"):
            return RigFault(f"the emulator process (pid {emu.proc.pid}) is stopped (SIGSTOP or a debugger)",
                            _NO_PROCESS_RUNG)
    try:
        answers = dut.channel.resync(attempts=2, timeout=deadline_s("AT", dut.time_scale))
    except ATError as exc:
        return RigFault(f"the DUT's port failed: {exc}")
    if not answers:
        return RigFault(f"the DUT at {dut.url} no longer answers AT")
    return None


def broker_fault(kind: str, host: str, port: int, timeout: float = 2.0) -> RigFault | None:
    """The rig's broker no longer accepts a TCP connection (killed, crashed, its host gone)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return RigFault(f"the broker ({kind}) at {host}:{port} does not accept connections "
                        f"({exc.strerror or exc})", "no rung restarts the broker")


def proxy_fault(running: bool, where: str) -> RigFault | None:
    """The fault proxy (harness/proxy) at `where` has stopped: its loop thread ended or it was
    stopped. Asked of its state (`running`), not by dialling it: a case may have told it to refuse
    connections, a fault the case injected, not a dead rig; and a test connection would show in
    the wire log."""
    if running:
        return None
    return RigFault(f"the fault proxy at {where} is not running (stopped, or its thread ended)",
                    "no rung restarts the fault proxy")
