"""The URC queue: URCs received and not taken yet, the newest MAX_URCS kept.

Why a module of its own: URCs (chapter 5) arrive at any time and a case may wait for them long
after the command that caused them, so they are kept, bounded, and taken by name. When the queue
is full the oldest goes, and the transcript says so: once when dropping starts, once with the count
when the run of drops ends (a URC was taken, an exchange begins, the channel closes).

Not locked: the channel calls every method under its own lock (the reader thread adds, the case's
thread takes), and its lock's notify wakes a waiting wait_urc().
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from harness.at.lines import Urc

MAX_URCS = 10000  # queued URCs kept; older ones are dropped (with a NOTE) beyond this


class UrcQueue:
    def __init__(self, note: Callable[[str], None], maxlen: int = MAX_URCS) -> None:
        self._note = note  # a NOTE in the channel's transcript of the moment (a case swaps it)
        self._urcs: deque[Urc] = deque(maxlen=maxlen)
        self.dropped = 0  # URCs dropped because the queue was full, since the channel opened
        self._dropping = 0  # ... in the current run of drops (noted when it ends)
        self._last_dropped = ""

    @property
    def maxlen(self) -> int:
        return self._urcs.maxlen or MAX_URCS

    def add(self, urc: Urc) -> None:
        if len(self._urcs) == self._urcs.maxlen:  # full: the append below drops the oldest
            dropped = self._urcs[0]
            if not self._dropping:
                self._note(f"URC queue full ({self._urcs.maxlen} queued, none taken): "
                           f"dropping the oldest from now on, first {dropped.line!r}")
            self._dropping += 1
            self.dropped += 1
            self._last_dropped = dropped.line
        self._urcs.append(urc)

    def take(self, want: str, predicate: Callable[[Urc], bool] | None = None) -> Urc | None:
        """The first queued URC called `want` (upper case) matching `predicate`, removed; None if none."""
        for i, u in enumerate(self._urcs):
            if u.name.upper() == want and (predicate is None or predicate(u)):
                del self._urcs[i]
                self.note_drops()
                return u
        return None

    def queued(self) -> list[Urc]:
        return list(self._urcs)

    def drain(self) -> list[Urc]:
        out = list(self._urcs)
        self._urcs.clear()
        self.note_drops()
        return out

    def note_drops(self) -> None:
        """End of a run of drops (a URC was taken, or an exchange begins): say how many went."""
        if self._dropping:
            self._note(f"URC queue: dropped {self._dropping} URC(s), the oldest first "
                       f"(the last of them {self._last_dropped!r})")
            self._dropping = 0
