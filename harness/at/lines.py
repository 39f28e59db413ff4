"""What a received line is: the AT syntax of the note (3.1.2) and the URC table (chapter 5).

Pure functions and records, no I/O, so the demux rules can be read (and tested) in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.spec.urcs import URCS

# Prefixes that are unsolicited result codes: the note's URC table (chapter 5 and the 3.3.x result
# URCs, harness/spec/urcs.py), Figure 1's other spellings, and the general ones a BC660K-GL reports
# around boot and attach (DESIGN.md "Module facts"). +QMTRCV is Figure 1's spelling of +QMTRECV; both
# are accepted as URCs and reported as sent.
URC_PREFIXES: frozenset[str] = frozenset(URCS) | frozenset({
    "+QMTPUBREL", "+QMTRCV",  # Figure 1
    "RDY", "+CEREG", "+CFUN", "+CPIN", "+IP", "+QNBIOTEVENT", "+CSCON",  # boot / network
})

# Write forms whose result comes as a URC *after* OK (3.3.2-3.3.8): while one of these is
# pending, a line with its own prefix is the previous/next result URC, not an information line.
ASYNC_WRITE_COMMANDS: frozenset[str] = frozenset({
    "+QMTOPEN", "+QMTCLOSE", "+QMTCONN", "+QMTDISC", "+QMTSUB", "+QMTUNS", "+QMTPUB",
})

RECV_URCS = frozenset({"+QMTRECV", "+QMTRCV"})
_CME = re.compile(r"^\+CM[ES] ERROR:\s*(.*)$")
_INT = re.compile(r"-?\d+")


def prefix(line: str) -> str:
    """`+QMTPUB : (0-4),...` -> `+QMTPUB` (the chapter 6 example has a space before ':')."""
    head, sep, _ = line.partition(":")
    return head.strip() if sep else line.strip()


def is_final(line: str) -> bool:
    """OK, ERROR, +CME ERROR: <err> (3.1.2; +CMS ERROR accepted for the general commands)."""
    s = line.strip()
    return s in ("OK", "ERROR") or _CME.match(s) is not None


def is_async_write(command: str, name: str) -> bool:
    body = command.strip()[2 + len(name):] if command.strip()[:2].upper() == "AT" else ""
    return name in ASYNC_WRITE_COMMANDS and body.startswith("=") and not body.startswith("=?")


def _split(text: str) -> list[str]:
    """Split on commas outside double quotes; a quote closes only before ',' or the end."""
    if '"' not in text:
        return text.split(",")
    fields: list[str] = []
    cur: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"' and not quoted and not "".join(cur).strip():
            quoted = True
            cur.append(ch)
        elif ch == '"' and quoted and (i + 1 == len(text) or text[i + 1:].lstrip(" ").startswith(",")):
            quoted = False
            cur.append(ch)
        elif ch == "," and not quoted:
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    fields.append("".join(cur))
    return fields


def _value(field_text: str) -> int | str:
    s = field_text.strip()
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return s[1:-1]
    if _INT.fullmatch(s):
        return int(s)
    return s


def parse_args(text: str) -> list[int | str]:
    """`0,"a,b",12` -> [0, "a,b", 12]: unquoted integers -> int, quoted strings unquoted, else str.

    A quote only closes a string when a comma or the end follows it, so payloads with inner
    quotes that the module does not escape (chapter 6: `"{"a":"1"}"`) survive as long as they
    do not contain `",`.
    """
    if not text.strip():
        return []
    return [_value(f) for f in _split(text)]


def parse_recv(text: str) -> list[int | str]:
    """+QMTRECV: <id>,<msgID>,<topic>[,<payload_len>],<payload> (chapter 5).

    The payload is the rest of the line whatever it contains (JSON is full of `",`), so it
    is not split on commas; <payload_len> is there when AT+QMTCFG="showrecvlen" is 1.
    """
    fields = _split(text)
    if len(fields) < 4:
        return parse_args(text)
    head = [_value(f) for f in fields[:3]]
    rest = ",".join(fields[3:])
    m = re.match(r"\s*(\d+)\s*,(.*)$", rest, re.S)
    if m and not rest.lstrip().startswith('"'):
        return [*head, int(m.group(1)), _value(m.group(2))]
    return [*head, _value(rest)]


@dataclass
class Response:
    """The answer to one command line: echo, information lines, final result (3.1.2)."""

    command: str
    lines: list[str]
    final: str
    echo: str | None
    started: float
    finished: float
    data_echo: list[str] = field(default_factory=list)  # payload lines echoed in data mode (echo_mode)

    @property
    def ok(self) -> bool:
        return self.final == "OK"

    @property
    def cme_error(self) -> int | str | None:
        m = _CME.match(self.final.strip())
        if not m:
            return None
        err = m.group(1).strip()
        return int(err) if err.isdigit() else err

    @property
    def elapsed(self) -> float:
        return self.finished - self.started


@dataclass
class Urc:
    """An unsolicited result code (chapter 5), parsed."""

    name: str
    args: list[int | str]
    line: str
    t: float

    @classmethod
    def parse(cls, line: str, t: float) -> Urc:
        name = prefix(line)
        _, sep, rest = line.partition(":")
        if not sep:
            return cls(name, [], line, t)
        args = parse_recv(rest.strip()) if name.upper() in RECV_URCS else parse_args(rest.strip())
        return cls(name, args, line, t)
