"""The fleet page: the qualification records of several rigs and nights, merged.

``python -m harness.report merge DIR... [--html FILE] [--json FILE]`` reads every qualification
record under the directories (a CI job's report directory: ``record.json`` and ``history/*.json``;
the same run found twice counts once) and writes one page:

- **rig x firmware x section**: for each night (the UTC date a run started), the section's verdict
  that night: ``failed`` if any of its cases failed or erred, ``passed`` if all that ran passed (or
  were waived/xfailed), ``skipped`` if none ran; ``incomplete`` marks a run that was cut short. Two
  runs of one rig on one night: the later one counts.
- **case stability across nights**, per rig and firmware: ``stable`` (passed every night it ran),
  ``consistently failing`` (failed or erred every night it ran), ``unstable`` (passed some nights and
  failed others: flaky, or a rig problem; the nights are listed). ``interrupted`` and ``not-run``
  are no verdict about the case and count for neither.

A rig is named by ``NAME=DIR`` on the command line (every record under DIR is that rig's: a CI
job per rig keeps its artefacts in its own directory), else by the record's ``Rig`` fact when the run
set one, else its labgrid place, else the DUT's model and IMEI: the module a lab puts on one bench.
"""

from __future__ import annotations

import html
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.report.record import RecordError, load_record

PASS_LIKE = frozenset({"passed", "xfailed", "waived"})
FAIL_LIKE = frozenset({"failed", "error", "xpassed"})
STABLE, FAILING, UNSTABLE, NO_VERDICT = "stable", "consistently failing", "unstable", "no verdict"


class FleetError(Exception):
    """Nothing to merge, or a directory that is not there; one line."""


@dataclass
class Run:
    rig: str
    firmware: str
    night: str
    started: float
    complete: bool
    source: Path
    cases: dict[str, tuple[list[str], str]]  # nodeid -> (sections, verdict)


@dataclass
class Stability:
    rig: str
    firmware: str
    nodeid: str
    sections: list[str]
    verdicts: dict[str, str] = field(default_factory=dict)  # night -> verdict

    @property
    def kind(self) -> str:
        decided = [v for v in self.verdicts.values() if v in PASS_LIKE | FAIL_LIKE]
        if not decided:
            return NO_VERDICT
        failed = sum(v in FAIL_LIKE for v in decided)
        if failed == 0:
            return STABLE
        return FAILING if failed == len(decided) else UNSTABLE

    @property
    def failed_nights(self) -> list[str]:
        return [n for n, v in sorted(self.verdicts.items()) if v in FAIL_LIKE]


@dataclass
class Fleet:
    runs: list[Run]
    nights: list[str]
    sections: dict[tuple[str, str, str], dict[str, str]]  # (rig, firmware, section) -> night -> verdict
    incomplete: set[tuple[str, str, str]]  # (rig, firmware, night) whose run was cut short
    cases: list[Stability]

    def unstable(self) -> list[Stability]:
        return [c for c in self.cases if c.kind == UNSTABLE]

    def failing(self) -> list[Stability]:
        return [c for c in self.cases if c.kind == FAILING]


def rig_name(record: dict[str, Any], given: str | None = None) -> str:
    if given:
        return given
    facts = record.get("facts") or {}
    for key in ("Rig", "labgrid place"):
        if facts.get(key):
            return str(facts[key])
    model = facts.get("DUT model", "unknown DUT")
    return f"{model} {facts.get('DUT IMEI', '?')}"


def parse_dir(arg: str | Path) -> tuple[str | None, Path]:
    """``NAME=DIR`` (the rig's name for every record under DIR) or ``DIR``."""
    text = str(arg)
    name, sep, path = text.partition("=")
    if sep and name and "/" not in name and not Path(text).exists():
        return name, Path(path)
    return None, Path(text)


