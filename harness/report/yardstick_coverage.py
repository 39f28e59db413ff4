"""Coverage beyond the note: the yardsticks (IoT-Testware client TPs, paho client_test) and the
client-side normative statements of MQTT 3.1.1, beside the note's entries in coverage.json/.html.

Why computed from the collection: a yardstick counts as covered only when a case it names was
collected in this run, so a renamed case turns its entries "not in this selection" instead of
silently covered (tests/spec/test_yardsticks.py checks that every named case exists).

A statement is exercised by a case when the case cites it (``[MQTT-x.y.z-n]`` in its docstring
or source, the way cases cite MQTT today) or names a yardstick resting on it. Citing an id that
MQTT 3.1.1 does not have is an error, as a wrong covers() id is, so a typo cannot count.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from harness.spec import mqtt311, yardsticks

__all__ = ["CitationError", "below_floor", "build", "cited", "render_html"]

CITE = re.compile(r"\bMQTT-(\d+\.\d+\.\d+-\d+)\b")
NOT_SELECTED = "not in this selection"


class CitationError(Exception):
    """A case cites an MQTT 3.1.1 statement id that does not exist; names the case and the id."""


def cited(text: str) -> list[str]:
    """Statement ids written in ``text`` ("[MQTT-3.3.1-1]"), in order, without repeats."""
    return list(dict.fromkeys(f"MQTT-{m}" for m in CITE.findall(text)))


def _present(named: str, nodeids: list[str]) -> list[str]:
    """Collected node ids a yardstick's case names: exactly, or every parametrization of a function."""
    return [n for n in nodeids if n == named or ("[" not in named and n.startswith(named + "["))]


def build(nodeids: Iterable[str], citations: Iterable[tuple[str, Iterable[str]]]) -> dict[str, Any]:
    """The two sections for coverage.json: ``yardsticks`` and ``statements``, each with a summary."""
    ids = list(nodeids)
    rows: list[dict[str, Any]] = []
    via: dict[str, list[str]] = {}
    for y in yardsticks.YARDSTICKS:
        found = list(dict.fromkeys(n for c in y.cases for n in _present(c, ids)))
        status = y.status if not y.cases or found else NOT_SELECTED
        rows.append({"id": y.id, "source": y.source, "group": y.group, "requires": y.requires,
                     "statements": list(y.statements), "cases": found, "named": list(y.cases),
                     "not_applicable": y.not_applicable, "note": y.note, "status": status})
        for s in y.statements if found else ():
            bucket = via.setdefault(s, [])
            bucket += [n for n in found if n not in bucket]
    direct: dict[str, list[str]] = {}
    for nodeid, stmts in citations:
        for s in stmts:
            if s not in mqtt311.BY_ID:
                raise CitationError(f"{nodeid}: cites [{s}]: MQTT 3.1.1 has no such statement "
                                    "(harness/spec/mqtt311.py lists every id)")
            if nodeid not in direct.setdefault(s, []):
                direct[s].append(nodeid)
    statements = [{"id": s.id, "side": s.side, "says": s.says, "not_applicable": s.not_applicable,
                   "cited_by": direct.get(s.id, []), "via_yardsticks": via.get(s.id, [])}
                  for s in mqtt311.STATEMENTS]
    return {"yardsticks": {"summary": _yard_summary(rows), "entries": rows},
            "statements": {"summary": _statement_summary(statements), "entries": statements}}


def _yard_summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        for key in (row["source"], "all"):
            counts = out.setdefault(key, {"covered": 0, "not_applicable": 0, "missing": 0, NOT_SELECTED: 0,
                                          "total": 0})
            counts[row["status"]] += 1
            counts["total"] += 1
    return out


def _statement_summary(entries: list[dict[str, Any]]) -> dict[str, int]:
    client = [e for e in entries if e["side"] in mqtt311.CLIENT_SIDE]
    hit = [e for e in client if e["cited_by"] or e["via_yardsticks"]]
    return {"client_side": len(client), "client_side_exercised": len(hit),
            "client_side_not_applicable": sum(1 for e in client if e["not_applicable"]),
            "server_side_exercised": sum(1 for e in entries if e["side"] not in mqtt311.CLIENT_SIDE
                                         and (e["cited_by"] or e["via_yardsticks"])),
            "all": len(entries)}


