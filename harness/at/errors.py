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
    """The DUT answered in a way the AT syntax (3.1.2) does not allow at that point."""