def find_records(dirs: list[str | Path]) -> list[tuple[Path, dict[str, Any], str]]:
    found: dict[tuple[Any, ...], tuple[Path, dict[str, Any], str]] = {}
    for arg in dirs:
        given, d = parse_dir(arg)
        if not d.exists():
            raise FleetError(f"{d}: no such directory")
        paths = [d] if d.is_file() else sorted(d.rglob("*.json"))
        for p in paths:
            try:
                rec = load_record(p)
            except RecordError:
                continue  # coverage.json, allure results...: not records
            facts = rec.get("facts") or {}
            rig = rig_name(rec, given)
            key = (rec.get("started"), facts.get("DUT IMEI"), facts.get("DUT URL"), rig)
            found.setdefault(key, (p, rec, rig))
    if not found:
        raise FleetError(f"no qualification records under {', '.join(map(str, dirs))}")
    return list(found.values())


def result_dirs(dirs: list[str | Path]) -> list[tuple[str, Path]]:
    """Every report directory with Allure results under the arguments, named as its rig: NAME= when
    given, else the rig of the record beside the results, else the directory's name."""
    out: list[tuple[str, Path]] = []
    for arg in dirs:
        given, d = parse_dir(arg)
        for results in sorted(d.rglob("allure-results")) if d.is_dir() else []:
            try:
                rig = rig_name(load_record(results.parent / "record.json"), given)
            except RecordError:
                rig = given or results.parent.name
            out.append((rig, results.parent))
    if not out:
        raise FleetError(f"no Allure results under {', '.join(map(str, dirs))}")
    return out


def merge(dirs: list[str | Path]) -> Fleet:
    runs: list[Run] = []
    for path, rec, rig in find_records(dirs):
        started = float(rec.get("started") or 0.0)
        cases = {c["nodeid"]: (list(c.get("sections") or ["(no section)"]), str(c.get("verdict", "not-run")))
                 for c in rec.get("cases", [])}
        runs.append(Run(rig, str((rec.get("facts") or {}).get("DUT firmware", "unknown")),
                        time.strftime("%Y-%m-%d", time.gmtime(started)), started, bool(rec.get("complete", True)),
                        path, cases))
    runs.sort(key=lambda r: r.started)
    nights = sorted({r.night for r in runs})
    latest: dict[tuple[str, str, str], Run] = {}
    for r in runs:  # sorted by start: the later run of a night wins
        latest[(r.rig, r.firmware, r.night)] = r
    sections: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    stab: dict[tuple[str, str, str], Stability] = {}
    incomplete: set[tuple[str, str, str]] = set()
    for (rig, fw, night), r in sorted(latest.items()):
        if not r.complete:
            incomplete.add((rig, fw, night))
        per_section: dict[str, list[str]] = defaultdict(list)
        for nodeid, (secs, verdict) in r.cases.items():
            for s in secs:
                per_section[s].append(verdict)
            entry = stab.setdefault((rig, fw, nodeid), Stability(rig, fw, nodeid, secs))
            entry.verdicts[night] = verdict
        for s, verdicts in per_section.items():
            sections[(rig, fw, s)][night] = section_verdict(verdicts)
    cases = sorted(stab.values(), key=lambda c: (c.rig, c.firmware, c.nodeid))
    return Fleet(runs, nights, dict(sections), incomplete, cases)


def section_verdict(verdicts: list[str]) -> str:
    if any(v in FAIL_LIKE for v in verdicts):
        return "failed"
    if any(v in PASS_LIKE for v in verdicts):
        return "passed" if all(v in PASS_LIKE | {"skipped"} for v in verdicts) else "partial"
    if any(v == "skipped" for v in verdicts):
        return "skipped"
    return "not run"


def _section_key(s: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in s.split("."))


# -- output ---------------------------------------------------------------------------------------


def render_text(fleet: Fleet) -> str:
    rigs = sorted({(r.rig, r.firmware) for r in fleet.runs})
    lines = [f"fleet: {len(fleet.runs)} runs, {len(rigs)} rig/firmware pairs, {len(fleet.nights)} nights "
             f"({fleet.nights[0]} .. {fleet.nights[-1]})"]
    for c in fleet.unstable():
        lines.append(f"UNSTABLE {c.rig} [{c.firmware}] {c.nodeid}: failed on {', '.join(c.failed_nights)} of "
                     f"{len(c.verdicts)} nights")
    for c in fleet.failing():
        lines.append(f"FAILING  {c.rig} [{c.firmware}] {c.nodeid}: every night")
    if not fleet.unstable() and not fleet.failing():
        lines.append("every case passed every night it ran")
    return "\n".join(lines)


