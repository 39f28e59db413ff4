"""A byte-exact host for the emulator's own tests: what they assert is exactly what crossed the
wire (framing, echo, <CR><LF>), which the AT channel deliberately hides."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import serial

FINAL = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: [^\r\n]*)\r\n\Z")


class RawUart:
    def __init__(self, url: str) -> None:
        self.port = serial.serial_for_url(url, timeout=0.02)

    def read_until(self, done: Callable[[bytes], object], timeout: float = 3.0) -> bytes:
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            buf += self.port.read(max(1, self.port.in_waiting))
            if done(buf):
                return buf
        raise AssertionError(f"no complete answer within {timeout} s: {buf!r}")

    def exchange(self, line: bytes, timeout: float = 3.0) -> bytes:
        """Send `line` + <CR>; everything received up to and including the final result."""
        self.port.write(line + b"\r")
        return self.read_until(FINAL.search, timeout)

    def close(self) -> None:
        self.port.close()


U = TypeVar("U", bound=RawUart)


def kept_open(kind: type[U], url: str) -> Iterator[U]:
    """One connection for a whole test module (a module-scoped fixture yields from this): pyserial
    sleeps 0.3 s in every socket close, so a connection per case would cost that each time."""
    uart = kind(url)
    try:
        yield uart
    finally:
        uart.close()
