"""The AT channel: one pyserial URL, a reader thread, and the response-vs-URC demux.

Why a reader thread: URCs (chapter 5) arrive at any time, also in the middle of a command's
response, and a case must be able to wait for them after the command returned. So every
byte is read by one thread, framed into lines, and each line is routed to exactly one
place: the pending command (echo, information line, final result), the URC queue, or the
bin (stale). The routing rules live in `_classify` (one place, one docstring):
  * nothing pending: a URC, unless it looks like a late answer (OK/ERROR/+CME ERROR, `AT...`, `>`);
  * pending: the first line equal to the sent line is the echo; OK/ERROR/+CME ERROR is the final
    result; a line with the command's own prefix (`+QMTCFG:` for AT+QMTCFG..., space before ':'
    allowed) is information, except for the asynchronous write forms of 3.3.2-3.3.8, whose
    result lines are URCs; a line with a URC prefix (lines.URC_PREFIXES) is a URC, even in the
    middle of a response; anything else is information;
  * data mode: the payload the DUT echoes back (echo_mode, SSL certificate entry) goes to
    Response.data_echo, not to lines.

Stale input. A command that timed out may still get its final result later. The channel
never lets that late result complete the next command:
  * lines that look like a command's answer (OK/ERROR/+CME ERROR, an `AT...` echo, `>`)
    arriving while no command is pending are discarded (recorded as NOTE in the transcript);
  * after a timeout the channel is marked stale, and the next command() / send_data() first
    resyncs: it sends `AT` until OK (if echo is known to be on, only lines after the probe's
    own echo count), then waits until the line has been quiet for QUIET_S and only then
    sends the command. If the DUT does not answer the probe, the command is not sent and
    ATTimeout names the resync.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from harness.at.demux import Pending, check_line, classify, short
from harness.at.errors import ATError, ATProtocolError, ATTimeout
from harness.at.framing import LineFramer
from harness.at.lines import Response, Urc, is_async_write
from harness.at.port import open_port
from harness.at.transcript import Transcript, bytes_text, visible
from harness.spec.timing import command_name, deadline_s

QUIET_S = 0.1  # resync: the line must be quiet this long before the next command goes out
DRAIN_MAX_S = 0.2  # before a command: longest wait for already-received input to be routed
MAX_URCS = 10000  # queued URCs kept; older ones are dropped (with a NOTE) beyond this


class ATChannel:
    pkt_timeout: int = 30  # 3.3.1 defaults; the case updates them after AT+QMTCFG="timeout"
    retry_times: int = 0
    data_prompt_delay: float = 0.02  # DESIGN.md: hosts wait a moment after '>' before sending

    def __init__(self, url: str, *, baud: int = 115200, time_scale: float = 1.0,
                 transcript: Transcript | None = None, open_timeout: float = 5.0) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, not {time_scale}")
        self.url = url
        self.time_scale = time_scale
        self.transcript = transcript if transcript is not None else Transcript()
        self._cond = threading.Condition(threading.RLock())
        self._op = threading.RLock()  # one command/data exchange at a time
        self._wlock = threading.Lock()
        self._pending: Pending | None = None
        self._urcs: list[Urc] = []
        self._framer = LineFramer()
        self._taps: list[Callable[[bytes], None]] = []  # raw_rx listeners
        self._last_rx = time.monotonic()
        self._stale = False
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
        """Send `line` + <CR> (3.1.2) and return when its final result arrives."""
        check_line(line)
        deadline = timeout if timeout is not None else self._deadline(line)
        with self._op:
            self._recover_if_stale(line)
            return self._exchange(line, deadline)

    def send_data(self, line: str, payload: bytes, *, end: bytes | None = b"\x1a",
                  timeout: float | None = None) -> Response:
        """Data mode (3.3.8 AT+QMTPUB, AT+QSSLCFG certificates): command, '>', payload, end, result.

        If a final result comes instead of the prompt, that Response is returned and nothing
        is written. The timeout applies to the prompt and, afresh, to the final result.
        """
        check_line(line)
        if not isinstance(payload, bytes | bytearray):
            raise TypeError("send_data payload must be bytes")
        deadline = timeout if timeout is not None else self._deadline(line)
        with self._op:
            self._recover_if_stale(line)
            p = self._begin(line, data_mode=True)
            self._write(line.encode("utf-8", "surrogateescape") + b"\r", line + "\r")
            self._wait(p, lambda: p.prompt or p.final is not None, deadline, f"'>' prompt after {line!r}")
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
                       f"final result after the data of {line!r} ({len(payload)} bytes)")
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
                        return u
                left = end - time.monotonic()
                if self._dead is not None:
                    raise ATError(f"waiting for URC {want}: {self._dead}")
                if left <= 0:
                    got = "; ".join(u.line for u in self._urcs[-5:])
                    raise ATTimeout(f"URC {want}", timeout, short(f"queued: {got}" if got else ""))
                self._cond.wait(left)

    def pending_urcs(self) -> list[Urc]:
        with self._cond:
            return list(self._urcs)

    def drain_urcs(self) -> list[Urc]:
        with self._cond:
            out, self._urcs = self._urcs, []
            return out

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
        """Bytes as they are, for garbage/robustness cases (recorded as TX)."""
        self._write(bytes(data), bytes_text(bytes(data)))

    def resync(self, attempts: int = 5, timeout: float = 1.0) -> bool:
        """Send `AT` until OK, then wait for a quiet line. From the 2nd attempt on, an <ESC>
        goes first, to leave a data mode the DUT may be stuck in (3.3.8), then a <CR> that ends
        whatever line the <ESC> started outside data mode (its late ERROR lands while idle)."""
        with self._op:
            for i in range(max(1, attempts)):
                if i:
                    self._write(b"\x1b\r", "\x1b\r")
                    self._settle()
                try:
                    # Echo may have been switched behind our back: only the first probe insists on it.
                    r = self._exchange("AT", timeout, require_echo=bool(self._echo_on) and i == 0)
                except (ATTimeout, ATProtocolError):  # a late '>' prompt: the DUT is in data mode
                    continue
                if r.ok:
                    self._settle()
                    self._stale = False
                    return True
            self._stale = True
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

    def _recover_if_stale(self, line: str) -> None:
        if not self._stale:
            return
        self.transcript.record("NOTE", f"resync before {line!r}: the previous exchange timed out")
        probe = self._deadline("AT")
        if not self.resync(attempts=2, timeout=probe):
            raise ATTimeout(f"'AT' (resync before {line!r})", probe, "")

    def _begin(self, line: str, *, data_mode: bool = False, require_echo: bool = False) -> Pending:
        name = command_name(line)
        with self._cond:
            # Input already on its way belongs to the idle state, not to this command: let the
            # reader route it first (bounded, so a DUT that streams garbage cannot stall us).
            end = time.monotonic() + DRAIN_MAX_S
            while (self._in_flight or self._port_waiting()) and time.monotonic() < end:
                self._cond.wait(0.005)
            if self._dead is not None:
                raise ATError(self._dead)
            p = Pending(line, name, is_async_write(line, name), time.monotonic(), data_mode, require_echo)
            p.pre_tail = self._framer.tail()
            self._pending = p
            return p

    def _port_waiting(self) -> bool:
        try:
            return bool(self._port.in_waiting)
        except Exception:  # a lost port is reported by the reader
            return False

    def _exchange(self, line: str, deadline: float, *, require_echo: bool = False) -> Response:
        p = self._begin(line, require_echo=require_echo)
        self._write(line.encode("utf-8", "surrogateescape") + b"\r", line + "\r")
        self._wait(p, lambda: p.final is not None, deadline, repr(line))
        return self._finish(p)

    def _raise_protocol_error(self, p: Pending) -> None:
        """The DUT answered `>` to a command sent with command(): leave its data mode, then say so."""
        self._write(b"\x1b", "\x1b")
        self._stale = True
        raise ATProtocolError(f"{p.command!r}: {p.error}")

    def _wait(self, p: Pending, done: Callable[[], bool], deadline: float, what: str) -> None:
        end = time.monotonic() + deadline
        with self._cond:
            while not done():
                if p.error is not None:
                    self._pending = None
                    self._raise_protocol_error(p)
                if self._dead is not None:
                    self._pending = None
                    raise ATError(f"{what}: {self._dead}")
                left = end - time.monotonic()
                if left <= 0:
                    self._pending = None
                    self._stale = True
                    self.transcript.record("NOTE", f"timeout after {deadline:.1f} s waiting for {what}")
                    raise ATTimeout(what, deadline, self._so_far(p))
                self._cond.wait(left)

    def _finish(self, p: Pending) -> Response:
        r = p.response()
        if r.echo is not None:
            self._echo_on = True
        elif r.final in ("OK", "ERROR") or r.cme_error is not None:
            self._echo_on = False
        if p.name == "E" and r.ok:  # ATE0 / ATE1: the new setting holds from the next command on
            # "ATE" alone is ATE0 (V.250 <value> defaults to 0); only ATE1 turns echo on.
            self._echo_on = p.command.strip()[3:].strip() == "1"
        return r

    def _settle(self) -> None:
        """Wait until nothing arrived for QUIET_S (at most 10 x QUIET_S): late answers land idle."""
        end = time.monotonic() + 10 * QUIET_S
        with self._cond:
            while True:
                now = time.monotonic()
                quiet_at = self._last_rx + QUIET_S
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
            try:
                self._port.write(data)
            except Exception as e:  # SerialTimeoutException, SerialException, OSError
                raise ATError(f"write to '{self.url}' failed: {' '.join(str(e).split())}") from e

    # ---------------------------------------------------------------- reader thread

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._port.read(1)
                if data:
                    self._in_flight = True
                    n = self._port.in_waiting
                    if n:
                        data += self._port.read(min(n, 65536))
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
            self._last_rx = time.monotonic()
            for tap in self._taps:
                tap(data)
            for framed in self._framer.feed(data):
                if framed.cut:
                    self.transcript.record("NOTE", f"{self._framer.max_line} bytes without a line end: cut")
                self._route(framed.text)
            p = self._pending
            if p is not None and not p.prompt and self._framer.tail() == ">":
                self._framer.clear_tail()  # the prompt has no line end (3.3.8)
                self._route(">")
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
            self._urcs.append(Urc.parse(text, now))
            if len(self._urcs) > MAX_URCS:
                dropped = self._urcs.pop(0)
                self.transcript.record("NOTE", f"URC queue full, dropped: {dropped.line}")
            return
        self.transcript.record("RX", text)
        if kind == "stale" or p is None:
            self.transcript.record("NOTE", f"discarded stale line {visible(text)!r}")
        elif kind == "prompt":
            p.prompt = True
            if not p.data_mode:
                p.error = "the DUT sent the '>' data prompt (3.3.8); use send_data() for data-mode forms"
        elif kind == "echo":
            cut = text[: len(text) - len(p.command.strip())]
            if cut:
                self.transcript.record("NOTE", f"echo preceded by stray bytes {visible(cut)!r}")
            p.echo = text[len(cut):]
        elif kind == "data_echo":
            p.data_echo.append(text)
        elif kind == "final":
            p.final, p.finished = text, now
            self._pending = None
        else:
            p.lines.append(text)
