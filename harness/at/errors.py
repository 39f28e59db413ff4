"""Exceptions of the AT channel.

Every error a case or fixture can get from the channel derives from `ATError`, so the
recovery ladder can catch one type. Messages are single lines: they end up in pytest's
short summary and in the reports, where a traceback wall helps nobody.
"""

from __future__ import annotations


class ATError(Exception):
    """Base of all channel errors."""


class PortOpenError(ATError):
    """The pyserial URL could not be opened (missing device, refused socket, bad URL)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = " ".join(str(reason).split())  # one line, whatever pyserial said
        self.raw = ""  # pyserial's own words, for callers that act on them (port.open_port)
        super().__init__(f"cannot open serial port '{url}': {self.reason}")


class ATTimeout(ATError):
    """No final result (or no URC) within the deadline derived from the note's response times."""

    def __init__(self, what: str, deadline_s: float, received: str = "") -> None:
        self.what = what
        self.deadline_s = deadline_s
        self.received = received
        got = received if received else "nothing"
        super().__init__(f"timeout after {deadline_s:.1f} s waiting for {what}; received so far: {got}")


class ATProtocolError(ATError):
    """The DUT answered in a way the AT syntax (3.1.2) does not allow at that point.

    `response` is the command's own answer when the channel still paired it (e.g. the DUT sent
    one final result too many before it: the case fails, but the answer is not lost); else None.
    """

    def __init__(self, message: str, response: object | None = None) -> None:
        self.response = response
        super().__init__(message)


class ATResyncError(ATTimeout):
    """After a timeout (or a protocol error) the DUT did not prove the line clean again: no
    probe got a single, unmistakable answer. The command was not sent; the recovery ladder
    (harness/rig/ladder.py) takes over from here. An ATTimeout, as the old channel raised."""

    def __init__(self, before: str, why: str, tried: str) -> None:
        self.what = f"resync before {before}"
        self.deadline_s = 0.0
        self.received = tried
        ATError.__init__(self, f"the DUT did not resynchronise after {why}: {tried}; {before} was not sent")
