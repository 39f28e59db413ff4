"""Routing one received line: echo, final result, information, URC, payload echo, or stale.

Pure: the channel's reader calls `classify` under its lock with the pending command (or None)
and acts on the answer. The rules are the note's (3.1.2 syntax, 3.3.2-3.3.8 result URCs,
chapter 5 URCs) plus DESIGN.md's module facts (echo, data mode); see channel.py's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.at.lines import URC_PREFIXES, Response, is_final, prefix
from harness.at.transcript import visible


@dataclass
class Pending:
    """The command in flight, filled in by the reader thread."""

    command: str
    name: str
    async_write: bool
    started: float
    data_mode: bool = False
    require_echo: bool = False
    echo: str | None = None
    lines: list[str] = field(default_factory=list)
    data_echo: list[str] = field(default_factory=list)
    final: str | None = None
    finished: float = 0.0
    prompt: bool = False
    payload_text: str = ""  # set once the payload is on its way: its echo (echo_mode) is not info
    error: str | None = None  # protocol violation seen by the reader (e.g. '>' for a plain command)
    pre_tail: str = ""  # unterminated bytes already there when the command went out: not its answer
    expect_echo: bool = False  # echo is known on: nothing before the echo (or its stand-in) answers this
    slot: bool = False  # the echo, or a line standing in its place, has arrived
    faults: list[str] = field(default_factory=list)  # DUT protocol errors seen around this exchange
    suspect: str | None = None  # a final result before the expected echo: stray if an echo follows
    suspect_at: float = 0.0

    def response(self) -> Response:
        return Response(self.command, list(self.lines), self.final or "", self.echo, self.started,
                        self.finished, list(self.data_echo))


def classify(p: Pending | None, text: str) -> str:
    """Where a line goes: echo | final | info | urc | data_echo | prompt | stale.

    `stale` is a line that cannot belong to the pending command: an answer-like line while
    nothing is pending, anything before a resync probe's echo, and a final result before the
    echo when echo is known on (the module echoes a line as it reads it, DESIGN "Module facts").
    Whether a stale final is a late answer or a DUT protocol error is the channel's call."""
    if p is None:  # nothing pending: a URC, unless it is a (late) answer to a command
        if is_final(text) or text.upper().startswith("AT") or text == ">":
            return "stale"
        return "urc"
    if not p.prompt and text == ">":
        if (p.require_echo or p.expect_echo) and not p.slot:
            return "stale"  # before the echo: a late prompt for an earlier line (the DUT is in data mode)
        return "prompt"
    if p.echo is None and is_echo(text, p.command):
        return "echo"
    if p.require_echo and p.echo is None:  # resync probe: anything before its echo is stale
        return "urc" if prefix(text).upper() in URC_PREFIXES else "stale"
    if p.expect_echo and not p.slot:  # echo on: the DUT has not read the command yet
        if is_final(text):
            return "stale"  # so this final answers something else
        if prefix(text).upper() in URC_PREFIXES:
            return "urc"
        return "info"  # an echo that differs stands in the echo's place (the channel sets slot)
    if is_final(text):
        return "final"
    if p.payload_text and text.strip("\x1a\x1b \t") and text.strip("\x1a\x1b \t") in p.payload_text:
        return "data_echo"
    pre = prefix(text).upper()
    if pre == p.name and not p.async_write:
        return "info"
    if pre in URC_PREFIXES:
        return "urc"
    return "info"


def is_echo(text: str, command: str) -> bool:
    """Equal to the sent line (case-insensitive), or preceded only by garbage (non-printable bytes
    that had no line end of their own, e.g. after a UART glitch)."""
    cmd, up = command.strip().upper(), text.upper()
    if up == cmd:
        return True
    if not up.endswith(cmd):
        return False
    return any(not (" " <= ch <= "~") for ch in text[: len(text) - len(cmd)])


def check_line(line: str) -> None:
    if not isinstance(line, str) or not line.strip():
        raise ValueError(f"AT command line must be a non-empty str, not {line!r}")
    if "\r" in line or "\n" in line:
        raise ValueError(f"AT command line must not contain CR/LF (the channel adds <CR>): {line!r}")


def short(text: str, n: int = 200) -> str:
    text = visible(text)
    return text if len(text) <= n else "..." + text[-n:]


