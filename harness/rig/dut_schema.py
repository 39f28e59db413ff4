"""The rig file's `dut` section: which device is under test and how the suite reaches it.

Why a module of its own: the DUT is the section with the most rules (three kinds, each with its own
keys; pyserial URLs checked without opening anything; firmware and network profiles loaded at
validation so their mistakes are the key's one-line error), and schema.py, which assembles the
whole rig file, stays readable beside it. The environment rules (``EnvStr``, ``Secret``) are
fields.py's; schema.py re-exports ``DutConfig`` with the other sections.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, ValidationInfo, model_validator

from harness.emulator.profiles import is_name as is_firmware_name  # stdlib-only imports
from harness.emulator.profiles import known as known_firmware
from harness.rig.fields import EnvStr, _fail, _field, _not_bool, _Section, substitute
from harness.rig.port_finder import port_spec_problem

__all__ = ["PYSERIAL_SCHEMES", "STANDARD_BAUDS", "DutConfig"]


def _firmware(value: str) -> str:
    """A known profile name as it is; a profile file loaded now (its mistake is this key's one-line
    error, before any emulator starts) and made absolute, since the emulator runs in the project root."""
    if is_firmware_name(value):
        if value not in (names := known_firmware()):
            raise _fail("firmware", "unknown firmware profile {got} (known: {known})",
                        got=repr(value), known=", ".join(names))
        return value
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise _fail("firmware", "expected a profile name of a-z, 0-9, _ and -, or the path of a profile file; "
                    "got {got}, and no such file (known names: {known})", got=repr(value),
                    known=", ".join(known_firmware()))
    from harness.emulator.profile_file import resolve  # late: the rig loader stays light without a file

    try:
        resolve(str(path))
    except ValueError as exc:  # profile_file.ProfileFileError names the file and its key
        raise _fail("firmware", "{problem}", problem=str(exc)) from None
    return str(path)


def _network(value: str) -> str:
    """The emulator's uplink profile (--network): a shipped name as it is, a lab's profile file
    loaded now (its mistake is this key's one-line error) and made absolute, as for firmware."""
    from harness.emulator import network  # stdlib only

    try:
        network.get(value)
    except network.NetworkFileError as exc:
        raise _fail("network", "{problem}", problem=str(exc)) from None
    return value if network.is_name(value) and value in network.known() else str(Path(value).expanduser().resolve())


STANDARD_BAUDS = (4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
PYSERIAL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)")
# The handlers whose URL can be parsed without touching anything (hwgrep:// searches the ports,
# spy:// and alt:// wrap another URL): what pyserial's own parser refuses is the option's fault.
_URL_FORMS = {
    "socket": "socket://HOST:PORT[?logging=debug|info|warning|error]",
    "rfc2217": "rfc2217://HOST:PORT[?option[&option...]]",
    "loop": "loop://[?logging=debug|info|warning|error]",
}


class DutConfig(_Section):
    """The device under test: our emulator, or an external device on a serial port."""

    kind: Literal["emulator", "serial", "labgrid"] = _field(
        "emulator",
        "emulator: the harness starts the BC660K-GL emulator; serial: an external device at `port`; "
        "labgrid: the device of the labgrid place named in the `labgrid` section (the default when "
        "that section is there): its port and power come from the place.",
    )
    port: Annotated[str | None, BeforeValidator(substitute)] = _field(
        None,
        "serial: the pyserial URL of the device (/dev/ttyUSB0, /dev/serial/by-id/..., socket://h:p, "
        "rfc2217://h:p); required. emulator: where the harness serves it (socket://127.0.0.1:PORT for "
        "tcp, a symlink path for pty); null picks a free port / a fresh pty.",
    )
    baud: Annotated[int, BeforeValidator(_not_bool)] = _field(
        115200,
        "UART rate; the BC660K-GL default is 115200.",
        "one of " + ", ".join(map(str, STANDARD_BAUDS)),
    )
    transport: Literal["tcp", "pty"] | None = _field(
        None, "emulator only: how the emulator is reached (default tcp)."
    )
    firmware: EnvStr | None = _field(
        None,
        "emulator only: the firmware profile the emulator plays (default conformant): a name, or the path "
        "of a profile file a lab wrote (.toml or .json, harness/emulator/profile_file.py; a relative path "
        "is taken from the working directory).",
        "a profile name of a-z, 0-9, _ and -, or a profile file's path",
    )
    time_scale: Annotated[float, BeforeValidator(_not_bool)] = _field(
        1.0,
        "One module second lasts time_scale real seconds (the emulator's clock; deadlines follow it). "
        "Must be 1.0 for kind serial in the file: hardware runs in real time. --time-scale may set it "
        "for serial anyway (an external emulator behind --port).",
        "a number > 0 and <= 1",
        gt=0,
        le=1,
    )
    network: EnvStr | None = _field(
        None,
        "emulator only: the emulator's uplink to the broker (default ideal): nbiot or nbiot-poor (an NB-IoT "
        "bearer's latency, jitter, bandwidth and loss on the scaled clock), or the path of a profile file "
        "(TOML, harness/emulator/networks/).",
        "ideal, nbiot, nbiot-poor or a profile file's path",
    )

    @model_validator(mode="after")
    def _kind_rules(self, info: ValidationInfo) -> DutConfig:
        if self.baud not in STANDARD_BAUDS:
            raise _fail("baud", "expected one of {bauds}; got {got}",
                        bauds=", ".join(map(str, STANDARD_BAUDS)), got=self.baud)
        if self.kind == "serial":
            self._serial_rules(info)
        elif self.kind == "labgrid":
            self._labgrid_rules(info)
        else:
            self.transport = self.transport or "tcp"
            self.firmware = _firmware(self.firmware or "conformant")
            self.network = _network(self.network or "ideal")
            self._emulator_port_rules()
        return self

    def _serial_rules(self, info: ValidationInfo) -> None:
        if not self.port:
            raise _fail("port", "required when dut.kind is serial", because="kind")
        self._hardware_rules(info, "dut.kind serial", "must be 1.0 when dut.kind is serial (hardware runs in "
                             "real time); for an external emulator at a time scale, pass --time-scale")
        m = _SCHEME.fullmatch(self.port)
        if m and m.group(1).lower() == "usb":  # a USB identity, resolved at open (port_finder.py)
            if (problem := port_spec_problem(self.port)) is not None:
                raise _fail("port", "{problem}", problem=problem)
            return
        if m and m.group(1).lower() not in PYSERIAL_SCHEMES:
            raise _fail("port", "unknown pyserial URL scheme {scheme} (expected a device path or one of "
                        "{schemes})", scheme=repr(m.group(1) + "://"),
                        schemes=", ".join(s + "://" for s in PYSERIAL_SCHEMES))
        if m and m.group(1).lower() in ("socket", "rfc2217"):
            _host_port(m.group(2), "port", allow_zero=False)
        if m and m.group(1).lower() in _URL_FORMS and not _pyserial_parses(self.port):
            raise _fail("port", "not a URL pyserial can open: expected {form}; got {got}",
                        form=_URL_FORMS[m.group(1).lower()], got=repr(self.port))

    def _labgrid_rules(self, info: ValidationInfo) -> None:
        if self.port is not None:
            raise _fail("port", "a labgrid place's port comes from its NetworkSerialPort; remove dut.port "
                        "(or the labgrid section, to name a port yourself)")
        self._hardware_rules(info, "a labgrid place", "must be 1.0 for a labgrid place (hardware runs in real "
                             "time); for an emulator behind the place, pass --time-scale")

    def _hardware_rules(self, info: ValidationInfo, kind: str, time_scale_rule: str) -> None:
        """What a serial device and a labgrid place share: no emulator-only key, and the time scale
        of hardware (1.0) unless --time-scale set it (an emulator behind the port)."""
        for key in ("transport", "firmware", "network"):
            if getattr(self, key) is not None:
                raise _fail(key, "applies to dut.kind emulator only; remove it for {kind}", kind=kind)
        ctx = info.context if isinstance(info.context, Mapping) else {}
        if self.time_scale != 1.0 and not ctx.get("time_scale_explicit"):
            raise _fail("time_scale", time_scale_rule)

    def _emulator_port_rules(self) -> None:
        if self.port is None:
            return
        m = _SCHEME.fullmatch(self.port)
        if self.transport == "tcp":
            if not m or m.group(1).lower() != "socket":
                raise _fail("port", "with dut.transport tcp, expected socket://HOST:PORT or null; got {got}",
                            got=repr(self.port))
            _host_port(m.group(2), "port", allow_zero=True)
        elif m:
            raise _fail("port", "with dut.transport pty, expected a path for the pty link or null; got {got}",
                        got=repr(self.port))


def _pyserial_parses(url: str) -> bool:
    """pyserial's own parser accepts the URL (options and all); nothing is opened."""
    import serial  # here: only a serial DUT's rig needs pyserial at load

    try:
        serial.serial_for_url(url, do_not_open=True).from_url(url)
    except Exception:  # SerialException, ValueError, and a KeyError from its own message formatting
        return False
    return True


def _host_port(text: str, path: str, *, allow_zero: bool) -> None:
    host, sep, port = re.split(r"[/?]", text, maxsplit=1)[0].rpartition(":")  # options: _pyserial_parses
    low = 0 if allow_zero else 1
    if not sep or not host or not port.isdigit() or not low <= int(port) <= 65535:
        raise _fail(path, "expected HOST:PORT after the scheme, PORT {low}..65535; got {got}",
                    low=low, got=repr(text))

