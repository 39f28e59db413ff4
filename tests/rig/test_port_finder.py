"""The DUT's port by a stable name (harness/rig/port_finder.py): a usb://VID:PID[/SERIAL] identity
resolved through serial.tools.list_ports (pyserial's own ListPortInfo records, filled as its
Linux lister fills them), and a stable path that disappears during a power cycle and comes back."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from serial.tools.list_ports_common import ListPortInfo

from harness.at import ATChannel
from harness.rig.port_finder import (
    AmbiguousPort,
    PortNotFound,
    PortSpecError,
    UsbIdentity,
    parse_usb_url,
    port_spec_problem,
    present,
    resolve,
    wait_for_port,
)

pytestmark = pytest.mark.timeout(30)


def usb_port(device: str, vid: int | None, pid: int | None, serial: str | None) -> ListPortInfo:
    """A ListPortInfo as list_ports_linux builds one for a USB-serial adapter."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number = vid, pid, serial
    if vid is not None:
        info.hwid = f"USB VID:PID={vid:04X}:{pid:04X} SER={serial or ''} LOCATION=1-1:1.0"
        info.description = "FT232R USB UART"
    return info


FTDI = usb_port("/dev/ttyUSB0", 0x0403, 0x6001, "A10K5XYZ")
FTDI2 = usb_port("/dev/ttyUSB1", 0x0403, 0x6001, "B20L6ABC")
CP210X = usb_port("/dev/ttyUSB2", 0x10C4, 0xEA60, "0001")
BUILTIN = usb_port("/dev/ttyS0", None, None, None)


def test_usb_url_parses_as_lsusb_prints_it() -> None:
    assert parse_usb_url("usb://0403:6001/A10K5XYZ") == UsbIdentity(0x0403, 0x6001, "A10K5XYZ")
    assert parse_usb_url("USB://10c4:ea60") == UsbIdentity(0x10C4, 0xEA60, None)
    assert str(UsbIdentity(0x0403, 0x6001, "A1")) == "usb://0403:6001/A1"


@pytest.mark.parametrize("bad", ["usb://403:6001", "usb://0403-6001", "usb://0403:6001/", "usb://x", "usb://0403:6001/a/b"])
def test_malformed_usb_url_is_one_line(bad: str) -> None:
    with pytest.raises(PortSpecError) as err:
        parse_usb_url(bad)
    text = str(err.value)
    assert "\n" not in text and "usb://VID:PID" in text and repr(bad) in text
    assert port_spec_problem(bad) == text
    assert port_spec_problem("/dev/ttyUSB0") is None and port_spec_problem("usb://0403:6001") is None


def test_identity_resolves_to_the_listed_device() -> None:
    ports = [BUILTIN, CP210X, FTDI, FTDI2]
    assert resolve("usb://0403:6001/B20L6ABC", lister=lambda: ports) == "/dev/ttyUSB1"
    assert resolve("usb://10C4:EA60", lister=lambda: ports) == "/dev/ttyUSB2"
    assert resolve("socket://127.0.0.1:5000", lister=lambda: []) == "socket://127.0.0.1:5000"


def test_identity_missing_or_ambiguous_says_so() -> None:
    with pytest.raises(PortNotFound, match=r"no serial port with USB identity usb://0403:6001/NOPE"):
        resolve("usb://0403:6001/NOPE", lister=lambda: [FTDI, CP210X])
    with pytest.raises(AmbiguousPort, match=r"2 serial ports match usb://0403:6001 \(serials A10K5XYZ, B20L6ABC\)"):
        resolve("usb://0403:6001", lister=lambda: [FTDI, FTDI2])
    with pytest.raises(AmbiguousPort):  # waiting would not help: said at once
        wait_for_port("usb://0403:6001", 5.0, lister=lambda: [FTDI, FTDI2])


def test_identity_waited_for_until_it_is_listed_again() -> None:
    """After a power cycle the adapter re-enumerates, maybe as another ttyUSBn."""
    listings = iter([[BUILTIN], [BUILTIN], [BUILTIN, usb_port("/dev/ttyUSB3", 0x0403, 0x6001, "A10K5XYZ")]])
    seen: list[float] = []
    assert wait_for_port("usb://0403:6001/A10K5XYZ", 5.0, lister=lambda: next(listings),
                         sleep=seen.append) == "/dev/ttyUSB3"
    assert len(seen) == 2


def test_identity_that_never_comes_back_times_out() -> None:
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    with pytest.raises(PortNotFound, match=r"usb://0403:6001 is not listed 1\.0 s after"):
        wait_for_port("usb://0403:6001", 1.0, lister=lambda: [BUILTIN], clock=lambda: now[0], sleep=sleep)
    assert now[0] == pytest.approx(1.0)


def test_stable_path_disappears_and_comes_back(tmp_path: Path) -> None:
    """A real pty behind a by-id-like symlink: the link goes (power off), wait_for_port waits,
    the link returns (power on), and a channel opens through it and talks to the other end."""
    master, slave = os.openpty()
    link = tmp_path / "usb-Quectel_BC660K-GL-if00-port0"
    try:
        assert present(str(link)) is None
        found: list[str] = []
        waiter = threading.Thread(target=lambda: found.append(wait_for_port(str(link), 10.0)))
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive() and not found  # still waiting: the path is not there
        link.symlink_to(os.ttyname(slave))
        waiter.join(10.0)
        assert found == [str(link)]
        with ATChannel(found[0], time_scale=1.0) as channel:
            os.write(master, b"\r\nRDY\r\n")
            assert channel.wait_urc("RDY", 5.0).name == "RDY"
        link.unlink()
        with pytest.raises(PortNotFound, match="is not there"):
            wait_for_port(str(link), 0.1)
    finally:
        os.close(master)
        os.close(slave)
