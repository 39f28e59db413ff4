"""The AT channel to a BC660K-GL (real UART, or the emulator over a pty or TCP).

channel.py     ATChannel: the public face (command, send_data, wait_urc, resync, wake, raw_rx,
               write_raw, close) and the one state all the parts below share under one lock; its
               docstring holds the contract (one answer, one command; what is not guaranteed).
routing.py     the reader thread: bytes -> lines -> the pending command, the URC queue or the bin.
pairing.py     the case's thread: one final result for one command, answers owed, the echo rules.
resync.py      proving the line clean after a timeout or a protocol error, before the next command.
urc_queue.py   the bounded URC queue (drops the oldest, with a NOTE).
demux.py       pure: what one received line is, for the pending command (classify, Pending).
framing.py     pure: bytes -> lines (3.1.2), the unterminated tail (the '>' prompt), +QMTRECV payloads.
lines.py       pure: the AT syntax (final results, prefixes, arguments), Response and Urc.
port.py        opening any pyserial URL with a deadline (rfc2217 without modem lines included).
transcript.py  what crossed the UART, bounded, secrets masked.
errors.py      ATError and its kinds (timeout, protocol error, resync failed, port open failed).
flows.py       the few AT exchanges nearly every MQTT case repeats.

Arrows: channel -> routing, pairing, resync, urc_queue; each of them -> demux, framing, lines,
transcript, port, errors as it needs; lines, transcript, pairing and flows -> harness.spec (the
note's URCs, secret arguments, deadlines). Nothing else of the harness.
"""

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
