"""The qualification record: one JSON file per run that says what was run against which
DUT and what came out, case by case. The matrix, the firmware diff and the history are all
computed from it, so it is the one artefact a lab keeps."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "bc660k-qualification-record/1"
VERDICTS = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


@dataclass
class CaseRecord:
    nodeid: str
    sections: list[str]
    verdict: str = "passed"
    duration_s: float = 0.0
    message: str = ""  # first line of the failure or the skip reason
    observations: dict[str, str] = field(default_factory=dict)
    dut: str = ""  # which DUT ran it (several DUTs with pytest -n)


@dataclass
class RunRecord:
    facts: dict[str, str]
    rig: dict[str, Any]
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cases: dict[str, CaseRecord] = field(default_factory=dict)

    def case(self, nodeid: str, sections: list[str]) -> CaseRecord:
        if nodeid not in self.cases:
            self.cases[nodeid] = CaseRecord(nodeid, sections)
        return self.cases[nodeid]

    def phase(self, nodeid: str, sections: list[str], when: str, outcome: str, duration: float,
              message: str = "", xfail: bool = False) -> None:
        """Fold one phase report (setup/call/teardown) into the case's verdict: a failed setup
        or teardown is an error, a failed call a failure, the worst phase wins."""
        case = self.case(nodeid, sections)
        case.duration_s += duration
        verdict = {"passed": "passed", "skipped": "skipped", "failed": "failed"}[outcome]
        if xfail:
            verdict = "xfailed" if outcome == "skipped" else "xpassed"
        elif outcome == "failed" and when != "call":
            verdict = "error"
        rank = {"passed": 0, "xfailed": 0, "skipped": 1, "xpassed": 2, "failed": 3, "error": 4}
        if rank[verdict] > rank[case.verdict] or (when == "setup" and verdict == "skipped"):
            case.verdict = verdict
            case.message = message.splitlines()[0][:300] if message else ""

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
            "summary": self.summary(),
            "cases": [asdict(c) for c in self.cases.values()],
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, sort_keys=False), encoding="utf-8")
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
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise RecordError(f"{p}: not a qualification record (expected schema {SCHEMA!r})")
    return data
