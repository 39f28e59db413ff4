"""The conformance matrix: the note's sections down the side, verdicts across. It answers
"does this firmware conform, and where not" at a glance, and opens from disk (no assets)."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from typing import Any

# Headings of the application note, so the matrix reads like the note's table of contents.
SECTION_TITLES = {
    "2": "MQTT data interaction (Figure 1)",
    "3.1.2": "AT command syntax",
    "3.3.1": "AT+QMTCFG  configure optional parameters",
    "3.3.2": "AT+QMTOPEN  open a network connection",
    "3.3.3": "AT+QMTCLOSE  close a network connection",
    "3.3.4": "AT+QMTCONN  connect a client",
    "3.3.5": "AT+QMTDISC  disconnect a client",
    "3.3.6": "AT+QMTSUB  subscribe to topics",
    "3.3.7": "AT+QMTUNS  unsubscribe from topics",
    "3.3.8": "AT+QMTPUB  publish messages",
    "4": "Summary of error codes",
    "5.1": "+QMTSTAT  MQTT link layer state change",
    "5.2": "+QMTRECV  read MQTT packet data",
    "6.1": "Example: MQTT without SSL",
    "6.2": "Example: MQTT with SSL",
}
COLUMNS = ("passed", "failed", "error", "waived", "skipped", "not run")
# record verdict -> matrix column: an xfail is a known, declared outcome (counted as passed), an
# xpass a surprise (failed); a case cut short and one never started are both "not run"
_COLUMN = {"xfailed": "passed", "xpassed": "failed", "interrupted": "not run", "not-run": "not run"}


def headline(record: dict[str, Any]) -> str:
    """CONFORMS only for a complete run with passes and no failure or error; a run cut short
    is INCOMPLETE whatever its cases said so far."""
    s = record.get("summary", {})
    if record.get("complete") is False:
        return "INCOMPLETE"
    if s.get("failed") or s.get("error") or s.get("xpassed") or s.get("interrupted") or s.get("not-run"):
        return "DOES NOT CONFORM"
    return "CONFORMS" if s.get("passed") else "NOTHING VERIFIED"


def _section_key(section: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 999 for p in section.split("."))


def rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per section: counts per verdict, skip reasons, observations, failing cases."""
    by: dict[str, dict[str, Any]] = defaultdict(lambda: {
        **dict.fromkeys(COLUMNS, 0), "cases": 0, "skips": set(), "observations": {}, "failures": [],
        "waivers": [], "deviations": []})
    for case in record["cases"]:
        for section in case["sections"] or ["(no section)"]:
            row = by[section]
            row["cases"] += 1
            verdict = _COLUMN.get(case["verdict"], case["verdict"])
            row[verdict] += 1
            if verdict == "skipped" and case["message"]:
                row["skips"].add(case["message"])
            if verdict in ("failed", "error"):
                row["failures"].append((case["nodeid"], case["message"]))
            if verdict == "waived":
                row["waivers"].append((case["nodeid"], case["message"]))
            row["observations"].update(case.get("observations", {}))
            row["deviations"] += [(case["nodeid"], name, d) for name, d in case.get("deviations", {}).items()
                                  if isinstance(d, dict) and d.get("matches") is False]
    out = []
    for section in sorted(by, key=_section_key):
        row = by[section]
        out.append({"section": section, "title": SECTION_TITLES.get(section, ""), **row,
                    "skips": sorted(row["skips"])})
    return out


def _incomplete_html(record: dict[str, Any]) -> str:
    why = record.get("incomplete") or {}
    if record.get("complete") is not False:
        return ""
    return (f"<p class=incomplete>The run was cut short ({html.escape(str(why.get('kind', '?')))}): "
            f"{html.escape(str(why.get('reason', '')))}; at {html.escape(str(why.get('at', '') or '-'))}. "
            "Cases not run are listed as such; nothing here says the firmware conforms.</p>")


def _waivers_html(record: dict[str, Any]) -> str:
    w = record.get("waivers") or {}
    parts = [f"<div class=waiver>{kind} waiver: {html.escape(json.dumps(e, default=str))}</div>"
             for kind in ("expired", "unmatched") for e in w.get(kind, [])]
    return "<h2>Waivers that need attention</h2>" + "".join(parts) if parts else ""


