"""Output that a host does not read: bounded, and the loss said where a tester looks.

Why the newest bytes go: a real module's UART has no flow control here (the note's hosts use
none), so what it sends while the host is not reading overruns the host's receive buffer. The
host keeps what it had already buffered (the oldest) and misses what came after (the newest)
until it reads again; then it gets what the module sends from then on. The emulator's
transports do the same at OUT_CAP bytes of unsent output, so a host that stops reading costs
the emulator at most OUT_CAP bytes of memory, not everything the module said since.

The loss goes to the emulator's log (stderr) once when it starts and once with the count when
output fits again (so a flood does not flood the log too), and into the engine's running
total that the control socket's ``stats`` request reports. Never into the AT stream: a host
would take a note there for the module's output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("harness.emulator")

OUT_CAP = 1 << 20  # bytes of output kept for a host that does not read (then the newest are lost)


class Overflow:
    """One bounded output buffer's losses: `fit` cuts what does not fit and notes it."""

    def __init__(self, where: str, count: Callable[[int], None], cap: int = OUT_CAP) -> None:
        self.where, self.cap = where, cap
        self._count = count  # the engine's running total (ATEngine.output_lost)
        self._run = 0  # bytes lost since the loss began (0: output fits)

    def fit(self, data: bytes, queued: int) -> bytes:
        """The part of `data` that fits beside `queued` unsent bytes; the rest is lost."""
        room = max(self.cap - queued, 0)
        if len(data) <= room:
            self.end()
            return data
        if not self._run:
            log.warning("%s: the host is not reading; output beyond %d unsent bytes is lost "
                        "(the newest, as on a UART the host does not read)", self.where, self.cap)
        lost = len(data) - room
        self._run += lost
        self._count(lost)
        return data[:room]

    def end(self) -> None:
        """Output fits again (or the host went): say how much was lost in this run."""
        if self._run:
            log.warning("%s: %d bytes of output were lost while the host was not reading",
                        self.where, self._run)
            self._run = 0
