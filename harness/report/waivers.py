"""Waivers: known deviations of one firmware, accepted visibly and for a limited time.

A waiver file is YAML, a list of entries (or a mapping whose `waivers:` key holds the list):

    waivers:
      - case: "suites/test_qmtconn.py::test_no_connack_fails_to_send"   # a node id or a glob
        firmware: "BC660KGLAAR01A0[35]"                                 # glob on the revision; default *
        reason: "A03/A05 answer +QMTCONN: 0,1 before 0,2"
        ticket: "QTL-1234"
        expires: 2026-06-30                                              # last day it waives
      - observation: "5.1/QMTSTAT/1"          # a plain-reading id or an observation name (glob)
        reason: "peer close reported as 7"
        ticket: "QTL-1240"
        expires: 2026-03-31

`case` matches a failing case's node id (fnmatch: `*`, `?`, `[...]`; write `[[]` for a
literal `[` of a parametrization, or give the exact node id, which always matches itself).
`observation` matches a deviation from the note's plain reading (harness.spec.plain) by the
reading's id ("5.1/QMTSTAT/1") or by the observation's name; it only waives what `--strict`
would fail. Exactly one of the two. An entry waives only while today <= `expires`.

This module knows nothing of pytest: harness/plugin/verdicts.py applies it to a run.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

WAIVED_PREFIX = "waived: "


class WaiverError(Exception):
    """A waiver file that cannot be used; str() is one line naming the file, entry and key."""


class Waiver(BaseModel):
    """One entry of a waiver file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: str | None = None
    observation: str | None = None
    firmware: str = "*"
    reason: str
    ticket: str
    expires: dt.date

    @field_validator("case", "observation", "firmware", "reason", "ticket", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError(f"expected a string; got {value!r}")
        if isinstance(value, str) and not value.strip():
            raise ValueError("expected a non-empty string")
        return value

    @field_validator("expires", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise ValueError(f"expected a date YYYY-MM-DD; got {value!r}")

    @model_validator(mode="after")
    def _one_target(self) -> Waiver:
        if (self.case is None) == (self.observation is None):
            raise ValueError("give exactly one of 'case' and 'observation'")
        return self

    @property
    def target(self) -> str:
        return f"case {self.case}" if self.case is not None else f"observation {self.observation}"

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def firmware_matches(self, firmware: str) -> bool:
        return firmware == self.firmware or fnmatch.fnmatchcase(firmware, self.firmware)

    def matches_case(self, nodeid: str, firmware: str) -> bool:
        return self.case is not None and self.firmware_matches(firmware) and (
            nodeid == self.case or fnmatch.fnmatchcase(nodeid, self.case))

    def matches_observation(self, names: Iterable[str], firmware: str) -> bool:
        pattern = self.observation
        return pattern is not None and self.firmware_matches(firmware) and any(
            n == pattern or fnmatch.fnmatchcase(n, pattern) for n in names if n)

    def text(self) -> str:
        """"waived: <reason> [<ticket>, expires YYYY-MM-DD]": what every report shows."""
        return f"{WAIVED_PREFIX}{self.reason} [{self.ticket}, expires {self.expires.isoformat()}]"

    def as_dict(self) -> dict[str, str]:
        key = "case" if self.case is not None else "observation"
        return {key: str(self.case if self.case is not None else self.observation), "firmware": self.firmware,
                "reason": self.reason, "ticket": self.ticket, "expires": self.expires.isoformat()}


@dataclass
class WaiverSet:
    """The entries of one file, matched against one run; remembers which ones matched what."""

    path: Path
    entries: tuple[Waiver, ...]
    today: dt.date = field(default_factory=dt.date.today)
    matched: dict[int, list[str]] = field(default_factory=dict)  # entry index -> node ids it matched

    def for_case(self, nodeid: str, firmware: str) -> tuple[int, Waiver] | None:
        """The first case entry matching a failure of `nodeid` on `firmware`, expired or not
        (an unexpired one first): the caller waives with it only when it has not expired."""
        return self._first(i for i, w in enumerate(self.entries) if w.matches_case(nodeid, firmware))

    def for_observation(self, names: Sequence[str], firmware: str) -> tuple[int, Waiver] | None:
        """The first observation entry matching a deviation known by any of `names` (its
        plain-reading id, its observation name) on `firmware`; unexpired ones first."""
        return self._first(i for i, w in enumerate(self.entries) if w.matches_observation(names, firmware))

    def _first(self, hits: Iterable[int]) -> tuple[int, Waiver] | None:
        found = list(hits)
        found.sort(key=lambda i: self.entries[i].expired(self.today))  # stable: file order within each
        return (found[0], self.entries[found[0]]) if found else None

    def note(self, index: int, nodeid: str) -> None:
        """Entry `index` matched a failure or deviation of `nodeid` (bookkeeping for the summary)."""
        hits = self.matched.setdefault(index, [])
        if nodeid not in hits:
            hits.append(nodeid)

    def summary(self, *, whole_suite: bool, firmware: str | None) -> dict[str, Any]:
        """Used, expired and unmatched entries. Unmatched (no failure or deviation matched them)
        is only meaningful for a whole-suite run, and only for entries that apply to the run's
        firmware; otherwise the list is empty and `unmatched_checked` is False."""
        used, expired, unmatched = [], [], []
        for i, w in enumerate(self.entries):
            row: dict[str, Any] = w.as_dict()
            if i in self.matched:
                row["matched"] = list(self.matched[i])
            if w.expired(self.today):
                expired.append(row)
            elif i in self.matched:
                used.append(row)
            elif whole_suite and (firmware is None or w.firmware_matches(firmware)):
                unmatched.append(row)
        return {"file": str(self.path), "today": self.today.isoformat(), "used": used, "expired": expired,
                "unmatched": unmatched, "unmatched_checked": whole_suite}


def load_waivers(path: str | Path, today: dt.date | None = None) -> WaiverSet:
    """Read and validate a waiver file; WaiverError (one line) on any mistake."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WaiverError(f"{path}: cannot read the waiver file: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise WaiverError(f"{path}: not valid YAML{where}: {problem}") from None
    if isinstance(raw, dict):
        unknown = sorted(str(k) for k in raw if k != "waivers")
        if unknown:
            raise WaiverError(f"{path}: unknown top-level key {unknown[0]!r} (expected 'waivers')")
        raw = raw.get("waivers")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise WaiverError(f"{path}: expected a list of waivers (or 'waivers:' with a list); "
                          f"got {type(raw).__name__}")
    entries: list[Waiver] = []
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise WaiverError(f"{path}: entry {index}: expected a mapping of case/observation, firmware, "
                              f"reason, ticket, expires; got {item!r}")
        try:
            entries.append(Waiver.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "missing":
                msg = "required"
            elif err["type"] == "extra_forbidden":
                msg = "unknown key (expected case or observation, firmware, reason, ticket, expires)"
            where = f"{key}: " if key else ""
            raise WaiverError(f"{path}: entry {index}: {where}{msg}") from None
    return WaiverSet(path, tuple(entries), today or dt.date.today())
