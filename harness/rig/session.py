"""Bringing a rig up, without pytest: the emulator (when the rig runs one), the port, the relay
and who answers on it. The suite's fixtures, the doctor, the benchmarks and the harness's own
tests all open the DUT through these functions, so none of them can drift from what a
qualification run does (model: labgrid's Environment, Zephyr twister's adapter factory).

Every failure is one `RigFault` whose `status` is the exit status the contract gives it
(harness/rig/exits.py): 3 the DUT or a part of the rig is unreachable, 4 the rig file or an
option is wrong. Whatever was started before the failure is released before it is raised.

Power control of the default rig: with ``dut.kind: emulator`` and ``relay.kind: none`` (or
``emulated`` without a device) the emulator is started with its control socket and driven
through the ``emulated`` relay: on the desk that socket *is* the module's VBAT and RESET_N.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from harness.at import ATChannel, Transcript
from harness.emulator.launcher import EmulatorProcess, LaunchError
from harness.rig.exits import RIG_BROKEN, USAGE, Exit
from harness.rig.identity import Identity
from harness.rig.ladder import Ladder, LadderError, rig_relay, uses_emulator_control
from harness.rig.reach import BadPort, Unreachable, doctor_command, greet, open_channel, resolve_url
from harness.rig.relay import Relay, RelayError
from harness.rig.schema import RigConfig


class RigFault(Exception):
    """One line saying which part failed, and the exit status that failure means."""

    def __init__(self, message: str, status: Exit) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Dut:
    url: str  # what the channel has open now
    channel: ATChannel  # replaced when the recovery ladder reopens the port
    identity: Identity  # who answered at session start: the ladder checks it is still the same module
    time_scale: float
    emulator: EmulatorProcess | None
    port: str = ""  # the rig's port as written (path, usb://VID:PID[/SERIAL], URL): reopened by it
    relay: Relay | None = None
    baud: int = 115200

    def describe(self) -> str:
        return f"{self.identity.model} {self.identity.imei} at {self.url}"

    def facts(self) -> dict[str, str]:
        """What every report's header says about the DUT."""
        return {**self.identity.facts(), "DUT URL": self.url, "Relay": self.relay.kind if self.relay else "none"}

    def close(self) -> None:
        release(self.channel, self.relay, self.emulator)


def start_emulator(rig: RigConfig, log_dir: Path | None = None) -> EmulatorProcess:
    """The emulator the rig describes; its log in `log_dir` (beside the run's reports) or, for
    runs that write no reports, a temporary file."""
    try:
        return EmulatorProcess.start(transport=rig.dut.transport or "tcp", time_scale=rig.dut.time_scale,
                                     firmware=rig.dut.firmware or "conformant", baud=rig.dut.baud,
                                     log_path=log_dir / "emulator.log" if log_dir else None,
                                     control=uses_emulator_control(rig))
    except LaunchError as exc:
        raise RigFault(f"emulator: {exc}", RIG_BROKEN) from None


def open_port(rig: RigConfig, emulator: EmulatorProcess | None, transcript: Transcript) -> ATChannel:
    """The DUT's port as a channel: the emulator's URL, or dut.port (a usb:// identity resolved)."""
    try:
        url = emulator.url if emulator else resolve_url(rig)
        return open_channel(rig, url, transcript)
    except BadPort as exc:
        raise RigFault(str(exc), USAGE) from None
    except Unreachable as exc:
        raise RigFault(str(exc), RIG_BROKEN) from None


def open_relay(rig: RigConfig, emulator: EmulatorProcess | None) -> Relay | None:
    try:
        return rig_relay(rig, str(emulator.control) if emulator and emulator.control else None)
    except RelayError as exc:
        raise RigFault(f"{rig.origin('relay')}: {exc}", RIG_BROKEN) from None


def identify(channel: ATChannel, **greeting: float) -> Identity:
    """AT until OK, then ATI/AT+CGMR/AT+CGSN; silence, garbage and a foreign answer differ."""
    try:
        return greet(channel, **greeting)  # type: ignore[arg-type]
    except Unreachable as exc:
        raise RigFault(str(exc), RIG_BROKEN) from None


def open_dut(rig: RigConfig, *, log_dir: Path | None = None, transcript: Transcript | None = None) -> Dut:
    """The whole bring-up of a session's DUT; on a RigFault nothing started stays running, and a
    DUT that cannot be reached names the doctor's command for this rig."""
    emulator = start_emulator(rig, log_dir) if rig.dut.kind == "emulator" else None
    relay: Relay | None = None
    channel: ATChannel | None = None
    try:
        relay = open_relay(rig, emulator)
        channel = open_port(rig, emulator, transcript or Transcript(secrets=rig.secrets()))
        identity = identify(channel)
    except RigFault as exc:
        release(channel, relay, emulator)
        hint = f"; check the rig: {doctor_command(rig)}" if exc.status == RIG_BROKEN else ""
        raise RigFault(f"{exc}{hint}", exc.status) from None
    except BaseException:
        release(channel, relay, emulator)
        raise
    return Dut(channel.url, channel, identity, rig.dut.time_scale, emulator,
               emulator.url if emulator else str(rig.dut.port), relay, rig.dut.baud)


def release(channel: ATChannel | None, relay: Relay | None, emulator: EmulatorProcess | None) -> None:
    """Close the channel, the relay and stop the emulator: each one even when releasing an earlier
    one raised or was interrupted (a Ctrl-C landing in channel.close() must not orphan the
    emulator); the first exception goes on once all three are released."""
    with contextlib.ExitStack() as stack:
        if emulator is not None:
            stack.callback(emulator.stop)
        if relay is not None:
            stack.callback(relay.close)
        if channel is not None:
            stack.callback(channel.close)


def recover(dut: Dut, log: Transcript) -> Identity:
    """Climb the recovery ladder (harness/rig/ladder.py), logging each rung into ``log``;
    the Dut's channel and url follow a reopened port. LadderError says why it failed."""
    dut.channel.transcript = log
    ladder = Ladder(dut.channel, dut.port or dut.url, log, relay=dut.relay, expected=dut.identity,
                    time_scale=dut.time_scale, baud=dut.baud)
    try:
        return ladder.climb()
    except LadderError as exc:
        emu = dut.emulator
        if emu is not None and not emu.alive():
            raise LadderError(f"{exc}; the emulator process has exited (status {emu.proc.returncode})") from None
        raise
    finally:
        dut.channel, dut.url = ladder.channel, ladder.channel.url
