"""The AT channel to a BC660K-GL (real UART, or the emulator over a pty or TCP)."""

from harness.at.channel import ATChannel
from harness.at.errors import ATError, ATProtocolError, ATResyncError, ATTimeout, PortOpenError
from harness.at.lines import ASYNC_WRITE_COMMANDS, URC_PREFIXES, Response, Urc, parse_args
from harness.at.transcript import Entry, Transcript

__all__ = [
    "ASYNC_WRITE_COMMANDS",
    "URC_PREFIXES",
    "ATChannel",
    "ATError",
    "ATProtocolError",
    "ATResyncError",
    "ATTimeout",
    "Entry",
    "PortOpenError",
    "Response",
    "Transcript",
    "Urc",
    "parse_args",
]
