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

A labgrid place as the rig (``labgrid:`` in the rig file, harness/rig/labgrid.py): the place is
acquired first (waiting while someone else holds it), the port is the place's NetworkSerialPort,
power goes through labgrid (relay.kind labgrid), the port is read again after each power cycle of
the recovery ladder, and the place is released with everything else.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.at import ATChannel, PortOpenError, Transcript
from harness.emulator.launcher import EmulatorProcess, LaunchError
from harness.rig.exits import RIG_BROKEN, USAGE, Exit
from harness.rig.identity import Identity
from harness.rig.labgrid import LabgridError, Place
from harness.rig.ladder import Ladder, LadderError, rig_relay, uses_emulator_control
from harness.rig.reach import BadPort, Unreachable, doctor_command, greet, open_channel, resolve_url
from harness.rig.relay import Relay, RelayError, build_relay
from harness.rig.relay.labgrid_relay import place_device
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
    place: Place | None = None  # a labgrid place the session holds (released by close())
    resolve: Callable[[], str] | None = None  # the port's URL now (a labgrid place's can move)

    def describe(self) -> str:
        return f"{self.identity.model} {self.identity.imei} at {self.url}"

    def facts(self) -> dict[str, str]:
        """What every report's header says about the DUT."""
        facts = {**self.identity.facts(), "DUT URL": self.url, "Relay": self.relay.kind if self.relay else "none"}
        if getattr(self.channel, "opened_as", self.url) != self.url:  # harness/at/port.py: rfc2217 without DTR/RTS
            facts["DUT URL opened as"] = self.channel.opened_as
        if self.place is not None:
            facts["labgrid place"] = f"{self.place.name} at {self.place.coordinator}"
        return facts

    def close(self) -> None:
        release(self.channel, self.relay, self.emulator, self.place)


def start_emulator(rig: RigConfig, log_dir: Path | None = None) -> EmulatorProcess:
    """The emulator the rig describes; its log in `log_dir` (beside the run's reports) or, for
    runs that write no reports, a temporary file."""
    try:
        return EmulatorProcess.start(transport=rig.dut.transport or "tcp", time_scale=rig.dut.time_scale,
                                     firmware=rig.dut.firmware or "conformant", baud=rig.dut.baud,
                                     log_path=log_dir / "emulator.log" if log_dir else None,
                                     control=uses_emulator_control(rig), network=rig.dut.network or "ideal")
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


def acquire_place(rig: RigConfig, notify: Callable[[str], None] | None = None) -> Place:
    """The rig's labgrid place, acquired (waiting up to labgrid.acquire_timeout_s while it is held)."""
    cfg = rig.labgrid
    assert cfg is not None
    place = Place(cfg.coordinator, cfg.place, dict(cfg.reserve or {}), cfg.client, timeout_s=rig.relay.timeout_s)
    try:
        place.acquire(cfg.acquire_timeout_s, notify or _tell)
    except LabgridError as exc:
        place.release()
        raise RigFault(f"{rig.origin('labgrid')}: {exc}", RIG_BROKEN) from None
    except BaseException:
        place.release()
        raise
    return place


def place_url(rig: RigConfig, place: Place) -> str:
    try:
        return place.serial_url()
    except LabgridError as exc:
        raise RigFault(f"{rig.origin('labgrid')}: {exc}", RIG_BROKEN) from None


def open_place_port(rig: RigConfig, place: Place, transcript: Transcript) -> ATChannel:
    """The place's serial port as a channel."""
    url = place_url(rig, place)
    try:
        return ATChannel(url, baud=rig.dut.baud, time_scale=rig.dut.time_scale, transcript=transcript)
    except PortOpenError as exc:
        raise RigFault(f"{place.label}: {exc}", RIG_BROKEN) from None


def place_relay(rig: RigConfig, place: Place) -> Relay:
    assert place.name is not None
    try:
        return build_relay(rig.relay, device=place_device(place.coordinator, place.name))
    except RelayError as exc:
        raise RigFault(f"{rig.origin('labgrid')}: {exc}", RIG_BROKEN) from None


def _tell(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def open_dut(rig: RigConfig, *, log_dir: Path | None = None, transcript: Transcript | None = None,
             notify: Callable[[str], None] | None = None) -> Dut:
    """The whole bring-up of a session's DUT; on a RigFault nothing started stays running, and a
    DUT that cannot be reached names the doctor's command for this rig. ``notify`` hears about a
    wait (a labgrid place held by someone else); default stderr."""
    log = transcript or Transcript(secrets=rig.secrets())
    if rig.dut.kind == "labgrid":
        place = acquire_place(rig, notify)
        relay, channel, identity = _greet(rig, lambda: place_relay(rig, place),
                                          lambda: open_place_port(rig, place, log), None, place)
        return Dut(channel.url, channel, identity, rig.dut.time_scale, None, channel.url, relay, rig.dut.baud,
                   place=place, resolve=place.serial_url)
    emulator = start_emulator(rig, log_dir) if rig.dut.kind == "emulator" else None
    relay, channel, identity = _greet(rig, lambda: open_relay(rig, emulator),
                                      lambda: open_port(rig, emulator, log), emulator, None)
    return Dut(channel.url, channel, identity, rig.dut.time_scale, emulator,
               emulator.url if emulator else str(rig.dut.port), relay, rig.dut.baud)


def _greet(rig: RigConfig, relay_of: Callable[[], Relay | None], channel_of: Callable[[], ATChannel],
           emulator: EmulatorProcess | None, place: Place | None) -> tuple[Relay | None, ATChannel, Identity]:
    """The relay, the port and who answers on it, for whatever the DUT is (the emulator or a device,
    or a labgrid place, already started or acquired): on any failure all of it is released again."""
    relay: Relay | None = None
    channel: ATChannel | None = None
    try:
        relay = relay_of()
        channel = channel_of()
        return relay, channel, identify(channel)
    except RigFault as exc:
        release(channel, relay, emulator, place)
        hint = f"; check the rig: {doctor_command(rig)}" if exc.status == RIG_BROKEN else ""
        raise RigFault(f"{exc}{hint}", exc.status) from None
    except BaseException:
        release(channel, relay, emulator, place)
        raise


def release(channel: ATChannel | None, relay: Relay | None, emulator: EmulatorProcess | None,
            place: Place | None = None) -> None:
    """Close the channel, the relay and stop the emulator, then release the labgrid place: each one
    even when releasing an earlier one raised or was interrupted (a Ctrl-C landing in
    channel.close() must not orphan the emulator or keep the place locked); the first exception
    goes on once all are released."""
    with contextlib.ExitStack() as stack:
        if place is not None:
            stack.callback(place.release)
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
                    time_scale=dut.time_scale, baud=dut.baud, resolve=dut.resolve)
    try:
        return ladder.climb()
    except LadderError as exc:
        emu = dut.emulator
        if emu is not None and not emu.alive():
            raise LadderError(f"{exc}; the emulator process has exited (status {emu.proc.returncode})") from None
        raise
    finally:
        dut.channel, dut.url = ladder.channel, ladder.channel.url
        if dut.resolve is not None:
            dut.port = ladder.port
