"""USB HID relay boards (dcttech USBRelayN) in memory, behind the subset of the `hid` package
(pyhidapi) that hid_relay uses: enumerate(vid, pid), Device(path=...), send_feature_report,
get_feature_report(report_id, size), close(), HIDException.

The board model follows its firmware as open-source drivers use it: feature report
[0, 0xFF|0xFD, n, ...] switches relay n on/off, 0xFE/0xFC all on/off, a relay number the
board does not have is ignored; the state report is serial (5 bytes), 2 reserved bytes,
the relay bit mask, 1 reserved byte. Calls on a closed device raise HIDException as the real
package does. tests/rig/test_relay_drivers.py checks the signatures against the real package.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness.rig.relay.hid_relay import PRODUCT_ID, VENDOR_ID


class HIDException(Exception):
    pass


@dataclass
class FakeRelayBoard:
    serial: str = "QAAMZ"
    relays: int = 2
    path: bytes = b"/dev/hidraw0"
    state: int = 0
    history: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, state)
    stuck: bool = False  # a dying board: takes commands, switches nothing

    def feature(self, data: bytes) -> None:
        cmd, n = data[1], data[2]
        mask = (1 << self.relays) - 1
        if self.stuck:
            return
        if cmd in (0xFF, 0xFD) and 1 <= n <= self.relays:
            bit = 1 << (n - 1)
            self.state = self.state | bit if cmd == 0xFF else self.state & ~bit
        elif cmd in (0xFE, 0xFC):
            self.state = mask if cmd == 0xFE else 0
        else:
            return
        self.history.append((time.monotonic(), self.state))

    def report(self) -> bytes:
        return self.serial.encode("ascii")[:5].ljust(5, b"\0") + b"\0\0" + bytes([self.state]) + b"\0"


class FakeDevice:
    def __init__(self, board: FakeRelayBoard) -> None:
        self._board: FakeRelayBoard | None = board

    def _open(self) -> FakeRelayBoard:
        if self._board is None:
            raise HIDException("device closed")
        return self._board

    def send_feature_report(self, data: bytes) -> int:
        self._open().feature(bytes(data))
        return len(data)

    def get_feature_report(self, report_id: int, size: int) -> bytes:
        return self._open().report()[:size]  # a board without numbered reports: data from byte 0

    def close(self) -> None:
        self._board = None


class FakeHid:
    """Stands in for the `hid` module: ``HidRelay(config, hid=FakeHid([board]))``."""

    HIDException = HIDException

    def __init__(self, boards: list[FakeRelayBoard] | None = None) -> None:
        self.boards = list(boards or [])

    def enumerate(self, vid: int = 0, pid: int = 0) -> list[dict[str, object]]:
        return [{"path": b.path, "vendor_id": VENDOR_ID, "product_id": PRODUCT_ID,
                 "product_string": f"USBRelay{b.relays}", "serial_number": ""}
                for b in self.boards if vid in (0, VENDOR_ID) and pid in (0, PRODUCT_ID)]

    def Device(self, vid: int | None = None, pid: int | None = None, serial: str | None = None,
               path: bytes | None = None) -> FakeDevice:
        if path is None and not (vid and pid is not None):
            raise ValueError("specify vid/pid or path")
        for b in self.boards:
            if path == b.path or (path is None and (vid, pid) == (VENDOR_ID, PRODUCT_ID)):
                return FakeDevice(b)
        raise HIDException("unable to open device: No such file or directory")