def render_html(record: dict[str, Any], title: str = "Conformance matrix") -> str:
    facts = record.get("facts", {})
    head = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items())
    body = []
    for r in rows(record):
        state = ("fail" if r["failed"] or r["error"] else "waived" if r["waived"] else
                 "skip" if (r["skipped"] or r["not run"]) and not r["passed"] else "pass")
        notes = "".join(f"<div class=skip>skipped: {html.escape(s)}</div>" for s in r["skips"])
        notes += "".join(f"<div class=failure>{html.escape(n)}: {html.escape(m)}</div>" for n, m in r["failures"])
        notes += "".join(f"<div class=waived>{html.escape(n)}: {html.escape(m)}</div>" for n, m in r["waivers"])
        notes += "".join(f"<div class=deviation>{html.escape(n)}: {html.escape(name)}: expected "
                         f"{html.escape(str(d.get('expected')))}, got {html.escape(str(d.get('got')))}</div>"
                         for n, name, d in r["deviations"])
        notes += "".join(f"<div class=obs>{html.escape(k)} = {html.escape(str(v))}</div>"
                         for k, v in sorted(r["observations"].items()))
        counts = "".join(f"<td>{r[c]}</td>" for c in COLUMNS)
        body.append(f"<tr class={state}><td>{html.escape(r['section'])}</td><td>{html.escape(r['title'])}</td>"
                    f"<td>{r['cases']}</td>{counts}<td class=notes>{notes}</td></tr>")
    s = record.get("summary", {})
    verdict = headline(record)
    tally = ", ".join(f"{s.get(k, 0)} {k}" for k in ("passed", "failed", "error", "waived", "skipped", "xfailed",
                                                     "xpassed", "interrupted", "not-run") if s.get(k) or k == "passed")
    header_cells = "".join(f"<th>{c.capitalize()}</th>" for c in COLUMNS)
    cols = "<col class=n>" * (len(COLUMNS) + 1)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:sans-serif;margin:1em;max-width:80em}} table{{border-collapse:collapse;width:100%;table-layout:fixed}}
th,td{{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}}
tr.pass td:first-child{{border-left:6px solid #2e7d32}} tr.fail td:first-child{{border-left:6px solid #c62828}}
tr.skip td:first-child{{border-left:6px solid #f9a825}} tr.waived td:first-child{{border-left:6px solid #6a1b9a}}
.notes{{font-size:12px}} .failure{{color:#c62828}} .waived,.waiver{{color:#6a1b9a}} .deviation{{color:#b34700}}
.obs{{color:#0b4f9c}} .skip{{color:#8a6d00}} .verdict{{font-size:20px;font-weight:bold}}
.incomplete{{font-size:16px;color:#fff;background:#c62828;padding:6px}}
col.n{{width:5.5em}} col.sec{{width:5.5em}} col.title{{width:20em}} table.facts{{width:auto}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class=verdict>{verdict}: {tally}</p>
{_incomplete_html(record)}{_waivers_html(record)}
<table class=facts>{head}</table><h2>By section of the application note</h2>
<table><colgroup><col class=sec><col class=title>{cols}<col>
</colgroup><tr><th>Section</th><th>Title</th><th>Cases</th>{header_cells}<th>Notes</th></tr>
{"".join(body)}</table></body></html>
"""

CHAPTER_TITLES = {
    "2": "2 MQTT Data Interaction",
    "3": "3 MQTT AT Commands",
    "4": "4 Summary of Error Codes",
    "5": "5 MQTT Related URCs",
    "6": "6 Examples",
}


def chapter_of(section: str) -> str:
    """"3.3.1" -> "3 MQTT AT Commands": Allure's epic, so its tree reads like the note."""
    head = section.split(".", 1)[0]
    return CHAPTER_TITLES.get(head, f"{head} (not a chapter of the note)")


def feature_of(section: str) -> str:
    title = SECTION_TITLES.get(section, "")
    return f"{section} {title}".strip()
