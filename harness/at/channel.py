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

Where the code is: this module is the channel's public face and its state (ATChannel.__init__,
each field commented); the rest is in one module per job, each a mixin of ATChannel working on that
state under the channel's one lock: routing.py (the reader thread: bytes, lines, where each goes),
pairing.py (the case's thread: one answer for one command, answers owed), resync.py (proving the
line clean again), urc_queue.py (the bounded URC queue, an object of its own); demux.py and
framing.py are the pure rules they apply. One state behind one lock, because the pairing rules
above are one state machine seen from two threads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from harness.at.demux import Pending, check_line, short
from harness.at.errors import ATError, ATTimeout
from harness.at.framing import LineFramer
from harness.at.lines import Response, Urc
from harness.at.pairing import DRAIN_MAX_S, ECHO_WAIT_S, Pairing
from harness.at.port import open_port
from harness.at.resync import MAX_QUIET_S, QUIET_S, Resync
from harness.at.routing import LineRouter
from harness.at.transcript import Transcript, bytes_text
from harness.at.urc_queue import MAX_URCS, UrcQueue

__all__ = ["DRAIN_MAX_S", "ECHO_WAIT_S", "MAX_QUIET_S", "MAX_URCS", "QUIET_S", "RECOVER_ATTEMPTS", "ATChannel"]

RECOVER_ATTEMPTS = 2  # probes before a command, after a timeout (the 2nd with <ESC><CR> first)
# Waking a module that may sleep (AT+QSCLK=1/2), as real hosts do (obs. fact 14): `AT` until one
# gets OK, up to 10 tries, 300 ms for each (module time: scaled, but never under WAKE_MIN_S).
WAKE_TRIES = 10
WAKE_WAIT_S = 0.3
WAKE_MIN_S = 0.1


class ATChannel(Pairing, Resync, LineRouter):
    """The AT channel to one DUT (this module's docstring); a context manager that closes it."""

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
        self._urcs = UrcQueue(lambda text: self.transcript.record("NOTE", text), max_urcs)
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
        self.opened_as = str(getattr(self._port, "port", url) or url)  # port.open_port may add an option
        self.transcript.record("NOTE", f"opened {url}" + (f" as {self.opened_as}" if self.opened_as != url else ""))
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
                u = self._urcs.take(want, predicate)
                if u is not None:
                    return u
                left = end - time.monotonic()
                if self._dead is not None:
                    raise ATError(f"waiting for URC {want}: {self._dead}")
                if left <= 0:
                    got = "; ".join(u.line for u in self._urcs.queued()[-5:])
                    raise ATTimeout(f"URC {want}", timeout, short(f"queued: {got}" if got else ""))
                self._cond.wait(left)

    def take_protocol_errors(self) -> list[str]:
        """DUT protocol errors seen while no command was pending (one final result too many after
        the last answer), taken so the caller can fail the exchange that caused them now rather
        than have the next command raise them. Used at the end of a case (harness/plugin/fixtures/modem.py)."""
        with self._cond:
            found, self._faults = self._faults, []
        return found

    def pending_urcs(self) -> list[Urc]:
        with self._cond:
            return self._urcs.queued()

    def drain_urcs(self) -> list[Urc]:
        with self._cond:
            return self._urcs.drain()

    @property
    def max_urcs(self) -> int:
        return self._urcs.maxlen

    @property
    def dropped_urcs(self) -> int:
        """URCs dropped because the queue was full, since the channel opened."""
        return self._urcs.dropped

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
            self._urcs.note_drops()
            self._dead = self._dead or f"channel to '{self.url}' is closed"
            self._cond.notify_all()
        self.transcript.record("NOTE", f"closed {self.url}")

    def __enter__(self) -> ATChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
