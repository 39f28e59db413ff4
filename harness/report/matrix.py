"""The conformance matrix: the note's sections down the side, verdicts across. It answers
"does this firmware conform, and where not" at a glance, and opens from disk (no assets)."""

from __future__ import annotations

import html
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
COLUMNS = ("passed", "failed", "error", "skipped")


def _section_key(section: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 999 for p in section.split("."))


def rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per section: counts per verdict, skip reasons, observations, failing cases."""
    by: dict[str, dict[str, Any]] = defaultdict(lambda: {
        **dict.fromkeys(COLUMNS, 0), "cases": 0, "skips": set(), "observations": {}, "failures": []})
    for case in record["cases"]:
        for section in case["sections"] or ["(no section)"]:
            row = by[section]
            row["cases"] += 1
            verdict = case["verdict"] if case["verdict"] in COLUMNS else (
                "passed" if case["verdict"] == "xfailed" else "failed")
            row[verdict] += 1
            if verdict == "skipped" and case["message"]:
                row["skips"].add(case["message"])
            if verdict in ("failed", "error"):
                row["failures"].append((case["nodeid"], case["message"]))
            row["observations"].update(case.get("observations", {}))
    out = []
    for section in sorted(by, key=_section_key):
        row = by[section]
        out.append({"section": section, "title": SECTION_TITLES.get(section, ""), **row,
                    "skips": sorted(row["skips"])})
    return out


def render_html(record: dict[str, Any], title: str = "Conformance matrix") -> str:
    facts = record.get("facts", {})
    head = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items())
    body = []
    for r in rows(record):
        state = "fail" if r["failed"] or r["error"] else ("skip" if r["skipped"] and not r["passed"] else "pass")
        notes = "".join(f"<div class=skip>skipped: {html.escape(s)}</div>" for s in r["skips"])
        notes += "".join(f"<div class=obs>{html.escape(k)} = {html.escape(str(v))}</div>"
                         for k, v in sorted(r["observations"].items()))
        notes += "".join(f"<div class=failure>{html.escape(n)}: {html.escape(m)}</div>" for n, m in r["failures"])
        body.append(
            f"<tr class={state}><td>{html.escape(r['section'])}</td><td>{html.escape(r['title'])}</td>"
            f"<td>{r['cases']}</td><td>{r['passed']}</td><td>{r['failed']}</td><td>{r['error']}</td>"
            f"<td>{r['skipped']}</td><td class=notes>{notes}</td></tr>")
    s = record.get("summary", {})
    verdict = "CONFORMS" if not (s.get("failed") or s.get("error")) and s.get("passed") else "DOES NOT CONFORM"
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:sans-serif;margin:1em;max-width:70em}} table{{border-collapse:collapse;width:100%;table-layout:fixed}}
th,td{{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}}
tr.pass td:first-child{{border-left:6px solid #2e7d32}} tr.fail td:first-child{{border-left:6px solid #c62828}}
tr.skip td:first-child{{border-left:6px solid #f9a825}} .notes{{font-size:12px}} .failure{{color:#c62828}}
.obs{{color:#0b4f9c}} .skip{{color:#8a6d00}} .verdict{{font-size:20px;font-weight:bold}}
col.n{{width:5.5em}} col.sec{{width:5.5em}} col.title{{width:20em}} table.facts{{width:auto}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class=verdict>{verdict}: {s.get("passed", 0)} passed, {s.get("failed", 0)} failed, {s.get("error", 0)} errors,
{s.get("skipped", 0)} skipped</p>
<table class=facts>{head}</table><h2>By section of the application note</h2>
<table><colgroup><col class=sec><col class=title><col class=n><col class=n><col class=n><col class=n><col class=n><col>
</colgroup><tr><th>Section</th><th>Title</th><th>Cases</th><th>Passed</th><th>Failed</th><th>Errors</th>
<th>Skipped</th><th>Notes</th></tr>
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
