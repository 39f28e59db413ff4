"""Find the DUT's serial port by a stable name, and wait for it to come back after a power cycle.

A USB-serial adapter's /dev/ttyUSBn number changes when the module (or the adapter) is
power-cycled or re-plugged, so a lab rig names the port by something stable:

- a stable path, ``/dev/serial/by-id/usb-FTDI_..._A10K5XYZ-if00-port0`` (udev's symlink): after a
  power cycle, wait until the path exists again;
- a USB identity, written as the URL ``usb://VID:PID[/SERIAL]`` (hex VID and PID as ``lsusb``
  prints them, e.g. ``usb://0403:6001/A10K5XYZ``): resolved to the device path with
  ``serial.tools.list_ports``, and after a power cycle, waited for until it is listed again.

The URL form was chosen over a ``usb:`` mapping in the rig file because ``dut.port`` already
takes URLs (socket://, rfc2217://) and ``--port`` can then carry it too. Any other pyserial
URL (socket://, rfc2217://, loop://) passes through unchanged: it has nothing to wait for
beyond the open itself, which the caller retries.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

USB_SCHEME = "usb://"
_USB = re.compile(r"(?P<vid>[0-9A-Fa-f]{4}):(?P<pid>[0-9A-Fa-f]{4})(?:/(?P<serial>[^/\s]+))?")
POLL_S = 0.05  # how often a vanished port is looked for again: USB enumeration takes ~100s of ms

Lister = Callable[[], Iterable[Any]]  # returns ListPortInfo-like objects (device, vid, pid, serial_number)


class PortSpecError(ValueError):
    """A ``usb://`` port written wrongly; str() is one line naming the expected form."""


class PortNotFound(Exception):
    """The port named by path or identity is not there (yet); str() is one line."""


class AmbiguousPort(PortNotFound):
    """More than one listed port matches the identity: waiting will not help."""


@dataclass(frozen=True)
class UsbIdentity:
    vid: int
    pid: int
    serial: str | None = None

    def __str__(self) -> str:
        return f"{USB_SCHEME}{self.vid:04X}:{self.pid:04X}" + (f"/{self.serial}" if self.serial else "")

    def matches(self, info: Any) -> bool:
        return (getattr(info, "vid", None) == self.vid and getattr(info, "pid", None) == self.pid
                and (self.serial is None or getattr(info, "serial_number", None) == self.serial))


def is_usb_url(spec: str) -> bool:
    return spec[: len(USB_SCHEME)].lower() == USB_SCHEME


def parse_usb_url(spec: str) -> UsbIdentity:
    """``usb://0403:6001/A10K5XYZ`` -> UsbIdentity; PortSpecError (one line) when malformed."""
    m = _USB.fullmatch(spec[len(USB_SCHEME):]) if is_usb_url(spec) else None
    if m is None:
        raise PortSpecError(f"expected usb://VID:PID or usb://VID:PID/SERIAL with 4-digit hex VID and PID "
                            f"(as lsusb prints them, e.g. usb://0403:6001/A10K5XYZ); got {spec!r}")
    return UsbIdentity(int(m["vid"], 16), int(m["pid"], 16), m["serial"])


def port_spec_problem(spec: str) -> str | None:
    """For the rig schema: the one-line problem of a ``usb://`` dut.port, or None."""
    if not is_usb_url(spec):
        return None
    try:
        parse_usb_url(spec)
    except PortSpecError as exc:
        return str(exc)
    return None


def _comports() -> list[Any]:
    from serial.tools import list_ports  # imported late: it walks sysfs on some platforms at import

    return list(list_ports.comports())


def resolve(spec: str, *, lister: Lister = _comports) -> str:
    """The URL to open for ``spec``: a ``usb://`` identity becomes the listed device path;
    anything else is returned as is. PortNotFound when no port, or more than one, matches."""
    if not is_usb_url(spec):
        return spec
    ident = parse_usb_url(spec)
    found = [p for p in lister() if ident.matches(p)]
    if len(found) == 1:
        return str(found[0].device)
    if not found:
        raise PortNotFound(f"no serial port with USB identity {ident} is listed (is the adapter plugged in "
                           f"and powered?)")
    serials = ", ".join(sorted(str(getattr(p, "serial_number", None)) for p in found))
    raise AmbiguousPort(f"{len(found)} serial ports match {ident} (serials {serials}); add /SERIAL to pick one")


def present(spec: str, *, lister: Lister = _comports) -> str | None:
    """The URL to open if the port is there now, else None (a path that does not exist, an
    identity not listed). URLs other than paths and usb:// count as present."""
    if is_usb_url(spec):
        try:
            return resolve(spec, lister=lister)
        except AmbiguousPort:
            raise
        except PortNotFound:
            return None
    if "://" in spec:
        return spec
    return spec if os.path.exists(spec) else None


def wait_for_port(spec: str, deadline_s: float, *, lister: Lister = _comports,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> str:
    """Poll until the port named by ``spec`` is back (after a power cycle, a re-plug), and
    return the URL to open. PortNotFound after ``deadline_s`` seconds, naming the spec."""
    end = clock() + deadline_s
    while True:
        url = present(spec, lister=lister)
        if url is not None:
            return url
        left = end - clock()
        if left <= 0:
            what = "listed" if is_usb_url(spec) else "there"
            raise PortNotFound(f"{spec} is not {what} {deadline_s:.1f} s after the DUT was reset")
        sleep(min(POLL_S, left))
