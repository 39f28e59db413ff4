"""What changed between two qualification records (usually two firmware versions): the
question a lab engineer asks before shipping firmware W+1."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from harness.report.selection import WHOLE

GOOD = {"passed", "xfailed"}
BAD = {"failed", "error", "xpassed"}
OUTLIER_RATIO = 3.0  # a case now takes this many times as long...
OUTLIER_MIN_S = 1.0  # ...and at least this much longer: anything less is noise on a busy machine
# Observations that are measurements (named "... (real ms)", "... latency ..."): their value moves
# from run to run on the same firmware, so the diff does not report them as a firmware change.
MEASUREMENT = re.compile(r"\(real ms\)|latency", re.IGNORECASE)


@dataclass
class Diff:
    verdicts: list[tuple[str, str, str]] = field(default_factory=list)  # nodeid, old, new
    observations: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    new: list[tuple[str, str]] = field(default_factory=list)  # nodeid, verdict
    vanished: list[tuple[str, str]] = field(default_factory=list)
    slower: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def regressions(self) -> list[tuple[str, str, str]]:
        """A case that was good and is now bad; a new case that fails counts too."""
        regressed = [v for v in self.verdicts if v[1] in GOOD and v[2] in BAD]
        return regressed + [(n, "(absent)", v) for n, v in self.new if v in BAD]

    def empty(self) -> bool:
        return not (self.verdicts or self.observations or self.new or self.vanished or self.slower)


def diff_records(old: dict[str, Any], new: dict[str, Any]) -> Diff:
    a = {c["nodeid"]: c for c in old["cases"]}
    b = {c["nodeid"]: c for c in new["cases"]}
    d = Diff()
    for nodeid in sorted(a.keys() & b.keys()):
        ca, cb = a[nodeid], b[nodeid]
        if ca["verdict"] != cb["verdict"]:
            d.verdicts.append((nodeid, ca["verdict"], cb["verdict"]))
        oa, ob = ca.get("observations", {}), cb.get("observations", {})
        for key in sorted(oa.keys() | ob.keys()):
            if oa.get(key) != ob.get(key) and not MEASUREMENT.search(key):
                d.observations.append((f"{nodeid} {key}", key, oa.get(key), ob.get(key)))
        ta, tb = ca.get("duration_s", 0.0), cb.get("duration_s", 0.0)
        if tb - ta >= OUTLIER_MIN_S and tb >= OUTLIER_RATIO * max(ta, 1e-3):
            d.slower.append((nodeid, ta, tb))
    d.new = [(n, b[n]["verdict"]) for n in sorted(b.keys() - a.keys())]
    d.vanished = [(n, a[n]["verdict"]) for n in sorted(a.keys() - b.keys())]
    return d


def _fw(record: dict[str, Any]) -> str:
    return record.get("facts", {}).get("DUT firmware", "?")


def _selection(record: dict[str, Any]) -> str:
    return record.get("facts", {}).get("Selection", WHOLE)


def render_text(d: Diff, old: dict[str, Any], new: dict[str, Any], all_cases: bool = False) -> str:
    """REGRESSED lines carry the new run's failure message. When the runs selected different
    cases, NEW and VANISHED say what was run, not what the firmware does: one line of counts
    unless `all_cases` (--all); a new case that fails is still listed (a regression)."""
    lines = [f"firmware {_fw(old)} -> {_fw(new)}"]
    differ = _selection(old) != _selection(new)
    if differ:
        lines.append(f"selection {_selection(old)} -> {_selection(new)}: "
                     "NEW and VANISHED may be cases only one run selected")
    if d.empty():
        return "\n".join([*lines, "no differences"])
    messages = {c["nodeid"]: c.get("message") or "" for c in new.get("cases", [])}
    for nodeid, va, vb in d.verdicts:
        mark = "REGRESSED" if va in GOOD and vb in BAD else ("FIXED" if va in BAD and vb in GOOD else "CHANGED")
        why = f": {messages[nodeid]}" if mark == "REGRESSED" and messages.get(nodeid) else ""
        lines.append(f"{mark:9} {nodeid}: {va} -> {vb}{why}")
    for label, _key, va, vb in d.observations:
        lines.append(f"OBSERVED  {label}: {va!r} -> {vb!r}")
    if differ and not all_cases:
        lines += [f"REGRESSED {n}: (new) {v}" + (f": {messages[n]}" if messages.get(n) else "")
                  for n, v in d.new if v in BAD]
        if d.new or d.vanished:
            lines.append(f"{len(d.new)} NEW, {len(d.vanished)} VANISHED "
                         "(cases only one run selected; --all lists them)")
    else:
        lines += [f"NEW       {n}: {v}" for n, v in d.new]
        lines += [f"VANISHED  {n}: was {v}" for n, v in d.vanished]
    lines += [f"SLOWER    {n}: {ta:.2f}s -> {tb:.2f}s" for n, ta, tb in d.slower]
    lines.append(f"{len(d.regressions)} regression(s)")
    return "\n".join(lines)


def render_html(d: Diff, old: dict[str, Any], new: dict[str, Any]) -> str:
    text = html.escape(render_text(d, old, new, all_cases=True))
    colour = {"REGRESSED": "#c62828", "FIXED": "#2e7d32"}
    styled = "\n".join(f'<span style="color:{colour.get(ln.split(" ", 1)[0], "#222")}">{ln}</span>'
                        for ln in text.splitlines())
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Firmware diff</title></head>'
            f'<body style="font-family:sans-serif;max-width:70em"><h1>Firmware diff</h1>'
            f'<pre style="white-space:pre-wrap">{styled}</pre></body></html>\n')
