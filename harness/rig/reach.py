"""Reaching the DUT at the start of a session, in the words the suite and the doctor share.

Each way of not reaching it gets its own line, naming where the port came from (the option
``--port`` or the rig file's key, RigConfig.origin):

- the port does not open (an absent device, a refused socket, a USB adapter not plugged in):
  ``--port: cannot open serial port '...': ...``
- bytes come back to AT, but never an OK: ``DUT at URL answered garbage to AT: b'...'`` (the first
  bytes, bounded), a wrong baud rate or another device on the port;
- nothing comes back: ``DUT at URL did not answer AT within N s``, no power or the wrong port;
- OK to AT, but ATI / AT+CGMR / AT+CGSN are not a BC660K-GL's: ``... does not answer like a
  BC660K-GL: ...``.

Every one of them is the rig's problem (exit 3, harness/rig/exits.py), never the rig file's: a URL
pyserial cannot parse is refused when the rig file is loaded (exit 4). The bytes are captured
through the channel's public tap (ATChannel.raw_rx), before line framing hides them.
"""

from __future__ import annotations

import shlex
import time

from harness.at import ATChannel, ATError, PortOpenError, Transcript
from harness.rig.identity import Identity, IdentityError, read_identity
from harness.rig.loader import DEFAULT_RIG
from harness.rig.port_finder import PortNotFound, PortSpecError, resolve
from harness.rig.schema import RigConfig

GARBAGE_SHOWN = 48  # bytes of an answer that is not AT quoted in the line (repr)


class Unreachable(Exception):
    """The DUT cannot be opened or does not answer like a BC660K-GL (exit 3); str() is one line."""


class BadPort(Exception):
    """dut.port cannot name a port at all (exit 4); str() is one line naming its source."""


def port_source(rig: RigConfig) -> str:
    """What the errors about the port name: `--port`, `rig.yaml: dut.port`, or the emulator."""
    return rig.origin("dut.port") if rig.dut.kind == "serial" else "emulator"


def resolve_url(rig: RigConfig) -> str:
    """dut.port as a URL to open: a usb:// identity becomes its device path (port_finder)."""
    try:
        return resolve(str(rig.dut.port))
    except PortSpecError as exc:
        raise BadPort(f"{port_source(rig)}: {exc}") from None
    except PortNotFound as exc:  # the adapter is not plugged in: the DUT is unreachable
        raise Unreachable(f"{port_source(rig)}: {exc}") from None


def open_channel(rig: RigConfig, url: str, transcript: Transcript) -> ATChannel:
    try:
        return ATChannel(url, baud=rig.dut.baud, time_scale=rig.dut.time_scale, transcript=transcript)
    except PortOpenError as exc:
        raise Unreachable(f"{port_source(rig)}: {exc}") from None


def greet(channel: ATChannel, *, attempts: int = 5, timeout: float = 1.0) -> Identity:
    """AT until OK (ATChannel.resync), then who the DUT says it is; Unreachable says which of
    silence, garbage or a foreign answer it was."""
    url = channel.url
    seen = bytearray()
    total = 0

    def tap(data: bytes) -> None:  # on the channel's reader thread: keep it short
        nonlocal total
        total += len(data)
        seen.extend(data[: GARBAGE_SHOWN - len(seen)])

    start = time.monotonic()
    try:
        with channel.raw_rx(tap):
            answered = channel.resync(attempts=attempts, timeout=timeout)
    except ATError as exc:  # the port itself went away (a peer hung up)
        raise Unreachable(f"DUT at {url} did not answer AT: {exc}") from None
    elapsed = time.monotonic() - start
    if not answered:
        if total:
            more = f"... ({total} bytes)" if total > len(seen) else ""
            raise Unreachable(f"DUT at {url} answered garbage to AT: {bytes(seen)!r}{more}")
        raise Unreachable(f"DUT at {url} did not answer AT within {elapsed:.1f} s ({attempts} tries)")
    try:
        return read_identity(channel)
    except (ATError, IdentityError) as exc:
        raise Unreachable(f"DUT at {url} does not answer like a BC660K-GL: {exc}") from None


def doctor_command(rig: RigConfig) -> str:
    """The doctor's command line for this rig: the same --rig and --port the run was given."""
    args = ["python", "-m", "harness.rig", "doctor"]
    if rig.path_as_given != DEFAULT_RIG:
        args += ["--rig", rig.path_as_given]
    if rig.given_by_option("dut.port") == "--port":
        args += ["--port", str(rig.dut.port)]
    return shlex.join(args)
