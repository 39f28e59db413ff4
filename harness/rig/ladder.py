"""The recovery ladder: bring a DUT that stopped answering back, cheapest step first.

When a case leaves the module hung, in data mode, rebooting or unpowered, the next case must
not be reported as a DUT failure. The ladder climbs, stopping at the first rung after which
the DUT answers ``AT`` with OK:

1. resync: ``AT`` until OK, <ESC> to leave a data mode (3.3.8), flush (ATChannel.resync);
2. software reset: ``AT+QRST=1`` and wait for RDY (typed raw: a hung parser never says OK);
3. reset line: pulse RESET_N through the relay, if the rig has one;
4. power cycle: VBAT off and on through the relay, if the rig has one;
5. reopen the port: close the channel, wait until the port is back (a USB adapter re-enumerates
   after a power cycle), open a new channel.

Then, always, **verify identity**: the module that answers must be the one the session started
with (same IMEI, same firmware revision, AT+CGSN/AT+CGMR). A different one is a rig failure in
its own right: every verdict after it would be about another device.

Every rung and its outcome is a NOTE line in the transcript the caller passes (the case's
setup transcript), so the report shows what was tried. Deadlines: the AT probe from the note's
response times (harness/spec/timing.deadline_s), RDY from timing.boot_deadline_s for AT+QRST,
and the relay's ``boot_s`` for relay rungs when the rig file sets it.

The rungs are a list (RUNGS) of small Rung records: a rig-specific rung is one more entry.
This module knows nothing of pytest: the caller decides what a failed climb means for the run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.at import ATChannel, ATError, ATTimeout, PortOpenError, Transcript
from harness.rig.identity import Identity, IdentityError, read_identity
from harness.rig.port_finder import PortNotFound, wait_for_port
from harness.rig.relay import Relay, RelayError, build_relay
from harness.rig.schema import RigConfig
from harness.spec.timing import boot_deadline_s, deadline_s

RESYNC_ATTEMPTS = 3  # from the second on each starts with <ESC><CR> (ATChannel.resync); 3 for a busy host
REOPEN_POLL_S = 0.05


class LadderError(Exception):
    """The ladder could not bring the DUT back, or another module answered; one line: why."""


class RungFailed(Exception):
    """A rung did its action, but it did not work (no RDY, no port)."""


Opener = Callable[[str, Transcript], ATChannel]


def _open(url: str, log: Transcript, *, baud: int = 115200, time_scale: float = 1.0,
          open_timeout: float = 5.0) -> ATChannel:
    return ATChannel(url, baud=baud, time_scale=time_scale, transcript=log, open_timeout=open_timeout)


@dataclass
class Ladder:
    """What the ladder works with. ``channel`` is replaced by the reopen rung: read it back."""

    channel: ATChannel
    port: str  # the rig's port: a path, usb://VID:PID[/SERIAL] or a pyserial URL
    log: Transcript
    relay: Relay | None = None
    expected: Identity | None = None  # the session's DUT; None: take whoever answers
    time_scale: float = 1.0
    baud: int = 115200
    opener: Opener | None = None  # default: ATChannel(url, ...) with baud and time scale
    resolve: Callable[[], str] | None = None  # the port's URL now: a labgrid place's can move on power-up
    identity: Identity | None = field(default=None, init=False)

    # -- deadlines ------------------------------------------------------------------------

    @property
    def probe_s(self) -> float:
        return deadline_s("AT", self.time_scale)

    @property
    def at_boot_s(self) -> float:
        return boot_deadline_s(self.time_scale)

    @property
    def relay_boot_s(self) -> float:
        """The rig file's relay.boot_s when it sets one; else the note-derived boot deadline."""
        if self.relay is not None and "boot_s" in self.relay.config.model_fields_set:
            return float(self.relay.config.boot_s)
        return self.at_boot_s

    # -- helpers the rungs share ----------------------------------------------------------

    def note(self, text: str) -> None:
        self.log.record("NOTE", text)

    def answers(self) -> bool:
        """Does the DUT answer AT with OK now (a dead channel does not)?"""
        try:
            return self.channel.resync(attempts=RESYNC_ATTEMPTS, timeout=self.probe_s)
        except ATError:
            return False

    def wait_rdy(self, timeout: float) -> str:
        """RDY after a reset or power-on; its absence is told, not fatal (the probe decides)."""
        try:
            self.channel.wait_urc("RDY", timeout)
        except ATTimeout:
            return f"no RDY within {timeout:.1f} s"
        except ATError as exc:
            return f"no RDY: {exc}"
        return "RDY"

    def open(self, url: str) -> ATChannel:
        if self.opener is not None:
            return self.opener(url, self.log)
        return _open(url, self.log, baud=self.baud, time_scale=self.time_scale)

    # -- the climb ------------------------------------------------------------------------

    def climb(self, rungs: list[Rung] | None = None) -> Identity:
        """Climb until the DUT answers, then verify it is the same module. LadderError if not."""
        steps = RUNGS if rungs is None else rungs
        self.note("recovery ladder: the DUT stopped answering; climbing " + ", ".join(r.name for r in steps))
        tried: list[str] = []
        for rung in steps:
            skip = rung.skip(self)
            if skip is not None:
                self.note(f"ladder: {rung.name}: skipped ({skip})")
                continue
            t0 = time.monotonic()
            try:
                detail = rung.run(self)
            except (ATError, RelayError, RungFailed, PortNotFound) as exc:
                self.note(f"ladder: {rung.name}: failed ({exc})")
                tried.append(f"{rung.name} failed")
                continue
            took = time.monotonic() - t0
            if self.answers():
                self.note(f"ladder: {rung.name}: ok ({detail}; {took:.1f} s); the DUT answers AT")
                break
            self.note(f"ladder: {rung.name}: done ({detail}) but the DUT still does not answer AT")
            tried.append(f"{rung.name} did not help")
        else:
            raise LadderError(f"the DUT at {self.port} does not answer AT after the recovery ladder "
                              f"({'; '.join(tried) or 'nothing to try'})")
        return self.verify()

    def verify(self) -> Identity:
        """Same IMEI and firmware as at session start; a changed one is a rig failure."""
        try:
            found = read_identity(self.channel)
        except (ATError, IdentityError) as exc:
            self.note(f"ladder: verify identity: failed ({exc})")
            raise LadderError(f"the DUT at {self.port} answers AT but not its identity: {exc}") from None
        self.identity = found
        exp = self.expected
        if exp is not None and (found.imei, found.revision) != (exp.imei, exp.revision):
            what = "; ".join(f"{name} {a} -> {b}" for name, a, b in
                             (("IMEI", exp.imei, found.imei), ("firmware", exp.revision, found.revision)) if a != b)
            self.note(f"ladder: verify identity: FAILED, another module answers ({what})")
            raise LadderError(f"after recovery another module answers at {self.port} ({what}): a rig failure, "
                              f"not a verdict on the DUT")
        self.note(f"ladder: verify identity: ok (IMEI {found.imei}, firmware {found.revision})")
        return found


