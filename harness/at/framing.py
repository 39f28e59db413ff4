"""Bytes from the UART -> lines, per 3.1.2 (<CR><LF><response><CR><LF>).

Any CR or LF ends a line and empty lines are dropped, which covers the module's echo
(`AT...<CR>`), its framed responses, and hosts' bare-LF peers alike. The data-mode prompt
(`> `, 3.3.8) has no line end, so the framer exposes the unterminated tail for the channel
to look at. Garbage must never stop the reader: bytes decode with replacement characters
and a run without line end is cut at MAX_LINE bytes.

One exception: a +QMTRECV payload (chapter 5.2) is the message as it came from the broker, CR
and LF included, between quotes the module does not escape. A +QMTRECV line whose payload is
still open (fewer bytes than its <payload_len>, or without the closing quote when the length
is not shown) goes on over the line end, so the URC reaches the channel whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# +QMTRECV: <id>,<msgID>,"<topic>"[,<payload_len>],"   (+QMTRCV is Figure 1's spelling)
# What only the module starts a line with: a final result, RDY, or a URC name and colon.
_RESPONSE_START = re.compile(rb"(OK|ERROR|RDY)(\r|\n)|\+CME ERROR:|\+[A-Z]+:")
_LONGEST_START = len(b"+CME ERROR:")
_RECV_HEAD = re.compile(rb'\s*\+QMTRE?CV:\s*\d+\s*,\s*\d+\s*,\s*"[^"\r\n]*"\s*,(?:\s*(\d+)\s*,)?\s*"', re.I)

MAX_LINE = 4096


@dataclass
class Framed:
    text: str  # decoded, stripped of surrounding whitespace
    cut: bool = False  # True when MAX_LINE bytes arrived without a line end


class LineFramer:
    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.buf = bytearray()
        self._scan = 0  # where the next line end is looked for (past line ends inside a payload)

    def feed(self, data: bytes) -> list[Framed]:
        self.buf.extend(data)
        out: list[Framed] = []
        while True:
            ends = [i for i in (self.buf.find(b"\r", self._scan), self.buf.find(b"\n", self._scan)) if i >= 0]
            if not ends:
                break
            i = min(ends)
            raw = bytes(self.buf[:i])
            held = payload_open(raw, bytes(self.buf[i:]))
            if held is None:
                break  # cannot tell yet whether this line end is inside the message
            if held:
                self._scan = i + 1  # the CR/LF belongs to the message
                continue
            del self.buf[: i + 1]
            self._scan = 0
            if raw.strip():
                out.append(Framed(decode(raw)))
        while len(self.buf) >= self.max_line:
            raw = bytes(self.buf[: self.max_line])
            del self.buf[: self.max_line]
            self._scan = 0
            out.append(Framed(decode(raw), cut=True))
        return out

    def tail(self) -> str:
        """The unterminated rest, decoded and stripped (e.g. '>' for the data prompt)."""
        return decode(bytes(self.buf))

    def clear_tail(self) -> None:
        self.buf.clear()
        self._scan = 0


def payload_open(raw: bytes, after: bytes) -> bool | None:
    """Whether the line end after `raw` lies inside a +QMTRECV payload (None: not known until
    more bytes arrive). With <payload_len> the bytes are counted (a hex payload is longer than
    its length, so it is never held back). Without it the payload ends at a closing quote; a
    payload left open by a faulty DUT still ends where the next line is a result or a URC
    (`after`, the bytes from the line end on), so one bad URC cannot swallow what follows."""
    m = _RECV_HEAD.match(raw)
    if m is None:
        return False
    payload = raw[m.end():]
    if m.group(1) is not None:
        return len(payload) < int(m.group(1)) + 1  # the message and its closing quote
    if payload.rstrip(b" ").endswith(b'"'):
        return False
    nxt = after.lstrip(b"\r\n")
    if _RESPONSE_START.match(nxt):
        return False
    if len(nxt) < _LONGEST_START and not any(c in nxt for c in b"\r\n"):
        return None
    return True


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").strip()