_STYLE = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #bbb;padding:.2em .5em;font-size:90%}th{background:#eee}
.passed,.stable{background:#cfc}.failed,.consistently-failing{background:#f99}.unstable,.partial{background:#fd8}
.skipped,.not-run,.no-verdict{background:#eee;color:#666}.incomplete{outline:2px dashed #a00}"""


def _cls(text: str) -> str:
    return text.replace(" ", "-")


def render_html(fleet: Fleet) -> str:
    e = html.escape
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>BC660K-GL fleet</title>",
           f"<style>{_STYLE}</style></head><body><h1>BC660K-GL MQTT conformance: the fleet</h1>",
           f"<p>{len(fleet.runs)} runs of {len({r.rig for r in fleet.runs})} rigs over {len(fleet.nights)} nights. "
           "A dashed cell: that night's run was cut short (incomplete).</p>"]
    unstable, failing = fleet.unstable(), fleet.failing()
    out.append(f"<h2>Cases: {len(unstable)} unstable, {len(failing)} consistently failing</h2>")
    out.append("<table><tr><th>rig</th><th>firmware</th><th>case</th><th>sections</th><th>stability</th>"
               + "".join(f"<th>{e(n)}</th>" for n in fleet.nights) + "</tr>")
    order = {UNSTABLE: 0, FAILING: 1, NO_VERDICT: 2, STABLE: 3}
    for c in sorted(fleet.cases, key=lambda c: (order[c.kind], c.rig, c.firmware, c.nodeid)):
        cells = "".join(f"<td class='{_cls(c.verdicts.get(n, 'not run'))}'>{e(c.verdicts.get(n, ''))}</td>"
                        for n in fleet.nights)
        out.append(f"<tr data-stability='{_cls(c.kind)}'><td>{e(c.rig)}</td><td>{e(c.firmware)}</td>"
                   f"<td>{e(c.nodeid)}</td><td>{e(', '.join(c.sections))}</td>"
                   f"<td class='{_cls(c.kind)}'>{e(c.kind)}</td>{cells}</tr>")
    out.append("</table><h2>Rig x firmware x section, by night</h2>")
    out.append("<table><tr><th>rig</th><th>firmware</th><th>section</th>"
               + "".join(f"<th>{e(n)}</th>" for n in fleet.nights) + "</tr>")
    for (rig, fw, sec), by_night in sorted(fleet.sections.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                   _section_key(kv[0][2]))):
        cells = []
        for n in fleet.nights:
            v = by_night.get(n)
            extra = " incomplete" if (rig, fw, n) in fleet.incomplete else ""
            cells.append(f"<td class='{_cls(v or 'not run')}{extra}'>{e(v or '')}</td>")
        out.append(f"<tr><td>{e(rig)}</td><td>{e(fw)}</td><td>{e(sec)}</td>{''.join(cells)}</tr>")
    out.append("</table><h2>Runs</h2><table><tr><th>night</th><th>rig</th><th>firmware</th><th>complete</th>"
               "<th>record</th></tr>")
    for r in fleet.runs:
        out.append(f"<tr><td>{e(r.night)}</td><td>{e(r.rig)}</td><td>{e(r.firmware)}</td>"
                   f"<td>{'yes' if r.complete else 'no'}</td><td>{e(str(r.source))}</td></tr>")
    out.append("</table></body></html>")
    return "\n".join(out)


def to_json(fleet: Fleet) -> dict[str, Any]:
    return {
        "nights": fleet.nights,
        "runs": [{"rig": r.rig, "firmware": r.firmware, "night": r.night, "complete": r.complete,
                  "record": str(r.source)} for r in fleet.runs],
        "sections": [{"rig": k[0], "firmware": k[1], "section": k[2], "nights": v}
                     for k, v in sorted(fleet.sections.items())],
        "cases": [{"rig": c.rig, "firmware": c.firmware, "nodeid": c.nodeid, "sections": c.sections,
                   "stability": c.kind, "nights": c.verdicts} for c in fleet.cases],
    }


def write(fleet: Fleet, html_path: Path, json_path: Path | None = None) -> None:
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(render_html(fleet), encoding="utf-8")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(to_json(fleet), indent=1), encoding="utf-8")