@dataclass(frozen=True)
class Rung:
    """One step of the ladder. ``skip`` says why it cannot apply on this rig (or None);
    ``run`` does the action and returns what happened; raising ATError/RelayError/RungFailed
    marks it failed. Whether the DUT answers afterwards is the ladder's probe, not the rung's."""

    name: str
    run: Callable[[Ladder], str]
    skip: Callable[[Ladder], str | None] = lambda _ladder: None


def _resync(ladder: Ladder) -> str:
    return f"AT until OK, up to {RESYNC_ATTEMPTS} x {ladder.probe_s:.1f} s"


def _soft_reset(ladder: Ladder) -> str:
    ladder.channel.drain_urcs()
    ladder.channel.write_raw(b"AT+QRST=1\r")  # raw: a parser that lost sync never says OK first
    got = ladder.wait_rdy(ladder.at_boot_s)
    if got != "RDY":
        raise RungFailed(f"AT+QRST=1: {got}")
    return "AT+QRST=1, RDY"


def _no_relay(action: str, attr: str) -> Callable[[Ladder], str | None]:
    def skip(ladder: Ladder) -> str | None:
        if ladder.relay is None:
            return "the rig has no relay"
        if not getattr(ladder.relay, attr, False):
            return f"relay {ladder.relay.kind} has no {action} control"
        return None

    return skip


