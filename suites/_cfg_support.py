"""Helpers shared by the AT+QMTCFG suites (3.3.1), the syntax suite (3.1.2) and the 6.1 replay;
the QMT steps themselves (open, connect, reset, T1 per connect ID) are the `qmt` fixture's
(harness/plugin/fixtures/qmt.py).

Only AT over the channel and the broker side: nothing here reaches into the emulator, so the
same helpers drive a physical module. Expectations come from harness.spec (the note as data).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable

from harness.at import ATChannel
from harness.at.flows import is_error
from harness.at.lines import Response
from harness.mqtt import codec
from harness.plugin.fixtures.qmt import Qmt
from harness.plugin.fixtures.wire import Wire
from harness.spec.qmtcfg import CONNECT_ID, DEFAULT_WRITES, ITEMS
from harness.spec.timing import deadline_s

CIDS: list[int] = list(range(CONNECT_ID.lo, CONNECT_ID.hi + 1))
KNOWN: dict[str, list[int | str]] = {name: [int(v) for v in vals.split(",")] for name, vals in DEFAULT_WRITES}

# A valid value other than the known state's, per item (each inside its range, 3.3.1).
OTHER: dict[str, list[int | str]] = {
    "will": [1, 1, 1, "cfg/will", "gone"], "timeout": [7, 2, 1], "session": [0], "keepalive": [33],
    "version": [0], "showrecvlen": [1], "echomode": [1], "dataformat": [1, 1], "ssl": [1, 0, 0],
    "aliauth": ["pk", "dn", "ds"],
}

# Items whose query line has an optional tail (3.3.1): "+QMTCFG: <will_fg>[,<will_QoS>,...]" and
# "+QMTCFG: <SSL_enable>[,<SSL_contextID>,<SSL_connectID>]". The tail is what follows the first value.
OPTIONAL_TAIL = {"will": re.compile(r',[0-2],[01],".*",".*"'), "ssl": re.compile(r",\d+,\d+")}


def query(modem: ATChannel, item: str, cid: int = 0) -> list[str]:
    """The write form without optional parameters is the query (3.3.1 "If the optional parameters
    are omitted, query the current setting")."""
    resp = modem.command(f'AT+QMTCFG="{item}",{cid}')
    assert resp.ok, f'AT+QMTCFG="{item}",{cid} (query) answered {resp.final!r}'
    return resp.lines


def expect_ok(modem: ATChannel, line: str) -> Response:
    resp = modem.command(line)
    assert resp.ok, f"{line} answered {resp.final!r}, expected OK"
    return resp


def expect_error(modem: ATChannel, line: str, why: str) -> Response:
    """3.3.1 "If there is any error: ERROR Or +CME ERROR: <err>" (no code named: either is accepted)."""
    resp = modem.command(line)
    assert is_error(resp), f"{line} answered {resp.final!r}; expected ERROR or +CME ERROR ({why})"
    return resp


def write(modem: ATChannel, item: str, cid: int, values: list[int | str]) -> Response:
    return modem.command(ITEMS[item].write_line(cid, *values))


def rendered(item: str, values: list[int | str]) -> str:
    """The query line the note's format gives for these values (strings in double quotes)."""
    return ITEMS[item].query_line(*values)


def query_matches(item: str, values: list[int | str], line: str) -> bool:
    """Exact, except where the note brackets a tail that has no meaning for these values:
    the will parameters with <will_fg>=0 and the SSL IDs with <SSL_enable>=0 may be shown or not."""
    full = rendered(item, values)
    if line == full:
        return True
    tail = OPTIONAL_TAIL.get(item)
    if tail is None or values[0] != 0:
        return False
    head = rendered(item, values[:1])
    return line == head or (line.startswith(head) and tail.fullmatch(line[len(head):]) is not None)


def assert_reads(modem: ATChannel, item: str, cid: int, values: list[int | str]) -> None:
    lines = query(modem, item, cid)
    assert len(lines) == 1 and query_matches(item, values, lines[0]), (
        f'AT+QMTCFG="{item}",{cid} read {lines}, expected [{rendered(item, values)!r}] (3.3.1 query format)')


def error_code(resp: Response) -> str:
    """What an error answer carried, for observations (chapter 4 codes with AT+CMEE=1)."""
    return "OK" if resp.ok else resp.final


def connect_on_wire(qmt: Qmt, wire: Wire, client_id: str, cid: int = 0) -> codec.Connect:
    """AT+QMTOPEN + AT+QMTCONN through the fault proxy, with the rig's broker account (3.3.4);
    returns the CONNECT the broker got."""
    qmt.open_connect(wire, client_id, cid)
    rec = wire.log.wait_for(direction="C>B", type=codec.Connect, timeout=deadline_s("AT", qmt.channel.time_scale))
    assert isinstance(rec.packet, codec.Connect)
    return rec.packet


class RawTap:
    """Every byte the channel's reader takes from the DUT, while the `with` block runs.

    3.1.2 framing (<CR><LF><response><CR><LF>) is invisible after line framing, so the tap listens
    where all received bytes pass before it (ATChannel.raw_rx): nothing is missed and nothing
    changes for the channel. Works the same on a physical module.
    """

    def __init__(self, channel: ATChannel) -> None:
        self.channel = channel
        self.data = bytearray()
        self._cond = threading.Condition()
        self._listening = contextlib.ExitStack()

    def __enter__(self) -> RawTap:
        self._listening.enter_context(self.channel.raw_rx(self._add))
        return self

    def __exit__(self, *exc: object) -> None:
        self._listening.close()

    def _add(self, data: bytes) -> None:
        with self._cond:
            self.data.extend(data)
            self._cond.notify_all()

    def wait(self, done: Callable[[bytes], bool], timeout: float) -> bool:
        """True as soon as done(bytes so far) holds; False at the deadline."""
        end = time.monotonic() + timeout
        with self._cond:
            while not done(bytes(self.data)):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def take(self) -> bytes:
        with self._cond:
            out = bytes(self.data)
            self.data.clear()
            return out