def below_floor(data: Mapping[str, Any], floor: Mapping[str, int]) -> list[str]:
    """What dropped under the recorded floor (tests/coverage_floor.json); empty when nothing did."""
    got = {"yardsticks_covered": data["yardsticks"]["summary"]["all"]["covered"],
           "statements_exercised": data["statements"]["summary"]["client_side_exercised"]}
    return [f"{key}: {got[key]} is below the floor {floor[key]}" for key in got
            if key in floor and got[key] < floor[key]]


def _cases(names: list[str], limit: int = 6) -> str:
    shown = "<br>".join(html.escape(n) for n in names[:limit])
    return shown + (f"<br>(+{len(names) - limit} more)" if len(names) > limit else "")


def render_html(data: Mapping[str, Any]) -> str:
    """The two sections of coverage.html (empty when the JSON predates them)."""
    yard, stmts = data.get("yardsticks"), data.get("statements")
    if not yard or not stmts:
        return ""
    heads = "".join(f"<tr><td>{html.escape(k)}</td><td>{v['covered']}</td><td>{v['not_applicable']}</td>"
                    f"<td>{v['missing']}</td><td>{v[NOT_SELECTED]}</td><td>{v['total']}</td></tr>"
                    for k, v in yard["summary"].items())
    rows = []
    for e in yard["entries"]:
        what = (_cases(e["cases"]) if e["cases"] else
                f"not applicable: {html.escape(e['not_applicable'])}" if e["not_applicable"] else
                NOT_SELECTED if e["status"] == NOT_SELECTED else "MISSING")
        note = f"<br><i>{html.escape(e['note'])}</i>" if e["note"] else ""
        cls = {"covered": "ok", "not_applicable": "na", NOT_SELECTED: "elsewhere"}.get(e["status"], "missing")
        rows.append(f"<tr class={cls}><td>{html.escape(e['id'])}</td><td>{html.escape(e['requires'])}</td>"
                    f"<td>{html.escape(' '.join(e['statements']))}</td><td>{what}{note}</td></tr>")
    s = stmts["summary"]
    srows = []
    for e in stmts["entries"]:
        if e["side"] not in mqtt311.CLIENT_SIDE:
            continue
        hit = list(dict.fromkeys(e["cited_by"] + e["via_yardsticks"]))
        what = _cases(hit) if hit else (f"not applicable: {html.escape(e['not_applicable'])}"
                                         if e["not_applicable"] else "NOT EXERCISED")
        cls = "ok" if hit else "na" if e["not_applicable"] else "missing"
        srows.append(f"<tr class={cls}><td>[{html.escape(e['id'])}]</td><td>{html.escape(e['side'])}</td>"
                     f"<td>{html.escape(e['says'])}</td><td>{what}</td></tr>")
    return f"""<h2>Yardsticks: Eclipse IoT-Testware client test purposes, paho client_test</h2>
<table class=sum><tr><th>source</th><th>covered</th><th>not applicable</th><th>missing</th>
<th>{NOT_SELECTED}</th><th>total</th></tr>{heads}</table>
<table><colgroup><col style="width:16em"><col><col style="width:12em"><col style="width:32em"></colgroup>
<tr><th>test</th><th>requires</th><th>MQTT 3.1.1</th><th>cases</th></tr>{"".join(rows)}</table>
<h2>MQTT 3.1.1 normative statements, client side</h2>
<p>{s['client_side_exercised']} of {s['client_side']} client-side statements exercised by a case (cited in its
docstring or source, or through a yardstick it checks); {s['client_side_not_applicable']} of them cannot apply
to the module; {s['server_side_exercised']} server-side statements are exercised too (of {s['all']} in all).</p>
<table><colgroup><col style="width:9em"><col style="width:5em"><col><col style="width:32em"></colgroup>
<tr><th>statement</th><th>binds</th><th>says (paraphrased)</th><th>cases</th></tr>{"".join(srows)}</table>
"""
