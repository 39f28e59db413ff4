"""Types for the application note as data: every entry carries its section and the line
of the note it comes from, so a failing case can say which promise was broken, and the
coverage report can list every promise with the cases that check it."""

from __future__ import annotations

from dataclasses import dataclass

_FILL = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class Entry:
    """One citable promise of the note. `id` is stable: cases and the coverage report key on it."""

    id: str
    kind: str  # param | cfg_item | command | form | time | code | error | qmtstat | urc | note | unclear | example
    section: str  # as the note numbers it: "3.3.1", "4", "5.1", "6.2"
    quote: str  # at most one line of the note; "..." joins fragments of that line
    unclear: str | None = None  # set when the note gives no single answer (see harness.spec.unclear)


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
    meanings: tuple[tuple[int, str], ...] = ()  # value -> the note's words, for listed values
    supported: tuple[int, ...] | None = None  # "Currently only 0 is supported": the subset that works

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

    def render(self, value: int) -> str:
        return str(value)


@dataclass(frozen=True)
class StrParam:
    """A "String type" parameter: a byte-length range, written in double quotes on the command line.

    The note gives most strings only a maximum; `min_len` 0 then means "the note sets no minimum"
    (whether "" is accepted is for the case to observe). `secret` marks values that must never
    reach a log (device secret, password)."""

    name: str
    section: str
    min_len: int
    max_len: int | None  # None: the note gives no maximum
    quote: str
    quoted: bool = True
    secret: bool = False
    unclear: str | None = None

    def sample(self, length: int) -> str:
        """A printable ASCII value of exactly `length` bytes whose pattern shows truncation."""
        return (_FILL * (length // len(_FILL) + 1))[:length]

    def valid_values(self) -> list[str]:
        """The shortest and the longest value the note allows."""
        vals = [self.sample(max(self.min_len, 1))]
        if self.max_len is not None and self.max_len > max(self.min_len, 1):
            vals.append(self.sample(self.max_len))
        return vals

    def invalid_values(self) -> list[str]:
        """One byte past the maximum (and the empty string when the note sets a minimum)."""
        vals = [""] if self.min_len > 0 else []
        if self.max_len is not None:
            vals.append(self.sample(self.max_len + 1))
        return vals

    def test_range(self) -> str:
        """The test command prints a string parameter as its placeholder, e.g. "<will_topic>"
        (chapter 6: "+QMTCONN: (0-4),<clientID>,<username>,<password>")."""
        return f"<{self.name}>"

    def render(self, value: str) -> str:
        return f'"{value}"' if self.quoted else value

    def display(self, value: str) -> str:
        """What a log may show: secrets become asterisks (same count of quotes, never the value)."""
        return self.render("***") if self.secret else self.render(value)


Param = IntParam | StrParam


@dataclass(frozen=True)
class CfgItem:
    """One AT+QMTCFG item (3.3.1): its parameters after <TCP_connectID>, in command order."""

    name: str
    section: str
    params: tuple[Param, ...]
    quote: str  # the write command line of the note
    counts: tuple[int, ...] = ()  # how many parameters after <TCP_connectID> the write form allows
    query: str = ""  # the note's response format of the query (write form without optional parameters)
    test_name: str = ""  # the name the test form prints, when the note spells it differently
    query_optional: bool = False  # the note brackets the whole query line ("aliauth")

    @property
    def syntax(self) -> str:
        """The write form as one line (the quote may be split where the note's layout split it)."""
        return self.quote.replace(" ... ", "")

    def test_line(self, connect_id: IntParam) -> str:
        ranges = ",".join(p.test_range() for p in (connect_id, *self.params))
        return f'+QMTCFG: "{self.test_name or self.name}",{ranges}'

    def allowed_counts(self) -> tuple[int, ...]:
        return self.counts or (0, len(self.params))

    def write_line(self, connect_id: int, *values: int | str) -> str:
        """AT+QMTCFG="<item>",<id>,<values...> with strings quoted as their parameter says."""
        args = [p.render(v) for p, v in zip(self.params, values, strict=False)]  # type: ignore[arg-type]
        return ",".join([f'AT+QMTCFG="{self.name}"', str(connect_id), *args])

    def query_line(self, *values: int | str) -> str:
        """The query response for these values, e.g. query_line(120) -> "+QMTCFG: 120"."""
        return "+QMTCFG: " + ",".join(p.render(v) for p, v in zip(self.params, values, strict=False))  # type: ignore[arg-type]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"AT+QMTCFG=\"{self.name}\" has no parameter <{name}>")
