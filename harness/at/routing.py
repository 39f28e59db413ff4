"""The reader thread: bytes from the port, framed into lines, each line routed to one place.

Why a module of its own: it is the half of the channel that runs on the reader thread. Every byte
goes to the raw_rx listeners, then to the line framer (framing.py); demux.classify says what each
line is (echo, final result, information, URC, payload echo, prompt, stale) and this module acts on
it: fills in the pending command, queues the URC, or judges a stray line (a late answer the channel
owes, or one final result too many: a DUT protocol error). The data prompt `>` has no line end
(3.3.8): it is taken from the unterminated tail.

A mixin of ATChannel: it works on the channel's state under the channel's lock (the fields are
listed in ATChannel.__init__); the lock's notify wakes whatever the case's thread waits for.
"""

from __future__ import annotations

import time

from harness.at.demux import Pending, classify
from harness.at.lines import Urc, is_final
from harness.at.port import read_some
from harness.at.transcript import visible


class LineRouter:
    """The reader thread's loop and the routing of each framed line."""

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
            self._urcs.add(Urc.parse(text, now))
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
