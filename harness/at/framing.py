"""Bytes from the UART -> lines, per 3.1.2 (<CR><LF><response><CR><LF>).

Any CR or LF ends a line and empty lines are dropped, which covers the module's echo
(`AT...<CR>`), its framed responses, and hosts' bare-LF peers alike. The data-mode prompt
(`> `, 3.3.8) has no line end, so the framer exposes the unterminated tail for the channel
to look at. Garbage must never stop the reader: bytes decode with replacement characters
and a run without line end is cut at MAX_LINE bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LINE = 4096


@dataclass
class Framed:
    text: str  # decoded, stripped of surrounding whitespace
    cut: bool = False  # True when MAX_LINE bytes arrived without a line end


class LineFramer:
    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[Framed]:
        self.buf.extend(data)
        out: list[Framed] = []
        while True:
            ends = [i for i in (self.buf.find(b"\r"), self.buf.find(b"\n")) if i >= 0]
            if not ends:
                break
            i = min(ends)
            raw = bytes(self.buf[:i])
            del self.buf[: i + 1]
            if raw.strip():
                out.append(Framed(decode(raw)))
        while len(self.buf) >= self.max_line:
            raw = bytes(self.buf[: self.max_line])
            del self.buf[: self.max_line]
            out.append(Framed(decode(raw), cut=True))
        return out

    def tail(self) -> str:
        """The unterminated rest, decoded and stripped (e.g. '>' for the data prompt)."""
        return decode(bytes(self.buf))

    def clear_tail(self) -> None:
        self.buf.clear()


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").strip()
