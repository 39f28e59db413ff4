"""Types for the application note as data: every entry carries its section and the line
of the note it comes from, so a failing case can say which promise was broken."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IntParam:
    """An "Integer type" parameter with a range (3.3.x parameter tables)."""

    name: str  # as the note writes it, without angle brackets
    section: str
    lo: int
    hi: int
    default: int | None  # None: the note gives none (or lost its underline; see `unclear`)
    quote: str  # the note's line the range comes from
    unclear: str | None = None  # why the note gives no single answer (DESIGN.md)

    def valid_values(self) -> list[int]:
        """Each bound (and, for wide ranges, a value inside)."""
        vals = [self.lo, self.hi]
        if self.hi - self.lo > 1:
            vals.insert(1, (self.lo + self.hi) // 2)
        return vals

    def invalid_values(self) -> list[int]:
        """One past each bound."""
        return [self.lo - 1, self.hi + 1]

    def test_range(self) -> str:
        """How the test command (=?) prints this range: "(lo-hi)" or, for two values, "(lo,hi)"."""
        return f"({self.lo},{self.hi})" if self.hi - self.lo == 1 else f"({self.lo}-{self.hi})"


@dataclass(frozen=True)
class CfgItem:
    """One AT+QMTCFG item (3.3.1): its parameters after <TCP_connectID>, in command order."""

    name: str
    section: str
    params: tuple[IntParam, ...]
    quote: str  # the write command line of the note

    def test_line(self, connect_id: IntParam) -> str:
        ranges = ",".join(p.test_range() for p in (connect_id, *self.params))
        return f'+QMTCFG: "{self.name}",{ranges}'
