"""Timestamped record of everything that crossed the UART, for the reports.

Secrets (passwords, device secrets given to AT+QMTCONN / AT+QMTCFG="aliauth") are replaced
by `***` when stored *and* when rendered, so a secret registered after the fact is still
hidden in the report. Control bytes are rendered visibly because the interesting failures
of an AT interface are often a missing <CR> or a stray <SUB>.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from harness.spec.commands import secrets_in

MAX_TEXT = 2048  # characters kept per entry; long payloads/garbage are cut, with the length noted

_NAMES = {0x00: "<NUL>", 0x09: "<TAB>", 0x0A: "<LF>", 0x0D: "<CR>", 0x1A: "<SUB>", 0x1B: "<ESC>",
          0x7F: "<DEL>"}
DIRECTIONS = ("TX", "RX", "URC", "NOTE")


def visible(text: str) -> str:
    """Control characters as <CR>, <LF>, <SUB>, <ESC>, <0x01>...; everything else as is."""
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x20 or code == 0x7F:
            out.append(_NAMES.get(code, f"<0x{code:02X}>"))
        else:
            out.append(ch)
    return "".join(out)


def bytes_text(data: bytes) -> str:
    """Wire bytes as text: UTF-8 where valid, `\\xNN` for the rest (binary payloads stay readable)."""
    return data.decode("utf-8", errors="backslashreplace")


@dataclass(frozen=True)
class Entry:
    t: float  # time.monotonic()
    wall: float  # time.time()
    direction: str  # "TX" | "RX" | "URC" | "NOTE"
    text: str


class Transcript:
    """Thread-safe: the channel's reader thread and the case's thread both record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self.entries: list[Entry] = []
        self.t0 = time.monotonic()
        for s in secrets:
            self.add_secret(s)

    def add_secret(self, secret: str) -> None:
        if not secret:
            return  # an empty secret would "redact" between every character
        with self._lock:
            if secret not in self._secrets:
                self._secrets.append(secret)
                self._secrets.sort(key=len, reverse=True)  # longest first: no partial leftovers
                self.entries = [Entry(e.t, e.wall, e.direction, self._redact(e.text)) for e in self.entries]

    def _redact(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "***")
        return text

    def redact(self, text: str) -> str:
        with self._lock:
            return self._redact(text)

    def record(self, direction: str, text: str) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"transcript direction must be one of {DIRECTIONS}, not {direction!r}")
        now_t, now_wall = time.monotonic(), time.time()
        # Raw bytes sent as surrogate escapes (e.g. invalid UTF-8 on purpose) are shown as \xNN:
        # a lone surrogate would break every report writer downstream.
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        if direction == "TX":
            for secret in secrets_in(text.strip()):  # 3.3.1 <device_secret>, 3.3.4 <pass_word>
                self.add_secret(secret)
        with self._lock:
            text = self._redact(text)  # redact before cutting, so a cut never exposes half a secret
            if len(text) > MAX_TEXT:
                text = f"{text[:MAX_TEXT]}...(+{len(text) - MAX_TEXT} chars)"
            self.entries.append(Entry(now_t, now_wall, direction, text))

    def mark(self) -> int:
        with self._lock:
            return len(self.entries)

    def render(self, since: int = 0) -> str:
        """One line per entry, seconds relative to the transcript's creation."""
        with self._lock:
            entries = list(self.entries[since:])
            return "\n".join(
                f"+{e.t - self.t0:.3f}s {e.direction:<3} {visible(self._redact(e.text))}" for e in entries
            )

    def __len__(self) -> int:
        with self._lock:
            return len(self.entries)
