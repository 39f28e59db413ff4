"""Put the DUT into the state every case starts from (DESIGN "How a case runs", step 2):
echo off, numeric errors, every connect ID closed, every AT+QMTCFG option at its default.

Done with the note's own commands (3.3.1-3.3.5) so it works the same for the emulator and a
physical module; nothing here reaches into the emulator.
"""

from __future__ import annotations

import contextlib
from typing import Any

from harness.at import ATTimeout
from harness.spec.qmtcfg import CONNECT_ID, DEFAULT_WRITES, TIMEOUT
from harness.spec.timing import boot_deadline_s, deadline_s, register_deadline_s


class KnownStateError(Exception):
    """The DUT refused a command of the reset sequence; names the command and the answer."""


def _expect_ok(channel: Any, line: str) -> Any:
    resp = channel.command(line)
    if not resp.ok:
        raise KnownStateError(f"{line} answered {resp.final!r} while resetting the DUT to its known state")
    return resp


def _ids_in(resp: Any, prefix: str) -> list[int]:
    ids = []
    for ln in resp.lines:
        if ln.startswith(prefix):
            head = ln.split(":", 1)[1].split(",", 1)[0].strip()
            if head.isdigit():
                ids.append(int(head))
    return ids


def reset_to_known_state(channel: Any) -> None:
    _expect_ok(channel, "ATE0")
    _expect_ok(channel, "AT+CMEE=1")
    _radio_on(channel)
    scale = channel.time_scale
    for cid in _ids_in(_expect_ok(channel, "AT+QMTCONN?"), "+QMTCONN:"):
        if channel.command(f"AT+QMTDISC={cid}").ok:
            _wait_quiet(channel, "+QMTDISC", cid, deadline_s("AT+QMTDISC", scale))
    for cid in _ids_in(_expect_ok(channel, "AT+QMTOPEN?"), "+QMTOPEN:"):
        if channel.command(f"AT+QMTCLOSE={cid}").ok:
            _wait_quiet(channel, "+QMTCLOSE", cid, deadline_s("AT+QMTCLOSE", scale))
    still_open = _ids_in(_expect_ok(channel, "AT+QMTOPEN?"), "+QMTOPEN:")
    if still_open:
        raise KnownStateError(f"connect IDs {still_open} still open after AT+QMTDISC/AT+QMTCLOSE")
    ids = range(CONNECT_ID.lo, CONNECT_ID.hi + 1)
    if any(_expect_ok(channel, f'AT+QMTCFG="aliauth",{cid}').lines for cid in ids):
        # 3.3.1 gives no way to unset "aliauth" but "The configuration will not be saved": reset.
        _software_reset(channel)
    for cid in ids:
        for item, values in DEFAULT_WRITES:
            _expect_ok(channel, f'AT+QMTCFG="{item}",{cid},{values}')
    channel.pkt_timeout, channel.retry_times = TIMEOUT.params[0].default, TIMEOUT.params[1].default
    channel.drain_urcs()


def _software_reset(channel: Any) -> None:
    channel.drain_urcs()
    _expect_ok(channel, "AT+QRST=1")
    channel.wait_urc("RDY", boot_deadline_s(channel.time_scale))
    if not channel.resync():
        raise KnownStateError("no OK to AT after AT+QRST=1 and RDY")
    _expect_ok(channel, "ATE0")
    _expect_ok(channel, "AT+CMEE=1")


def _radio_on(channel: Any) -> None:
    """A case that turned the radio off (AT+CFUN=0) and failed before turning it on again, or a
    module that keeps CFUN=0 across restarts and booted with the radio off (obs. fact 12), must
    not fail every case after it with "+QMTOPEN: <id>,3": turn it on and wait for registration,
    reported by the +CEREG URC (AT+CEREG=1 for the while; 27.007 stat 1 home, 5 roaming). A radio
    that is on and still searching (stat 2: registration takes a while) is waited for the same way."""
    on = "+CFUN: 1" in _expect_ok(channel, "AT+CFUN?").lines
    n, stat = _cereg(channel)
    if on and stat != "2":
        return
    _expect_ok(channel, "AT+CEREG=1")
    try:
        if not on:
            _expect_ok(channel, "AT+CFUN=1")
        _, stat = _cereg(channel)  # registered at once: there is no change left to report
        if stat not in ("1", "5"):
            try:
                channel.wait_urc("+CEREG", register_deadline_s(channel.time_scale),
                                 predicate=lambda u: bool(u.args) and u.args[0] in (1, 5))
            except ATTimeout:
                raise KnownStateError(f"not registered after AT+CFUN=1: AT+CEREG? answered stat {stat!r}, "
                                      "and no +CEREG: 1 or 5 followed") from None
    finally:
        _expect_ok(channel, f"AT+CEREG={n}")


def _cereg(channel: Any) -> tuple[str, str]:
    """(<n>, <stat>) of `+CEREG: <n>,<stat>[,...]` (AT+CEREG?)."""
    lines = _expect_ok(channel, "AT+CEREG?").lines
    fields = [f.strip() for f in lines[0].split(":", 1)[1].split(",")] if lines and ":" in lines[0] else []
    n = fields[0] if fields and fields[0].isdigit() else "0"
    return n, fields[1] if len(fields) > 1 else ""


def _wait_quiet(channel: Any, urc: str, cid: int, timeout: float) -> None:
    """Wait for the close/disconnect result; a missing one is not fatal here (the next check
    of AT+QMTOPEN? decides), but it must not be left in the queue for the next case."""
    with contextlib.suppress(ATTimeout):
        channel.wait_urc(urc, timeout, predicate=lambda u: bool(u.args) and u.args[0] == cid)
