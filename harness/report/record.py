"""The qualification record: one JSON file per run that says what was run against which
DUT and what came out, case by case. The matrix, the firmware diff and the history are all
computed from it, so it is the one artefact a lab keeps.

Every case of the selection is in it from the start as `not-run`; each phase report moves it
on. A case that started but never finished (the run was cut short under it) ends as
`interrupted`, so a record can never say "passed" for a case whose body did not complete, and
the top-level `complete`/`incomplete` fields say whether, why and where the run stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "bc660k-qualification-record/2"
SCHEMAS = ("bc660k-qualification-record/1", SCHEMA)  # readers accept both
VERDICTS = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "waived", "interrupted", "not-run")
# worst wins when phases disagree (a failed call then a failed teardown is an error)
_RANK = {"not-run": -1, "passed": 0, "xfailed": 1, "skipped": 1, "waived": 2, "xpassed": 2, "failed": 3,
         "error": 4, "interrupted": 5}
MESSAGE_MAX = 2000  # characters of a failure message kept in the record


@dataclass
class CaseRecord:
    nodeid: str
    sections: list[str]
    verdict: str = "not-run"
    duration_s: float = 0.0
    message: str = ""  # pytest's crash message of a failure, the skip reason, the waiver
    location: str = ""  # path:line of the failure
    observations: dict[str, str] = field(default_factory=dict)
    deviations: dict[str, dict[str, Any]] = field(default_factory=dict)  # from the note's plain reading
    dut: str = ""  # which DUT ran it (several DUTs with pytest -n)
    phases: list[str] = field(default_factory=list)  # "start", then the phases reported: setup, call, teardown


@dataclass
class RunRecord:
    facts: dict[str, str]
    rig: dict[str, Any]
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cases: dict[str, CaseRecord] = field(default_factory=dict)
    incomplete: dict[str, str] | None = None  # kind, reason, at (the case it stopped in)
    extra: dict[str, Any] = field(default_factory=dict)  # other top-level facts (waivers, ...)

    def case(self, nodeid: str, sections: list[str] | None = None) -> CaseRecord:
        if nodeid not in self.cases:
            self.cases[nodeid] = CaseRecord(nodeid, list(sections or []))
        elif sections and not self.cases[nodeid].sections:
            self.cases[nodeid].sections = list(sections)
        return self.cases[nodeid]

    def select(self, nodeids_sections: list[tuple[str, list[str]]]) -> None:
        """The selection: every case starts as not-run until a phase says otherwise."""
        for nodeid, sections in nodeids_sections:
            self.case(nodeid, sections)

    def begin(self, nodeid: str) -> None:
        """The case started (pytest logged its start): from now on it cannot end as not-run."""
        case = self.case(nodeid)
        if not case.phases:
            case.phases.append("start")

    def phase(self, nodeid: str, sections: list[str], when: str, outcome: str, duration: float,
              message: str = "", xfail: bool = False, location: str = "", waived: bool = False) -> None:
        """Fold one phase report (setup/call/teardown) into the case's verdict: a failed setup
        or teardown is an error, a failed call a failure, the worst phase wins."""
        case = self.case(nodeid, sections)
        case.duration_s += duration
        case.phases.append(when)
        verdict = {"passed": "passed", "skipped": "skipped", "failed": "failed"}[outcome]
        if waived:
            verdict = "waived"
        elif xfail:
            verdict = "xfailed" if outcome == "skipped" else "xpassed"
        elif outcome == "failed" and when != "call":
            verdict = "error"
        if _RANK[verdict] > _RANK[case.verdict] or (when == "setup" and verdict == "skipped"):
            case.verdict = verdict
            case.message = message[:MESSAGE_MAX]
            case.location = location

    def finish(self, incomplete: dict[str, str] | None = None) -> None:
        """End of the run: a case that started and did not reach its teardown report was cut
        short under it (interrupted), whatever its setup said; the others keep their verdict."""
        self.finished = time.time()
        self.incomplete = incomplete
        for case in self.cases.values():
            if case.phases and "teardown" not in case.phases and case.verdict in ("passed", "skipped", "not-run"):
                case.verdict = "interrupted"
                case.message = f"the run was cut short during this case ({(incomplete or {}).get('reason', '?')})"

    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(VERDICTS, 0)
        for c in self.cases.values():
            counts[c.verdict] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "facts": self.facts,
            "rig": self.rig,
            "started": self.started,
            "finished": self.finished,
            "complete": self.incomplete is None,
            "incomplete": self.incomplete,
            "summary": self.summary(),
            **self.extra,
            "cases": [{k: v for k, v in asdict(c).items() if k != "phases"} for c in self.cases.values()],
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, sort_keys=False, allow_nan=False), encoding="utf-8")
        tmp.replace(path)  # a reader never sees half a record, even if the run is killed mid-write
        return path


class RecordError(Exception):
    """A file that is not a qualification record; one line naming the file."""


def load_record(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{p}: file not found") from None
    except (OSError, ValueError) as exc:
        raise RecordError(f"{p}: not a readable JSON record ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") not in SCHEMAS:
        raise RecordError(f"{p}: not a qualification record (expected schema {SCHEMA!r})")
    return data
