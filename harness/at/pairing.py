"""One answer, one command: a line goes out, the reader fills in its Pending, the caller waits.

Why a module of its own: this is the half of the channel that runs on the case's thread and pairs
a final result with the command it answers (channel.py's docstring, "One answer, one command"):
what is already received is routed before the line goes out (_begin), the wait ends on the final
result, a timeout, the DUT's data prompt where none was due, or a final that came before the echo
and stayed alone (_wait, _take_suspect), and the result records what it proves about echo
(_finish). Answers the channel will not pair (a timed-out command, raw bytes, an <ESC>) are owed
(_owe), so the reader can tell a late answer from one too many.

A mixin of ATChannel: it works on the channel's state under the channel's lock (the fields are
listed, each with a comment, in ATChannel.__init__). It uses _quiet_s() from resync.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from harness.at.demux import Pending, short
from harness.at.errors import ATError, ATProtocolError, ATTimeout
from harness.at.lines import Response, is_async_write
from harness.spec.timing import command_name, deadline_s

DRAIN_MAX_S = 0.2  # before a command: longest wait for already-received input to be routed
# A final result before the echo waits this long for the echo before it is taken as the answer
# (echo switched off behind the channel's back): only that rare path waits, and a busy host that
# delays the echo by tens of ms must not turn a stray OK into the next command's answer.
ECHO_WAIT_S = 0.5


class Pairing:
    """The case's side of an exchange: begin, write, wait, finish."""

    def _deadline(self, line: str) -> float:
        return deadline_s(line, self.time_scale, self.pkt_timeout, self.retry_times)

    def _owe(self, n: int, until: float) -> None:
        """The DUT may send `n` more answers the channel will not pair (called under _cond)."""
        if self._owed <= 0 or self._owed_until < time.monotonic():
            self._owed = 0
        self._owed += n
        self._owed_until = max(self._owed_until, until)

    def _begin(self, line: str, *, data_mode: bool = False, require_echo: bool = False,
               probe: bool = False) -> Pending:
        name = command_name(line)
        with self._cond:
            # Input already on its way belongs to the idle state, not to this command: let the
            # reader route it first (bounded, so a DUT that streams garbage cannot stall us).
            end = time.monotonic() + DRAIN_MAX_S
            while (self._in_flight or self._port_waiting()) and time.monotonic() < end:
                self._cond.wait(0.005)
            if self._dead is not None:
                raise ATError(self._dead)
            self._urcs.note_drops()
            if not probe:
                self._pace = 0.0  # the pace that counts is this exchange's
            p = Pending(line, name, is_async_write(line, name), time.monotonic(), data_mode, require_echo)
            # A probe after the first insists on nothing: echo may have been switched off behind our back.
            p.expect_echo = require_echo if probe else self._echo_on is True
            p.pre_tail = self._framer.tail()
            p.faults, self._faults = self._faults, []  # seen while idle: this exchange reports them
            self._pending = p
            return p

    def _port_waiting(self) -> bool:
        try:
            return bool(self._port.in_waiting)
        except Exception:  # a lost port is reported by the reader
            return False

    def _exchange(self, line: str, deadline: float, *, require_echo: bool = False, probe: bool = False) -> Response:
        p = self._begin(line, require_echo=require_echo, probe=probe)
        self._write(line.encode("utf-8", "surrogateescape") + b"\r", line + "\r")
        self._wait(p, lambda: p.final is not None, deadline, repr(line))
        return self._finish(p, raise_faults=not probe)

    def _raise_protocol_error(self, p: Pending) -> None:
        """The DUT answered `>` to a command sent with command(): leave its data mode, then say so."""
        self._write(b"\x1b", "\x1b")
        with self._cond:
            self._owe(1, math.inf)  # what the DUT answers to the <ESC>
            self._stale = f"the DUT answered {p.command!r} with the '>' data prompt"
        raise ATProtocolError(f"{p.command!r}: {p.error}")

    def _wait(self, p: Pending, done: Callable[[], bool], deadline: float, what: str, *,
              data_mode: bool = False) -> None:
        end = time.monotonic() + deadline
        with self._cond:
            while not done():
                if p.error is not None:
                    self._pending = None
                    self._raise_protocol_error(p)
                if self._dead is not None:
                    self._pending = None
                    raise ATError(f"{what}: {self._dead}")
                now = time.monotonic()
                if p.suspect is not None and not p.slot and now >= p.suspect_at + self._echo_wait_s():
                    self._take_suspect(p, now)
                    continue
                left = end - now
                if left <= 0:
                    self._pending = None
                    self._stale = f"{what} timed out"
                    self._owe(1, math.inf)  # its final result may still come
                    if data_mode:
                        self._maybe_data_mode = True  # a late '>' or a data mode never ended
                    got = self._so_far(p)  # an unterminated rest (garbage, no line end) is only here
                    self.transcript.record("NOTE", f"timeout after {deadline:.1f} s waiting for {what}"
                                                   + (f"; received so far: {got}" if got else ""))
                    raise ATTimeout(what, deadline, got)
                if p.suspect is not None and not p.slot:
                    left = min(left, p.suspect_at + self._echo_wait_s() - now)
                self._cond.wait(max(left, 0.001))

    def _take_suspect(self, p: Pending, now: float) -> None:
        """A final result came before the echo and no echo followed within the quiet window: the
        DUT answered without echo (switched off behind the channel's back, e.g. by `AT&F` or
        `ATE0` inside a compound line). It is the answer; echo is taken as off from now on."""
        self.transcript.record("NOTE", f"no echo of {p.command!r} followed {p.suspect!r}: it is the answer, "
                                       "and echo is taken as off from now on")
        p.final, p.finished, p.slot = p.suspect, p.suspect_at, True
        self._final_strays = self._strays
        self._last, self._last_at = p.command, p.suspect_at
        self._echo_on = False
        self._pending = None

    def _finish(self, p: Pending, *, raise_faults: bool = True) -> Response:
        r = p.response()
        with self._cond:
            if r.echo is not None:
                self._echo_on = True
            elif r.final in ("OK", "ERROR") or r.cme_error is not None:
                self._echo_on = False
            if p.name == "E" and r.ok:  # ATE0 / ATE1: the new setting holds from the next command on
                # "ATE" alone is ATE0 (V.250 <value> defaults to 0); only ATE1 turns echo on.
                self._echo_on = p.command.strip()[3:].strip() == "1"
            faults = list(p.faults)
        if faults and raise_faults:
            raise ATProtocolError(f"{p.command!r}: DUT protocol error: {'; '.join(faults)} "
                                  f"(this line's own answer: {short(', '.join([*r.lines, r.final]), 120)})",
                                  response=r)
        if faults:  # a probe: the resync that sent it decides; the errors stay in the transcript
            self.transcript.record("NOTE", f"resync probe: {len(faults)} DUT protocol error(s) above not raised")
        return r

    def _echo_wait_s(self) -> float:
        return max(self._quiet_s(), ECHO_WAIT_S)

    def _so_far(self, p: Pending) -> str:
        parts = ([f"echo {p.echo!r}"] if p.echo else []) + [repr(x) for x in p.lines]
        tail = self._framer.tail()
        if tail:
            parts.append(f"unterminated {tail!r}")
        if p.prompt:
            parts.append("'>' prompt")
        return short(", ".join(parts))

    def _write(self, data: bytes, text: str) -> None:
        with self._wlock:
            if self._dead is not None:
                raise ATError(self._dead)
            self.transcript.record("TX", text)
            self._pace_on = False  # the gap before the answer to this is the DUT's thinking, not its pace
            try:
                self._port.write(data)
            except Exception as e:  # SerialTimeoutException, SerialException, OSError
                raise ATError(f"write to '{self.url}' failed: {' '.join(str(e).split())}") from e
