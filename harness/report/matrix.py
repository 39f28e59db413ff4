"""The conformance matrix: the note's sections down the side, verdicts across. It answers
"does this firmware conform, and where not" at a glance, and opens from disk (no assets)."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from typing import Any
from urllib.parse import quote

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
        # an observation belongs to the case's own (first) section: shown once, not in every section
        own = (case["sections"] or ["(no section)"])[0]
        by[own]["observations"].update(case.get("observations", {}))
        for section in case["sections"] or ["(no section)"]:
            row = by[section]
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


def _state(r: dict[str, Any]) -> str:
    return ("fail" if r["failed"] or r["error"] else "waived" if r["waived"] else
            "deviation" if r["deviations"] else
            "skip" if (r["skipped"] or r["not run"]) and not r["passed"] else "pass")


def _case_link(nodeid: str, html_href: str) -> str:
    """pytest-html 4 has no per-case anchor: the link opens its report filtered to failures, the
    node id in the fragment names the case to look for."""
    href = f"{html_href}?visible=failed,error,xpassed,rerun#{quote(nodeid, safe='/:[]')}"
    return f'<a href="{html.escape(href)}">{html.escape(nodeid)}</a>'


def _row_html(r: dict[str, Any], html_href: str) -> str:
    notes = "".join(f"<div class=failure>{_case_link(n, html_href)}: {html.escape(m)}</div>" for n, m in r["failures"])
    notes += "".join(f"<div class=waived>{html.escape(n)}: {html.escape(m)}</div>" for n, m in r["waivers"])
    notes += "".join(f"<div class=deviation>{html.escape(n)}: {html.escape(name)}: expected "
                     f"{html.escape(str(d.get('expected')))}, got {html.escape(str(d.get('got')))}</div>"
                     for n, name, d in r["deviations"])
    notes += "".join(f"<div class=skip>skipped: {html.escape(s)}</div>" for s in r["skips"])
    if r["observations"]:
        obs = "".join(f"<div class=obs>{html.escape(k)} = {html.escape(str(v))}</div>"
                      for k, v in sorted(r["observations"].items()))
        notes += f"<details><summary>{len(r['observations'])} observations</summary>{obs}</details>"
    counts = "".join(f"<td>{r[c]}</td>" for c in COLUMNS)
    return (f"<tr class={_state(r)}><td>{html.escape(r['section'])}</td><td>{html.escape(r['title'])}</td>"
            f"<td>{r['cases']}</td>{counts}<td class=notes>{notes}</td></tr>")


def render_html(record: dict[str, Any], title: str = "Conformance matrix", html_href: str = "html/index.html") -> str:
    """Headline first; then the sections that need a reader (failures, errors, waivers,
    plain-reading deviations); then the passing ones. `html_href`: the pytest-html report,
    relative to the matrix."""
    facts = record.get("facts", {})
    head = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items())
    all_rows = rows(record)
    attention = [r for r in all_rows if _state(r) in ("fail", "waived", "deviation")]
    attention.sort(key=lambda r: ("fail", "waived", "deviation").index(_state(r)))
    rest = [r for r in all_rows if r not in attention]
    s = record.get("summary", {})
    verdict = headline(record)
    tally = ", ".join(f"{s.get(k, 0)} {k}" for k in ("passed", "failed", "error", "waived", "skipped", "xfailed",
                                                     "xpassed", "interrupted", "not-run") if s.get(k) or k == "passed")
    header_cells = "".join(f"<th>{c.capitalize()}</th>" for c in COLUMNS)
    cols = "<col class=n>" * (len(COLUMNS) + 1)
    table_head = (f"<table><colgroup><col class=sec><col class=title>{cols}<col></colgroup><tr><th>Section</th>"
                  f"<th>Title</th><th>Cases</th>{header_cells}<th>Notes</th></tr>")
    parts = []
    if attention:
        parts.append(f"<h2>Needs attention: {len(attention)} section(s) with failures, errors, waivers or "
                     f"deviations</h2>{table_head}{''.join(_row_html(r, html_href) for r in attention)}</table>")
    parts.append(f"<h2>{'Other sections' if attention else 'By section of the application note'}</h2>"
                 f"{table_head}{''.join(_row_html(r, html_href) for r in rest)}</table>")
    klass = {"CONFORMS": "ok", "DOES NOT CONFORM": "bad"}.get(verdict, "warn")
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse;width:100%;table-layout:fixed}}
th,td{{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}}
tr.pass td:first-child{{border-left:6px solid #2e7d32}} tr.fail td:first-child{{border-left:6px solid #c62828}}
tr.skip td:first-child{{border-left:6px solid #f9a825}} tr.waived td:first-child{{border-left:6px solid #6a1b9a}}
tr.deviation td:first-child{{border-left:6px solid #b34700}}
.notes{{font-size:12px}} .failure{{color:#c62828}} .waived,.waiver{{color:#6a1b9a}} .deviation{{color:#b34700}}
.obs{{color:#0b4f9c}} .skip{{color:#8a6d00}} summary{{cursor:pointer;color:#0b4f9c}}
.verdict{{font-size:26px;font-weight:bold;padding:8px 12px;color:#fff;margin:0 0 8px}}
.verdict.ok{{background:#2e7d32}} .verdict.bad{{background:#c62828}} .verdict.warn{{background:#9a6700}}
.incomplete{{font-size:16px;color:#fff;background:#c62828;padding:6px}}
col.n{{width:5.5em}} col.sec{{width:5.5em}} col.title{{width:20em}} table.facts{{width:auto}}
@media print{{body{{margin:0;font-size:10px}} .notes{{font-size:9px}} a{{color:inherit;text-decoration:none}}
 tr{{break-inside:avoid}} h2{{break-after:avoid}} details>summary{{list-style:none}}
 col.n{{width:4em}} col.title{{width:14em}}}}
</style></head><body>
<p class="verdict {klass}">{verdict}: {tally}</p>
<h1>{html.escape(title)}</h1>
{_incomplete_html(record)}{_waivers_html(record)}
{"".join(parts)}
<h2>Run</h2><table class=facts>{head}</table></body></html>
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


def chapter_lines(record: dict[str, Any]) -> list[str]:
    """The console's last word per chapter of the note: sections passed, failed, waived."""
    by: dict[str, dict[str, list[str]]] = {}
    for r in rows(record):
        named = {"fail": "failed", "waived": "waived", "deviation": "passed", "pass": "passed"}
        state = named.get(_state(r), "not verified")
        by.setdefault(chapter_of(r["section"]), {}).setdefault(state, []).append(r["section"])
    lines = []
    for chapter in sorted(by, key=lambda c: _section_key(c.split(" ", 1)[0])):
        states = by[chapter]
        counts = ", ".join(f"{len(states.get(k, []))} {k}" for k in ("passed", "failed", "waived", "not verified")
                           if states.get(k) or k == "passed")
        failed = f" (failed: {', '.join(states['failed'])})" if states.get("failed") else ""
        lines.append(f"chapter {chapter}: sections {counts}{failed}")
    return lines
