"""relay.kind hid: a USB HID relay board (dcttech "USBRelay1/2/4/8", VID 16c0 PID 05df).

The boards take a feature report [0x00, cmd, channel, 0 x 6]: cmd 0xFF switches relay
<channel> (1..8) on, 0xFD off. Reading feature report 1 (9 bytes) gives the board's serial
in bytes 0-4 and the relay states as a bit mask in byte 7 (bit n-1 = relay n), as the
open-source usbrelay driver reads it. Every switch is read back: a relay that did not follow
(a channel the board does not have, a dying board) is a RelayError, not a silent success.
"on" is the relay energised: wire power through the normally-open contact, or set
relay.active_low for the normally-closed one.

The `hid` package loads the hidapi shared library on import; without it the driver says
which library is missing in one line.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from harness.rig.relay.base import LineRelay, register_driver
from harness.rig.relay_schema import RelayConfig

VENDOR_ID, PRODUCT_ID = 0x16C0, 0x05DF
CMD_ON, CMD_OFF = 0xFF, 0xFD
STATE_REPORT, REPORT_SIZE = 1, 9
HIDAPI_LIBS = "libhidapi-hidraw.so.0 or libhidapi-libusb.so.0 (Debian: libhidapi-hidraw0)"


@register_driver("hid")
class HidRelay(LineRelay):
    def __init__(self, config: RelayConfig, *, hid: Any = None, sleep: Callable[[float], None] = time.sleep) -> None:
        """``hid``: the `hid` module (default: the real one); tests pass a fake board's."""
        super().__init__(config, config.channels, sleep=sleep)
        self._hid = hid
        self.channels = dict(config.channels)
        self.device = config.device or (f"serial {config.serial}" if config.serial else None)
        self._dev: Any = None

    def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is not None:
            dev.close()

    def states(self) -> tuple[str, int]:
        """(serial, relay bit mask) as the board reports them."""
        return self._report(self._open())

    def _report(self, dev: Any) -> tuple[str, int]:
        try:
            data = bytes(dev.get_feature_report(STATE_REPORT, REPORT_SIZE))
        except Exception as exc:  # hid.HIDException, or OSError from the library
            raise self.error(f"cannot read the relay states: {exc}") from None
        if len(data) < 8:
            raise self.error(f"short state report ({len(data)} bytes)")
        return data[:5].rstrip(b"\0").decode("ascii", "replace"), data[7]

    def _lib(self) -> Any:
        if self._hid is None:
            try:
                self._hid = importlib.import_module("hid")
            except ImportError as exc:
                missing = "the hid package is not installed" if getattr(exc, "name", None) == "hid" else \
                    f"cannot load the hidapi library {HIDAPI_LIBS}"
                raise self.error(missing) from None
        return self._hid

    def _open(self) -> Any:
        if self._dev is None:
            hid = self._lib()
            try:
                self._dev = self._find(hid)
            except hid.HIDException as exc:
                raise self.error(f"cannot open the board: {exc}") from None
        return self._dev

    def _find(self, hid: Any) -> Any:
        if self.config.device:
            return hid.Device(path=self.config.device.encode())
        found = []
        for info in hid.enumerate(VENDOR_ID, PRODUCT_ID):
            dev = hid.Device(path=info["path"])
            if self.config.serial in (None, self._report(dev)[0]):
                found.append(dev)
            else:
                dev.close()
        if len(found) == 1:
            return found[0]
        for dev in found:
            dev.close()
        if found:
            raise self.error(f"{len(found)} relay boards found; pick one with relay.serial or relay.device")
        raise self.error("no USB relay board found (VID 16c0 PID 05df)" if self.config.serial is None
                         else "no USB relay board with that serial")

    def _set(self, function: str, active: bool) -> None:
        channel = self.channels.get(function)
        if channel is None:
            raise self.error(f"no {function} channel in relay.channels")
        energise = active != self.config.active_low
        dev = self._open()
        try:
            dev.send_feature_report(bytes([0, CMD_ON if energise else CMD_OFF, channel, 0, 0, 0, 0, 0, 0]))
        except Exception as exc:  # hid.HIDException, or OSError from the library
            raise self.error(f"cannot switch relay {channel}: {exc}") from None
        if bool(self.states()[1] & (1 << (channel - 1))) != energise:
            raise self.error(f"relay {channel} did not switch {'on' if energise else 'off'} (read back)")
