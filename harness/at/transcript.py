"""Timestamped record of everything that crossed the UART, for the reports.

Secrets (passwords, device secrets given to AT+QMTCONN / AT+QMTCFG="aliauth") are replaced
by `***` when stored *and* when rendered, so a secret registered after the fact is still
hidden in the report. Every secret any transcript is given is also remembered for the process
(`known_secrets`), so report fields a transcript never passes through (Allure's parameters)
can hide the same values. Control bytes are rendered visibly because the interesting failures
of an AT interface are often a missing <CR> or a stray <SUB>.

Bounded: a DUT that floods URCs must not make the evidence of one case (and the reports built
from it) grow without end. At most `max_entries` are kept: the first tenth (how the case began)
and the newest rest (how it ended); the entries in between are dropped and one NOTE in their
place says how many. Nothing reads the transcript back to decide anything (the channel pairs
answers from its own state), so a cut transcript changes only what the report shows.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from harness.spec.commands import secrets_in

MAX_TEXT = 2048  # characters kept per entry; long payloads/garbage are cut, with the length noted
MAX_ENTRIES = 20_000  # entries kept per transcript: the first tenth and the newest rest
MAX_KNOWN = 4096  # secrets remembered for the process (the oldest forgotten first)

_NAMES = {0x00: "<NUL>", 0x09: "<TAB>", 0x0A: "<LF>", 0x0D: "<CR>", 0x1A: "<SUB>", 0x1B: "<ESC>",
          0x7F: "<DEL>"}
DIRECTIONS = ("TX", "RX", "URC", "NOTE")

_known: dict[str, None] = {}  # every secret a transcript was given, oldest first
_known_lock = threading.Lock()


def known_secrets() -> list[str]:
    """The secrets transcripts of this process were given (the rig file's, those typed into the
    DUT), newest last, for report fields that no transcript renders."""
    with _known_lock:
        return list(_known)


def _remember(secret: str) -> None:
    with _known_lock:
        _known.pop(secret, None)
        _known[secret] = None
        while len(_known) > MAX_KNOWN:
            del _known[next(iter(_known))]


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
    """Thread-safe: the channel's reader thread and the case's thread both record.

    Positions (`mark`, `render(since)`, `len`) count every entry ever recorded, kept or not, so
    a mark taken before a flood still means the same place after it."""

    def __init__(self, secrets: Iterable[str] = (), max_entries: int = MAX_ENTRIES) -> None:
        if max_entries < 2:
            raise ValueError(f"max_entries must be >= 2, not {max_entries}")
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self.max_entries = max_entries
        self._head: list[Entry] = []  # the first entries, up to max_entries // 10 (at least 1)
        self._head_max = max(1, max_entries // 10)
        self._tail: deque[Entry] = deque(maxlen=max_entries - self._head_max)  # the newest
        self._total = 0  # entries recorded; those between head and tail were dropped
        self._last_dropped: Entry | None = None  # its times stamp the note
        self.t0 = time.monotonic()
        for s in secrets:
            self.add_secret(s)

    @property
    def dropped(self) -> int:
        """Entries dropped between the head and the tail (the transcript limit)."""
        with self._lock:
            return self._total - len(self._head) - len(self._tail)

    @property
    def entries(self) -> list[Entry]:
        """The kept entries in order, with one NOTE where the dropped ones were."""
        with self._lock:
            return self._window(0)

    def _window(self, since: int) -> list[Entry]:
        """Kept entries at positions >= since; a NOTE for the dropped ones among them."""
        out = self._head[since:]
        first_tail = self._total - len(self._tail)  # position of the oldest entry in the tail
        gap = first_tail - max(since, len(self._head))
        if gap > 0 and self._last_dropped is not None:
            last = self._last_dropped
            out.append(Entry(last.t, last.wall, "NOTE",
                             f"… {gap} lines dropped (transcript limit: {self.max_entries} entries, the first "
                             f"{self._head_max} and the newest {self._tail.maxlen} kept) …"))
        out += list(self._tail)[max(0, since - first_tail):]
        return out

    def add_secret(self, secret: str) -> None:
        if not secret:
            return  # an empty secret would "redact" between every character
        _remember(secret)
        with self._lock:
            if secret not in self._secrets:
                self._secrets.append(secret)
                self._secrets.sort(key=len, reverse=True)  # longest first: no partial leftovers
                self._head = [self._redacted(e) for e in self._head]
                self._tail = deque((self._redacted(e) for e in self._tail), maxlen=self._tail.maxlen)

    def _redacted(self, e: Entry) -> Entry:
        return Entry(e.t, e.wall, e.direction, self._redact(e.text))

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
            entry = Entry(now_t, now_wall, direction, text)
            self._total += 1
            if len(self._head) < self._head_max:
                self._head.append(entry)
                return
            if len(self._tail) == self._tail.maxlen:
                self._last_dropped = self._tail[0]  # the append below pushes it out
            self._tail.append(entry)

    def mark(self) -> int:
        with self._lock:
            return self._total

    def render(self, since: int = 0) -> str:
        """One line per entry, seconds relative to the transcript's creation."""
        with self._lock:
            return "\n".join(
                f"+{e.t - self.t0:.3f}s {e.direction:<3} {visible(self._redact(e.text))}"
                for e in self._window(since)
            )

    def __len__(self) -> int:
        """Entries recorded (kept or dropped): the position the next one takes."""
        with self._lock:
            return self._total
