"""A scripted fake BC660K-GL on a real transport (TCP on 127.0.0.1 or a pty pair), for the
AT channel's own tests. It is deliberately dumb: it answers what the script says, so a test
can produce every awkward byte sequence the real module (or a broken one) could send.

Script: `peer.on(line, *steps)` — when the command line `line` (exact, after stripping; or a
callable predicate) arrives, the peer echoes it (if `echo` is on) and runs the steps in order:
  bytes        written as they are
  Gate(event)  wait until the test sets the event (e.g. to push a URC between echo and OK)
  Pause(s)     wait s seconds (a DUT that takes its time; a second answer after the first)
  Dribble(..)  write bytes one at a time, `period` s apart (a DUT slower than the deadline)
  DataMode(..) write the '>' prompt, read payload until Ctrl+Z / Esc / N bytes, answer per end
`peer.on(line, ..., echo_as=b"...")` echoes something else for that line (a DUT whose echo
differs). Unscripted lines get ERROR. `peer.silent = True` makes it read but never answer. Like a module,
the peer handles one line at a time: lines that arrive meanwhile wait their turn.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field

CRLF = b"\r\n"


def resp(*lines: str) -> bytes:
    """Lines framed as the module frames them (3.1.2): <CR><LF>line<CR><LF> each."""
    return b"".join(CRLF + x.encode() + CRLF for x in lines)


OK = resp("OK")
ERROR = resp("ERROR")


@dataclass
class Gate:
    event: threading.Event
    timeout: float = 5.0


@dataclass
class Pause:
    seconds: float


@dataclass
class Dribble:
    data: bytes
    period: float


@dataclass
class DataMode:
    prompt: bytes = b"\r\n> "
    length: int | None = None  # fixed-length form: the module counts bytes
    on_submit: bytes = OK  # after Ctrl+Z (or `length` bytes)
    on_cancel: bytes = OK  # after Esc
    echo_data: bool = False  # AT+QMTCFG="echomode" / QSSLCFG "content ... displayed"
    stuck: threading.Event | None = None  # a broken data mode: every byte is data (Ctrl+Z and Esc
    # too) until the test sets this event; then it leaves with `on_cancel` (3.3.8 NOTE 5's exit)


@dataclass
class Rule:
    match: Callable[[str], bool]
    steps: tuple[object, ...]
    once: bool = False
    echo_as: bytes | None = None  # echo this instead of the line (a DUT whose echo differs)


@dataclass
class Seen:
    lines: list[str] = field(default_factory=list)
    payloads: list[tuple[bytes, bytes | None]] = field(default_factory=list)  # (data, end)


class AtPeer:
    def __init__(self, transport: str = "tcp", echo: bool = True) -> None:
        self.echo = echo
        self.silent = False
        self.rules: list[Rule] = []
        self.seen = Seen()
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self.connected = threading.Event()  # the channel is there: push() has someone to talk to
        self._conn: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._master: int | None = None
        self._slave: int | None = None
        if transport == "tcp":
            self._listener = socket.create_server(("127.0.0.1", 0))
            self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        elif transport == "pty":
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)  # no line discipline echo before pyserial configures the port
            self.url = os.ttyname(self._slave)
            self.connected.set()
        else:
            raise ValueError(transport)
        self._thread = threading.Thread(target=self._run, name="at-peer", daemon=True)
        self._thread.start()

    # -- script -------------------------------------------------------------------------
    def on(self, line: str | Callable[[str], bool], *steps: object, once: bool = False,
           echo_as: bytes | None = None) -> None:
        match = line if callable(line) else (lambda s, want=line: s == want)
        self.rules.append(Rule(match, steps, once, echo_as))

    def push(self, data: bytes) -> None:
        """Write bytes now (URCs, garbage), from the test's thread."""
        if not self.connected.wait(5.0):
            raise AssertionError("push(): no channel connected to the peer within 5 s")
        self._send(data)

    def wait_seen(self, line: str, timeout: float = 5.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: line in self.seen.lines, timeout):
                raise AssertionError(f"peer never received {line!r}; got {self.seen.lines}")

    def drop_connection(self) -> None:
        """Hang up like a DUT losing power (TCP only)."""
        conn, self._conn = self._conn, None
        self.connected.clear()
        if conn is not None:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    # -- transport ----------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        if self._master is not None:
            os.write(self._master, data)
        elif self._conn is not None:
            self._conn.sendall(data)

    def _recv(self) -> bytes | None:
        """Bytes, b"" when nothing within the poll, None when the connection is gone."""
        if self._master is not None:
            r, _, _ = select.select([self._master], [], [], 0.05)
            if not r:
                return b""
            try:
                return os.read(self._master, 4096)
            except OSError:  # EIO: the channel closed the slave; wait for it to reopen
                time.sleep(0.05)
                return b""
        if self._conn is None:
            assert self._listener is not None
            r, _, _ = select.select([self._listener], [], [], 0.05)
            if r:
                self._conn, _ = self._listener.accept()
                # Bytes go out as they are written, as on a UART (and as the emulator's asyncio
                # transport does): no Nagle delay of 40 ms behind an unacknowledged echo.
                self._conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.connected.set()
            return b""
        conn = self._conn
        try:
            r, _, _ = select.select([conn], [], [], 0.05)
            if not r:
                return b""
            data = conn.recv(4096)
        except OSError:
            return None
        return data or None

    def _read_exact(self, buf: bytearray, want: Callable[[bytearray], int | None]) -> int | None:
        """Read into buf until want(buf) returns an index; None if stopped or hung up."""
        while not self._stop.is_set():
            idx = want(buf)
            if idx is not None:
                return idx
            data = self._recv()
            if data is None:
                return None
            buf.extend(data)
        return None

    # -- the module ---------------------------------------------------------------------
    def _run(self) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            idx = self._read_exact(buf, lambda b: b.find(b"\r") if b"\r" in b else None)
            if idx is None:
                if self._stop.is_set():
                    return
                self._conn = None
                self.connected.clear()
                buf.clear()
                continue
            raw = bytes(buf[:idx])
            del buf[: idx + 1]
            line = raw.decode("utf-8", errors="replace").strip("\n \x00\x1b")
            if not line:
                continue
            with self.cond:
                self.seen.lines.append(line)
                self.cond.notify_all()
            if self.silent:
                continue
            if self.echo:  # before the rule is looked up: a predicate may switch echo off (ATE0)
                odd = next((r for r in self.rules if r.echo_as is not None and r.match(line)), None)
                self._send(odd.echo_as if odd is not None and odd.echo_as is not None else raw.lstrip(b"\n") + b"\r")
            rule = next((r for r in self.rules if r.match(line)), None)
            if rule is None:
                self._send(ERROR)
                continue
            if rule.once:
                self.rules.remove(rule)
            for step in rule.steps:
                if isinstance(step, bytes):
                    self._send(step)
                elif isinstance(step, Gate):
                    step.event.wait(step.timeout)
                elif isinstance(step, Pause):
                    self._stop.wait(step.seconds)
                elif isinstance(step, Dribble):
                    for i in range(len(step.data)):
                        if self._stop.wait(step.period):
                            return
                        self._send(step.data[i:i + 1])
                elif isinstance(step, DataMode):
                    self._data_mode(step, buf)

    def _data_mode(self, dm: DataMode, buf: bytearray) -> None:
        self._send(dm.prompt)

        def want(b: bytearray) -> int | None:
            if dm.stuck is not None:
                if not dm.stuck.is_set():
                    return None
                b.clear()  # what was typed into the broken data mode is gone
                return 0
            if dm.length is not None:
                return dm.length if len(b) >= dm.length else None
            hits = [i for i in (b.find(b"\x1a"), b.find(b"\x1b")) if i >= 0]
            return min(hits) if hits else None

        idx = self._read_exact(buf, want)
        if idx is None:
            return
        if dm.stuck is not None:
            self._send(dm.on_cancel)
            return
        data = bytes(buf[:idx])
        end = None if dm.length is not None else bytes(buf[idx: idx + 1])
        del buf[: idx + (0 if end is None else 1)]
        with self.cond:
            self.seen.payloads.append((data, end))
            self.cond.notify_all()
        if dm.echo_data:
            self._send(data)
        self._send(dm.on_cancel if end == b"\x1b" else dm.on_submit)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        for s in (self._conn, self._listener):
            if s is not None:
                s.close()
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)

    def __enter__(self) -> AtPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
