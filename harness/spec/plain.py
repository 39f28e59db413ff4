"""The plain reading of the note, for observations of points it leaves open.

DESIGN.md ("Where the application note is unclear") has the suite *observe* some answers
instead of judging them, because the note contradicts itself or leaves a gap. Many of those
points still have a plain reading: the line a lab would cite if it qualified a firmware
against the note's words alone (Table 4: the peer closing the link is `+QMTSTAT: <id>,1`).
A case passes such a reading to `observe(name, value, plain=...)`; the record keeps how far the
DUT was from it, and `--strict` fails the case when it deviates.

Every reading rests on a line of the note: `LINES` maps the reading's id (a harness.spec entry
id where the note has one) to its section and at most one quoted line, and
tests/spec/test_spec_data.py checks each quote against the note. Cases build readings with
`reading(id, expected)` (or `qmtstat`), so an unknown id fails at import, and every quote a
report can show is one the test has checked.

Where the note gives no reading at all (an answer it never states, two rows of a table that
both fit), a case records the observation without `plain=` and says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .codes import QMTSTAT, all_codes

# id -> (section, one line of the note). Codes of chapter 3.3/5.1 come from harness.spec.codes
# (already checked against the note); the rest are quoted here.
LINES: dict[str, tuple[str, str]] = {
    **{c.id: (c.section, c.quote) for c in all_codes()},
    # 3.3.5: DISCONNECT announces that the client closes its TCP connection: nothing stays open.
    "3.3.5/QMTDISC/closes_tcp": (
        "3.3.5", "the client to the server to indicate that it is about to close its TCP/IP connection."),
    # 3.3.8 test form: "+QMTPUB: (" like every other response (6.1's "+QMTPUB : " is an example).
    "3.3.8/QMTPUB/test": ("3.3.8", "+QMTPUB: (range of supported <TCP_connectID>s),"),
}


@dataclass(frozen=True)
class PlainReading:
    """What the plain reading of the note expects an observed value to be, and the line it rests on."""

    id: str  # the reading's id in LINES ("5.1/QMTSTAT/1")
    section: str
    quote: str  # at most one line of the note
    expected: Any  # in the shape the case observes (a code, a line, a list of lines)

    def matches(self, got: Any) -> bool:
        return _norm(got) == _norm(self.expected)

    def deviation(self, got: Any) -> dict[str, Any]:
        """The record's entry: expected, got, section, quote and whether they match."""
        return {"expected": _jsonable(self.expected), "got": _jsonable(got), "section": self.section,
                "quote": self.quote, "matches": self.matches(got), "reading": self.id}

    def describe(self, got: Any) -> str:
        """One line for a --strict failure."""
        return (f"plain reading of the note §{self.section}: '{self.quote}' expects {_show(self.expected)}, "
                f"the DUT answered {_show(got)}")


def reading(reading_id: str, expected: Any) -> PlainReading:
    """The plain reading `reading_id` (a key of LINES) expecting `expected`."""
    try:
        section, quote = LINES[reading_id]
    except KeyError:
        raise KeyError(f"no plain reading {reading_id!r} in harness.spec.plain.LINES") from None
    return PlainReading(reading_id, section, quote, expected)


QMTSTAT_CODES = {c.value for c in QMTSTAT}


def qmtstat(code: int, cid: int | None = None) -> PlainReading:
    """5.1 Table 4 <err_code> `code`: expects the code itself, or the URC line for connect ID `cid`."""
    if code not in QMTSTAT_CODES:
        raise ValueError(f"5.1 Table 4 defines <err_code> 1..7, not {code}")
    return reading(f"5.1/QMTSTAT/{code}", code if cid is None else f"+QMTSTAT: {cid},{code}")


def _norm(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return None if value is None else str(value)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return _norm(value)
    return value


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else repr(value)