def _drain(ladder: Ladder) -> None:
    with contextlib.suppress(ATError):
        ladder.channel.drain_urcs()


def _reset_line(ladder: Ladder) -> str:
    assert ladder.relay is not None
    _drain(ladder)
    ladder.relay.pulse()
    return f"reset pulse, {ladder.wait_rdy(ladder.relay_boot_s)}"


def _power_cycle(ladder: Ladder) -> str:
    assert ladder.relay is not None
    _drain(ladder)
    ladder.relay.cycle()
    moved = _follow_port(ladder)
    return f"power off {ladder.relay.config.power_off_s:g} s and on, {moved}{ladder.wait_rdy(ladder.relay_boot_s)}"


def _follow_port(ladder: Ladder) -> str:
    """After power-up, read the port again where it can move (a labgrid exporter may serve it on a
    new TCP port, labgrid #1387), and reopen the channel there when it did."""
    if ladder.resolve is None:
        return ""
    url = ladder.resolve()
    if url == ladder.channel.url:
        return ""
    old = ladder.channel.url
    ladder.channel.close()
    ladder.port = url
    ladder.channel = ladder.open(url)
    return f"the port moved {old} -> {url}, reopened; "


def _reopen(ladder: Ladder) -> str:
    ladder.channel.close()
    if ladder.resolve is not None:
        ladder.port = ladder.resolve()
    deadline = ladder.relay_boot_s
    end = time.monotonic() + deadline
    url = wait_for_port(ladder.port, deadline)
    last: Exception | None = None
    while True:
        try:
            ladder.channel = ladder.open(url)
            return f"reopened {url}"
        except PortOpenError as exc:
            last = exc
        if time.monotonic() >= end:
            raise RungFailed(f"{last}; still failing {deadline:.1f} s after the DUT was reset")
        time.sleep(REOPEN_POLL_S)


RUNGS: list[Rung] = [
    Rung("resync", _resync),
    Rung("software reset", _soft_reset),
    Rung("reset line", _reset_line, _no_relay("reset", "can_reset")),
    Rung("power cycle", _power_cycle, _no_relay("power", "can_power")),
    Rung("reopen port", _reopen),
]

RUNG_BY_NAME: dict[str, Rung] = {r.name: r for r in RUNGS}


# -- which relay the ladder gets on a rig -------------------------------------------------------


def uses_emulator_control(rig: RigConfig) -> bool:
    """With dut.kind emulator and relay.kind none (or emulated without a device), the emulator's
    control socket is the relay: on the desk it *is* the module's VBAT and RESET_N."""
    return rig.dut.kind == "emulator" and (rig.relay.kind == "none"
                                           or (rig.relay.kind == "emulated" and not rig.relay.device))


def rig_relay(rig: RigConfig, control: str | None) -> Relay | None:
    """The relay of ``rig`` (None: no power or reset control). ``control`` is the control socket
    of the emulator the harness started, if any; the emulated relay's power-off time is then
    scaled like every other time of the emulator. RelayError names the driver."""
    cfg = rig.relay
    if uses_emulator_control(rig) and control:
        scaled = cfg.model_copy(update={"kind": "emulated", "power_off_s": cfg.power_off_s * rig.dut.time_scale})
        return build_relay(scaled, device=control)
    if cfg.kind == "none" or (cfg.kind == "emulated" and not cfg.device):
        return None  # an emulated relay needs the control socket of an emulator we started
    return build_relay(cfg)
