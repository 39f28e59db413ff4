"""The AT channel: one pyserial URL, a reader thread, and the response-vs-URC demux.

Why a reader thread: URCs (chapter 5) arrive at any time, also in the middle of a command's
response, and a case must be able to wait for them after the command returned. So every
byte is read by one thread, framed into lines, and each line is routed to exactly one
place: the pending command (echo, information line, final result), the URC queue, or the
bin (stale). The routing rules live in demux.classify (one place, one docstring):
  * nothing pending: a URC, unless it looks like a late answer (OK/ERROR/+CME ERROR, `AT...`, `>`);
  * pending: the first line equal to the sent line is the echo; OK/ERROR/+CME ERROR is the final
    result; a line with the command's own prefix (`+QMTCFG:` for AT+QMTCFG..., space before ':'
    allowed) is information, except for the asynchronous write forms of 3.3.2-3.3.8, whose
    result lines are URCs; a line with a URC prefix (lines.URC_PREFIXES) is a URC, even in the
    middle of a response; anything else is information;
  * data mode: the payload the DUT echoes back (echo_mode, SSL certificate entry) goes to
    Response.data_echo, not to lines.

One answer, one command. 3.1.2 gives every command line exactly one final result code. The
channel pairs a final result with the command it answers, never with a later one:
  * Input already received when a command goes out is routed first (as idle input), so an
    answer that came before the command was written is never its answer.
  * Echo on (known from the last echo seen, or ATE1 answered OK): the module echoes a line as
    it reads it (DESIGN "Module facts"), so nothing before the echo can answer that line. A
    final result before the echo (or before the line standing in its place, for a DUT whose
    echo differs) is stray once that echo follows; when nothing follows within ECHO_WAIT_S,
    the DUT answered without echo (switched off behind the channel's back) and it is the answer.
    A final result while nothing is pending is stray too.
  * A stray final is a *late answer* while the channel still waits for answers it did not
    pair: a command or probe that timed out, raw bytes it wrote (write_raw), the <ESC> that
    leaves a data mode. It is discarded with a NOTE. Otherwise the DUT sent one final result
    too many (a duplicated OK): a DUT protocol error, recorded in the transcript as
    "DUT protocol error: ...". The exchange during which it arrived (or the next one, when it
    arrived while idle) still collects its own answer, then raises ATProtocolError, with
    that answer in `exc.response`: the case fails, and the next answer is not the stray one.
  * After a timeout (a command, either wait of a data-mode exchange, a probe) or a protocol
    error, the next command() / send_data() resyncs first, and the resync proves the line
    clean. It waits for a quiet line, where quiet is QUIET_S or twice the longest gap between
    the bytes of the DUT's last answer (a DUT sending a byte every 250 ms is not done after
    100 ms of silence), so leftovers land idle. Then a probe `AT` (after <ESC><CR> when the
    DUT may still be in data mode) must get OK (after its own echo when echo is known on), and
    the line must stay quiet as long again without another answer. A DUT answers command lines
    in order, so the leftovers of the timed-out command (a slow DUT finishing its answer, a
    late OK) come before the probe's own answer: two answers where one was due mean one was a
    leftover, and the probe is repeated.
    When no probe gets such an answer the command is not sent: ATResyncError ("the DUT did
    not resynchronise after ..."), and the recovery ladder takes over.
Not guaranteed:
  * Echo off (the suite's known state): a stray final that arrives after a command was written
    and before its own answer cannot be told from that answer. It is found afterwards (the real
    answer then arrives with nothing pending, one final too many) and the next exchange raises
    ATProtocolError naming the command whose answer is in doubt; the wrong answer was returned.
  * A leftover that arrives after the resync's quiet window (it would need a DUT that answers
    the probe before it finishes an earlier line, or pauses longer than MAX_QUIET_S inside
    one) or, echo off, an answer to raw bytes that arrives during the next command.
  * Echo on, a stray final that comes after the next command's echo (a DUT that echoes a line
    before it has finished answering the one before) is taken as that command's answer.
  * Answers owed for raw bytes are expected for the note's AT response time after the write;
    a final arriving later is counted as one too many.

Cost: reading, framing and URC routing are linear in the bytes received on every transport
(port.read_some takes all a socket holds in one read; framing.LineFramer searches each byte
once). The URC queue keeps the newest MAX_URCS; when it drops the oldest, a NOTE says so
(once when dropping starts, once with the count when it ends).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from harness.at.demux import Pending, check_line, classify, short
from harness.at.errors import ATError, ATProtocolError, ATResyncError, ATTimeout
from harness.at.framing import LineFramer
from harness.at.lines import Response, Urc, is_async_write, is_final
from harness.at.port import open_port, read_some
from harness.at.transcript import Transcript, bytes_text, visible
from harness.spec.timing import command_name, deadline_s

QUIET_S = 0.1  # resync: the line must be quiet this long after the probe's OK
DRAIN_MAX_S = 0.2  # before a command: longest wait for already-received input to be routed
MAX_URCS = 10000  # queued URCs kept; older ones are dropped (with a NOTE) beyond this
MAX_QUIET_S = 1.0  # ... at most this long, however slowly the DUT sent its last answer
# A final result before the echo waits this long for the echo before it is taken as the answer
# (echo switched off behind the channel's back): only that rare path waits, and a busy host that
# delays the echo by tens of ms must not turn a stray OK into the next command's answer.
ECHO_WAIT_S = 0.5
RECOVER_ATTEMPTS = 2  # probes before a command, after a timeout (the 2nd with <ESC><CR> first)
# Waking a module that may sleep (AT+QSCLK=1/2), as real hosts do (obs. fact 14): `AT` until one
# gets OK, up to 10 tries, 300 ms for each (module time: scaled, but never under WAKE_MIN_S).
WAKE_TRIES = 10
WAKE_WAIT_S = 0.3
WAKE_MIN_S = 0.1


class ATChannel:
    pkt_timeout: int = 30  # 3.3.1 defaults; the case updates them after AT+QMTCFG="timeout"
    retry_times: int = 0
    data_prompt_delay: float = 0.02  # DESIGN.md: hosts wait a moment after '>' before sending
    recover_attempts: int = RECOVER_ATTEMPTS
    probe_timeout: float | None = None  # resync before a command: None = the note's AT deadline
    quiet_s: float = QUIET_S  # the resync's quiet window (tests of the channel shrink it)

    def __init__(self, url: str, *, baud: int = 115200, time_scale: float = 1.0,
                 transcript: Transcript | None = None, open_timeout: float = 5.0,
                 max_urcs: int = MAX_URCS) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, not {time_scale}")
        if max_urcs < 1:
            raise ValueError(f"max_urcs must be >= 1, not {max_urcs}")
        self.url = url
        self.time_scale = time_scale
        self.transcript = transcript if transcript is not None else Transcript()
        self._cond = threading.Condition(threading.RLock())
        self._op = threading.RLock()  # one command/data exchange at a time
        self._wlock = threading.Lock()
        self._pending: Pending | None = None
        self._urcs: deque[Urc] = deque(maxlen=max_urcs)
        self.dropped_urcs = 0  # URCs dropped because the queue was full, since the channel opened
        self._dropping = 0  # ... in the current run of drops (noted when it ends)
        self._last_dropped = ""
        self._framer = LineFramer()
        self._taps: list[Callable[[bytes], None]] = []  # raw_rx listeners
        self._last_rx = time.monotonic()
        self._pace = 0.0  # longest gap between two reads of an answer still coming in (see _quiet_s)
        self._pace_on = False  # the last read left an answer coming in (a command pending, or stale)
        self._stale: str | None = None  # why the next exchange must resync first (None: it need not)
        self._maybe_data_mode = False  # the DUT may still be in data mode: resync starts with <ESC>
        self._owed = 0  # answers the DUT may still send for lines the channel did not pair
        self._owed_until = 0.0  # ... until then (math.inf: until a resync proves the line clean)
        self._faults: list[str] = []  # DUT protocol errors seen while idle: raised by the next exchange
        self._strays = 0  # stale answer-like lines so far (the resync's proof counts them)
        self._final_strays = 0  # _strays when the last final result was paired
        self._last = ""  # the last command that got its final result
        self._last_at = 0.0
        self._echo_on: bool | None = None
        self._dead: str | None = None
        self._in_flight = False  # the reader holds bytes it has not routed yet
        self._stop = threading.Event()
        self._port = open_port(url, baud, open_timeout)
        self._closed = False
        self.transcript.record("NOTE", f"opened {url}")
        self._reader = threading.Thread(target=self._read_loop, name=f"at-reader {url}", daemon=True)
        self._reader.start()

    # ---------------------------------------------------------------- public API

    def command(self, line: str, timeout: float | None = None) -> Response:
        """Send `line` + <CR> (3.1.2) and return when its final result arrives.

        ATTimeout: no final result within the deadline (the next exchange resyncs first);
        ATResyncError: a previous timeout left the line unclean and the DUT did not prove it
        clean again (this line was not sent); ATProtocolError: the DUT broke the AT syntax
        around this exchange (e.g. one final result too many; `exc.response` is this line's
        own answer when it got one)."""
        check_line(line)
        deadline = timeout if timeout is not None else self._deadline(line)
        with self._op:
            self._recover_if_stale(line)
            return self._exchange(line, deadline)

    def send_data(self, line: str, payload: bytes, *, end: bytes | None = b"\x1a",
                  timeout: float | None = None) -> Response:
        """Data mode (3.3.8 AT+QMTPUB, AT+QSSLCFG certificates): command, '>', payload, end, result.

        If a final result comes instead of the prompt, that Response is returned and nothing
        is written. The timeout applies to the prompt and, afresh, to the final result. After a
        timeout the DUT may still be in data mode: the next exchange's resync sends <ESC> first.
        """
        check_line(line)
        if not isinstance(payload, bytes | bytearray):
            raise TypeError("send_data payload must be bytes")
        deadline = timeout if timeout is not None else self._deadline(line)
        with self._op:
            self._recover_if_stale(line)
            p = self._begin(line, data_mode=True)
            self._write(line.encode("utf-8", "surrogateescape") + b"\r", line + "\r")
            self._wait(p, lambda: p.prompt or p.final is not None, deadline, f"'>' prompt after {line!r}",
                       data_mode=True)
            if p.final is not None:
                self.transcript.record("NOTE", f"final result instead of the '>' prompt: {p.final}")
                return self._finish(p)
            if self.data_prompt_delay > 0:
                time.sleep(self.data_prompt_delay)
            with self._cond:
                p.payload_text = bytes(payload).decode("utf-8", errors="replace")
            wire = bytes(payload) + (end or b"")
            self._write(wire, bytes_text(wire))
            self._wait(p, lambda: p.final is not None, deadline,
                       f"final result after the data of {line!r} ({len(payload)} bytes)", data_mode=True)
            return self._finish(p)

    def wait_urc(self, name: str, timeout: float, predicate: Callable[[Urc], bool] | None = None) -> Urc:
        """First queued or arriving URC called `name` (matching `predicate`); others stay queued."""
        want = name.strip().rstrip(":").strip().upper()
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, u in enumerate(self._urcs):
                    if u.name.upper() == want and (predicate is None or predicate(u)):
                        del self._urcs[i]
                        self._note_drops()
                        return u
                left = end - time.monotonic()
                if self._dead is not None:
                    raise ATError(f"waiting for URC {want}: {self._dead}")
                if left <= 0:
                    got = "; ".join(u.line for u in list(self._urcs)[-5:])
                    raise ATTimeout(f"URC {want}", timeout, short(f"queued: {got}" if got else ""))
                self._cond.wait(left)

    def take_protocol_errors(self) -> list[str]:
        """DUT protocol errors seen while no command was pending (one final result too many after
        the last answer), taken so the caller can fail the exchange that caused them now rather
        than have the next command raise them. Used at the end of a case (fixtures/modem.py)."""
        with self._cond:
            found, self._faults = self._faults, []
        return found

    def pending_urcs(self) -> list[Urc]:
        with self._cond:
            return list(self._urcs)

    def drain_urcs(self) -> list[Urc]:
        with self._cond:
            out = list(self._urcs)
            self._urcs.clear()
            self._note_drops()
            return out

    @property
    def max_urcs(self) -> int:
        return self._urcs.maxlen or MAX_URCS

    @property
    def reader_alive(self) -> bool:
        """The reader thread runs (False once the port is lost or the channel closed)."""
        return self._reader.is_alive()

    @contextlib.contextmanager
    def raw_rx(self, listener: Callable[[bytes], None]) -> Iterator[None]:
        """While the block runs, every byte read from the DUT also goes to `listener`, in order
        and before line framing (called on the reader thread, under the channel's lock): for
        cases that judge the 3.1.2 framing itself, which line framing hides."""
        with self._cond:
            self._taps.append(listener)
        try:
            yield
        finally:
            with self._cond:
                self._taps.remove(listener)

    def write_raw(self, data: bytes) -> None:
        """Bytes as they are, for garbage/robustness cases (recorded as TX). The channel does not
        pair their answers: finals that come for them within the note's AT response time are
        late answers, not DUT errors, and what they do to echo is unknown until the next answer."""
        data = bytes(data)
        lines = data.count(b"\r") + data.count(b"\n")
        with self._cond:
            if lines:
                self._owe(lines, time.monotonic() + self._deadline("AT"))
            self._echo_on = None
        self._write(data, bytes_text(data))

    def resync(self, attempts: int = 5, timeout: float = 1.0) -> bool:
        """Prove the line clean: `AT` until it gets OK of its own (after its echo when echo is
        known on) and no other answer follows within QUIET_S. From the 2nd attempt on (from the
        1st when the DUT may be in data mode) an <ESC> goes first, to leave a data mode (3.3.8),
        then a <CR> that ends whatever line the <ESC> started outside data mode (its late ERROR
        lands while idle). Clears the DUT protocol errors not raised yet (they are in the
        transcript)."""
        with self._op:
            return self._resync(attempts, timeout) is None

    def wake(self, tries: int = WAKE_TRIES) -> bool:
        """Wake a module that may sleep (AT+QSCLK=1/2) the way real hosts do (obs. fact 14): the
        line that wakes it is lost (a line end at most comes back), so `AT` again, right away,
        until one gets OK. Not resync(): its later probes wait a full timeout and send <ESC><CR>
        first, long enough for the module to fall asleep again before the next `AT` (what a
        sleeping module did to example 6.2 on a slow link). The try that gets OK proves the line
        clean as a resync does."""
        wait = max(WAKE_WAIT_S * self.time_scale, WAKE_MIN_S)
        with self._op:
            for _ in range(max(1, tries)):
                if self._resync(1, wait) is None:
                    return True
        return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._reader is not threading.current_thread():
            self._reader.join(timeout=2.0)
        try:
            self._port.close()
        except Exception as e:  # closing a lost port must not mask the case's own error
            self.transcript.record("NOTE", f"close: {e}")
        with self._cond:
            self._note_drops()
            self._dead = self._dead or f"channel to '{self.url}' is closed"
            self._cond.notify_all()
        self.transcript.record("NOTE", f"closed {self.url}")

    def __enter__(self) -> ATChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- exchanges

    def _deadline(self, line: str) -> float:
        return deadline_s(line, self.time_scale, self.pkt_timeout, self.retry_times)

    def _owe(self, n: int, until: float) -> None:
        """The DUT may send `n` more answers the channel will not pair (called under _cond)."""
        if self._owed <= 0 or self._owed_until < time.monotonic():
            self._owed = 0
        self._owed += n
        self._owed_until = max(self._owed_until, until)

    def _recover_if_stale(self, line: str) -> None:
        if self._stale is None:
            return
        why = self._stale
        self.transcript.record("NOTE", f"resync before {line!r}: {why}")
        probe = self.probe_timeout if self.probe_timeout is not None else self._deadline("AT")
        tried = self._resync(self.recover_attempts, probe)
        if tried is not None:
            raise ATResyncError(repr(line), why, tried)

    def _echo_wait_s(self) -> float:
        return max(self._quiet_s(), ECHO_WAIT_S)

    def _quiet_s(self) -> float:
        """How long the line must be quiet to count as quiet: QUIET_S, or twice the longest gap
        between the bytes of the last answer (a DUT sending a byte every 250 ms is not done
        after 100 ms of silence), at most MAX_QUIET_S."""
        return min(MAX_QUIET_S, max(self.quiet_s, 2 * self._pace))

    def _resync(self, attempts: int, timeout: float) -> str | None:
        """None when a probe proved the line clean; else what each probe got (one line)."""
        tried: list[str] = []
        if self._stale is not None or self._owed:
            # Leftovers of what timed out come first, at the DUT's own pace: let them land idle.
            self._settle(self._quiet_s(), limit=timeout)
        for i in range(max(1, attempts)):
            if i or self._maybe_data_mode:
                with self._cond:  # owed before it is written: its answer may beat the next line here
                    self._owe(1, math.inf)  # the answer (if any) to the line <ESC><CR> ended
                    self._maybe_data_mode = False
                sent = time.monotonic()
                self._write(b"\x1b\r", "\x1b\r")
                # Its answer (OK leaving a data mode, ERROR for a line <ESC> began) must land before
                # the probe goes, or it is taken for the probe's: wait from the write, not the last RX.
                self._settle(self._echo_wait_s(), since=sent)
            try:
                # Echo may have been switched behind our back: only the first probe insists on it.
                r = self._exchange("AT", timeout, require_echo=bool(self._echo_on) and i == 0, probe=True)
            except ATProtocolError:  # a late '>' prompt: the DUT is in data mode
                tried.append("'>' (data mode)")
                continue
            except ATTimeout:
                tried.append(f"no answer to AT within {timeout:.1f} s")
                continue
            if not r.ok:
                tried.append(f"AT answered {r.final!r}")
                continue
            self._settle(self._quiet_s())
            with self._cond:
                if self._strays != self._final_strays:
                    # Two answers where one was due: one of them was a leftover. Again.
                    self.transcript.record("NOTE", "resync: another answer followed the probe's OK: "
                                                   "one of them was a leftover; probing again")
                    tried.append("OK, then another answer (a leftover)")
                    continue
                self._stale = None
                self._maybe_data_mode = False  # it answered AT: not in data mode
                self._owed, self._owed_until = 0, 0.0
                self._pace = 0.0
                if self._faults:
                    self.transcript.record("NOTE", f"resync: cleared {len(self._faults)} DUT protocol error(s) "
                                                   "noted above")
                    self._faults.clear()
            return None
        with self._cond:
            self._stale = self._stale or "the last resync failed"
        return "; ".join(f"probe {k + 1}: {t}" for k, t in enumerate(tried))

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
            self._note_drops()
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

    def _settle(self, quiet: float = QUIET_S, limit: float | None = None, since: float = 0.0) -> None:
        """Wait until nothing arrived for `quiet` s (at most `limit`, by default 10 x `quiet`):
        late answers land idle. `since`: quiet counts from then at the earliest (a line just
        written: its answer has not had the time to come yet)."""
        end = time.monotonic() + (10 * quiet if limit is None else limit)
        with self._cond:
            while True:
                now = time.monotonic()
                quiet_at = max(self._last_rx, since) + quiet
                if now >= quiet_at or now >= end:
                    return
                self._cond.wait(min(quiet_at, end) - now)

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

    # ---------------------------------------------------------------- reader thread

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = read_some(self._port)
                if data:
                    self._in_flight = True
            except Exception as e:
                self._in_flight = False
                if not self._stop.is_set():
                    reason = " ".join(str(e).split())
                    self.transcript.record("NOTE", f"port lost: {reason}")
                    with self._cond:
                        self._dead = f"serial port '{self.url}' lost: {reason}"
                        self._cond.notify_all()
                return
            if not data:
                continue
            try:
                self._on_bytes(data)
            except Exception as e:  # a bug in routing must not kill the reader; say so and go on
                self.transcript.record("NOTE", f"reader error ({type(e).__name__}: {e}); line dropped")
            finally:
                with self._cond:
                    self._in_flight = False
                    self._cond.notify_all()

    def _on_bytes(self, data: bytes) -> None:
        with self._cond:
            now = time.monotonic()
            if self._pace_on:
                self._pace = max(self._pace, now - self._last_rx)
            self._last_rx = now
            for tap in self._taps:
                tap(data)
            for framed in self._framer.feed(data):
                if framed.cut:
                    self.transcript.record("NOTE", f"{self._framer.max_line} bytes without a line end: cut")
                self._route(framed.text)
            if self._framer.tail_is_prompt():
                p = self._pending
                if p is None:
                    self._maybe_data_mode = True  # a '>' while idle: the DUT waits for data
                elif not p.prompt:
                    self._framer.clear_tail()  # the prompt has no line end (3.3.8)
                    self._route(">")
            self._pace_on = self._pending is not None or self._stale is not None
            self._cond.notify_all()

    def _route(self, text: str) -> None:
        now = time.monotonic()
        p = self._pending
        if p is not None and p.pre_tail:
            pre, p.pre_tail = p.pre_tail, ""
            if text.startswith(pre):  # the first line began before the command was sent
                self.transcript.record("RX", pre)
                self.transcript.record("NOTE", f"discarded stray bytes from before {p.command!r}")
                text = text[len(pre):].strip()
                if not text:
                    return
        kind = classify(p, text)
        if kind == "urc":
            self.transcript.record("URC", text)
            self._queue_urc(Urc.parse(text, now))
            return
        self.transcript.record("RX", text)
        if kind == "stale" or p is None:
            self._stray(p, text, now)
        elif kind == "prompt":
            p.prompt = True
            if not p.data_mode:
                p.error = "the DUT sent the '>' data prompt (3.3.8); use send_data() for data-mode forms"
        elif kind == "echo":
            cut = text[: len(text) - len(p.command.strip())]
            if cut:
                self.transcript.record("NOTE", f"echo preceded by stray bytes {visible(cut)!r}")
            p.echo = text[len(cut):]
            self._fill_slot(p)
            self._echo_on = True  # known now, even if this exchange times out
        elif kind == "data_echo":
            p.data_echo.append(text)
        elif kind == "final":
            p.final, p.finished = text, now
            self._final_strays = self._strays
            self._last, self._last_at = p.command, now
            self._pending = None
        else:
            self._fill_slot(p)
            p.lines.append(text)

    def _fill_slot(self, p: Pending) -> None:
        """The echo (or a line in its place) arrived: a final result held before it was stray."""
        if not p.slot and p.suspect is not None:
            fault = (f"a final result {visible(p.suspect)!r} before the echo of {p.command!r}, so not its "
                     f"answer: one final result too many (the line before was {self._last!r})")
            self.transcript.record("NOTE", f"DUT protocol error: {fault}")
            p.faults.append(fault)
            p.suspect = None
        p.slot = True

    def _stray(self, p: Pending | None, text: str, now: float) -> None:
        """A line that cannot be the pending command's: a late answer, or one answer too many."""
        self._strays += 1
        if text == ">":
            self._maybe_data_mode = True  # a late '>' prompt: the DUT waits for data
        if not is_final(text):
            self.transcript.record("NOTE", f"discarded stale line {visible(text)!r}")
            return
        if self._owed > 0 and now <= self._owed_until:
            self._owed -= 1
            self.transcript.record("NOTE", f"discarded stale line {visible(text)!r} (a late answer)")
            return
        if p is not None and not p.require_echo:
            if p.suspect is None:  # the echo decides: if it follows, this was one final too many
                p.suspect, p.suspect_at = text, now
                return
            fault = (f"a final result {visible(text)!r} before the echo of {p.command!r}, so not its answer: "
                     f"one final result too many (the line before was {self._last!r})")
        elif p is not None:
            fault = (f"a final result {visible(text)!r} before the echo of the resync probe {p.command!r}: "
                     f"one final result too many (the line before was {self._last!r})")
        else:
            ago = f", answered {now - self._last_at:.3f} s before" if self._last else ""
            doubt = "" if self._echo_on else "; with echo off its answer is in doubt"
            fault = (f"a final result {visible(text)!r} with no command pending: one final result too many "
                     f"(the last line answered was {self._last!r}{ago}{doubt})")
        self.transcript.record("NOTE", f"DUT protocol error: {fault}")
        (p.faults if p is not None else self._faults).append(fault)

    def _queue_urc(self, urc: Urc) -> None:
        if len(self._urcs) == self._urcs.maxlen:  # full: the append below drops the oldest
            dropped = self._urcs[0]
            if not self._dropping:
                self.transcript.record("NOTE", f"URC queue full ({self._urcs.maxlen} queued, none taken): "
                                               f"dropping the oldest from now on, first {dropped.line!r}")
            self._dropping += 1
            self.dropped_urcs += 1
            self._last_dropped = dropped.line
        self._urcs.append(urc)

    def _note_drops(self) -> None:
        """End of a run of drops (a URC was taken, or an exchange begins): say how many went."""
        if self._dropping:
            self.transcript.record("NOTE", f"URC queue: dropped {self._dropping} URC(s), the oldest first "
                                           f"(the last of them {self._last_dropped!r})")
            self._dropping = 0
