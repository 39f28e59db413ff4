"""Coverage of the note: every entry of harness.spec with the cases that cite it.

Cases cite entries with `@pytest.mark.covers("3.3.1/keepalive/keep_alive_time", ...)` (ids from
harness.spec.ENTRIES). A citation of an id that does not exist is an error at collection, so
coverage cannot be faked by a typo; an entry nobody cites shows up as uncovered.

The same files carry two more sections (harness/report/yardstick_coverage.py): the public MQTT
client test suites (IoT-Testware TPs, paho client_test) and MQTT 3.1.1's client-side statements.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.report import yardstick_coverage
from harness.spec import BY_ID, ENTRIES


class CoverageError(Exception):
    """A case cites a spec entry that does not exist; names the case and the id."""


def coverage_map(citations: Iterable[tuple[str, Iterable[str]]]) -> dict[str, list[str]]:
    """(nodeid, entry ids) pairs -> entry id -> covering nodeids, for every entry of the note."""
    out: dict[str, list[str]] = {e.id: [] for e in ENTRIES}
    for nodeid, ids in citations:
        for entry_id in ids:
            if entry_id not in BY_ID:
                raise CoverageError(f"{nodeid}: covers({entry_id!r}): no such entry in harness.spec "
                                    "(see harness/spec/__init__.py ENTRIES)")
            if nodeid not in out[entry_id]:
                out[entry_id].append(nodeid)
    return out


def summary(cov: Mapping[str, list[str]]) -> dict[str, dict[str, int]]:
    """Per entry kind (command, form, param, code, urc, error, qmtstat, ...): covered and total."""
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: {"covered": 0, "total": 0})
    for entry in ENTRIES:
        k = kinds[entry.kind]
        k["total"] += 1
        k["covered"] += bool(cov.get(entry.id))
    total = {"covered": sum(k["covered"] for k in kinds.values()), "total": len(ENTRIES)}
    return {**dict(sorted(kinds.items())), "all": total}


def write(cov: Mapping[str, list[str]], directory: Path,
          yard: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """coverage.json and coverage.html; `yard`: yardstick_coverage.build()'s two sections, if any."""
    directory.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "summary": summary(cov),
        "entries": [{"id": e.id, "kind": e.kind, "section": e.section, "quote": e.quote,
                     "unclear": e.unclear, "cases": cov.get(e.id, [])} for e in ENTRIES],
        **(yard or {}),
    }
    js = directory / "coverage.json"
    js.write_text(json.dumps(data, indent=1), encoding="utf-8")
    page = directory / "coverage.html"
    page.write_text(render_html(data), encoding="utf-8")
    return js, page


def rewrite_for_subset(directory: Path, selection: str, whole: Mapping[str, list[str]]) -> None:
    """A run of part of the suite: its coverage page says so, and sets the selection's coverage
    beside the whole suite's (`whole`: every collected case's citations, before -k/-m/--section)."""
    js = directory / "coverage.json"
    data = json.loads(js.read_text(encoding="utf-8"))
    data["selection"] = selection
    data["whole_summary"] = summary(whole)
    for entry in data["entries"]:
        entry["whole_cases"] = len(whole.get(entry["id"], []))
    js.write_text(json.dumps(data, indent=1), encoding="utf-8")
    (directory / "coverage.html").write_text(render_html(data), encoding="utf-8")


def render_html(data: Mapping[str, Any]) -> str:
    s = data["summary"]
    whole = data.get("whole_summary")
    if whole:
        head = "".join(f"<tr><td>{html.escape(k)}</td><td>{v['covered']}/{v['total']}</td>"
                       f"<td>{whole.get(k, {}).get('covered', 0)}/{v['total']}</td></tr>" for k, v in s.items())
        heads = "<tr><th>kind</th><th>this selection</th><th>whole suite</th></tr>"
        a = s["all"]
        banner = (f"<p class=subset>This run was a subset ({html.escape(str(data.get('selection')))}): "
                  f"its cases cover {a['covered']}/{a['total']} entries of the note; the whole suite covers "
                  f"{whole['all']['covered']}/{a['total']}. Entries only other cases cover read "
                  "\"not in this selection\".</p>")
    else:
        head = "".join(f"<tr><td>{html.escape(k)}</td><td>{v['covered']}/{v['total']}</td></tr>"
                       for k, v in s.items())
        heads, banner = "<tr><th>kind</th><th>covered</th></tr>", ""
    rows = []
    for e in data["entries"]:
        cases = "<br>".join(html.escape(c) for c in e["cases"][:8])
        more = f"<br>(+{len(e['cases']) - 8} more)" if len(e["cases"]) > 8 else ""
        elsewhere = whole is not None and e.get("whole_cases", 0) > 0
        cls = "ok" if e["cases"] else "elsewhere" if elsewhere else "missing"
        empty = f"not in this selection ({e.get('whole_cases')} case(s) in the suite)" if elsewhere else "NOT COVERED"
        rows.append(f"<tr class={cls}><td>{html.escape(e['id'])}</td><td>{html.escape(e['kind'])}</td>"
                    f"<td>{html.escape(e['quote'])}</td><td>{cases or empty}{more}</td></tr>")
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Coverage of the application note</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse;width:100%;
table-layout:fixed}} td,th{{border:1px solid #ccc;padding:2px 6px;vertical-align:top;overflow-wrap:anywhere;
font-size:13px}} tr.missing td{{background:#fdecea}} tr.elsewhere td{{color:#777}} table.sum{{width:auto}}
tr.na td{{background:#f3f3f3}}
.subset{{font-size:16px;background:#fff4ce;padding:6px;border-left:6px solid #9a6700}}</style></head><body>
<h1>Coverage of the application note</h1>{banner}
<table class=sum>{heads}{head}</table>
<table><colgroup><col style="width:18em"><col style="width:6em"><col><col style="width:28em"></colgroup>
<tr><th>entry</th><th>kind</th><th>the note says</th><th>cases</th></tr>{"".join(rows)}</table>
{yardstick_coverage.render_html(data)}</body></html>
"""
