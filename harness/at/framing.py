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

_EOL = re.compile(rb"[\r\n]")

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
        """Linear in the bytes fed: each byte is searched once for a line end (a +QMTRECV
        payload held open over a line end is searched on from where it was left), lines are
        cut off the front of the buffer (O(1) for a bytearray), and a run without line end is
        cut at max_line, so the buffer never holds more than max_line bytes between feeds."""
        buf = self.buf
        buf.extend(data)
        out: list[Framed] = []
        pos, scan, n = 0, self._scan, len(buf)  # lines are cut off the front once, at the end
        while True:
            # Only line ends within max_line bytes count: a longer run is cut however the bytes
            # were split into reads (a socket hands over 64 KiB at once, a UART a few bytes).
            eol = _EOL.search(buf, scan, min(n, pos + self.max_line))
            if eol is None:
                if n - pos < self.max_line:
                    scan = n  # nothing before here needs searching again
                    break
                out.append(Framed(decode(bytes(buf[pos:pos + self.max_line])), cut=True))
                pos = scan = pos + self.max_line
                continue
            i = eol.start()
            if i == pos:  # an empty line (the <LF> of <CR><LF>, a blank line)
                pos = scan = i + 1
                continue
            raw = bytes(buf[pos:i])
            held = payload_open(raw, buf, i)
            if held is None:
                scan = i  # cannot tell yet whether this line end is inside the message
                break
            if held:
                scan = i + 1  # the CR/LF belongs to the message
                continue
            pos = scan = i + 1
            if raw.strip():
                out.append(Framed(decode(raw)))
        del buf[:pos]
        self._scan = scan - pos
        return out

    def tail(self) -> str:
        """The unterminated rest, decoded and stripped (e.g. '>' for the data prompt)."""
        return decode(bytes(self.buf))

    def tail_is_prompt(self) -> bool:
        """The rest is the data-mode prompt `>` (3.3.8), which has no line end; cheap to ask
        after every read, however long the rest is."""
        return len(self.buf) <= 8 and self.tail() == ">"

    def clear_tail(self) -> None:
        self.buf.clear()
        self._scan = 0


def payload_open(raw: bytes, buf: bytes | bytearray, end: int) -> bool | None:
    """Whether the line end at buf[end], after `raw`, lies inside a +QMTRECV payload (None: not
    known until more bytes arrive). With <payload_len> the bytes are counted (a hex payload is
    longer than its length, so it is never held back). Without it the payload ends at a closing
    quote; a payload left open by a faulty DUT still ends where the next line is a result or a
    URC (the bytes after the line end), so one bad URC cannot swallow what follows. Only looks
    past the line end when `raw` is an open +QMTRECV: framing stays linear."""
    m = _RECV_HEAD.match(raw)
    if m is None:
        return False
    payload = raw[m.end():]
    if m.group(1) is not None:
        return len(payload) < int(m.group(1)) + 1  # the message and its closing quote
    if payload.rstrip(b" ").endswith(b'"'):
        return False
    j, n = end, len(buf)
    while j < n and buf[j] in (0x0D, 0x0A):
        j += 1
    nxt = bytes(buf[j:j + 64])
    if _RESPONSE_START.match(nxt):
        return False
    if len(nxt) < _LONGEST_START and not any(c in nxt for c in b"\r\n"):
        return None
    return True


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").strip()
