"""Past runs under reports/history/, bounded, with a trend page per firmware: a nightly
rig shows whether a firmware's verdict is stable or flickering."""

from __future__ import annotations

import contextlib
import html
import json
import re
import time
from pathlib import Path
from typing import Any

from harness.report.matrix import render_html as matrix_html
from harness.report.selection import WHOLE

KEEP = 30  # runs kept; the oldest go first
_COUNTS = ("passed", "failed", "error", "waived", "skipped", "interrupted", "not-run")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60] or "unknown"


def keep_history(record: dict[str, Any], directory: Path, keep: int = KEEP) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    firmware = record.get("facts", {}).get("DUT firmware", "unknown")
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(record.get("started") or time.time()))
    path = directory / f"{stamp}-{_slug(firmware)}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    # the night's matrix beside its record, linked from the trend page; a record too damaged for a
    # matrix still counts in the trend
    with contextlib.suppress(KeyError, TypeError, ValueError):
        path.with_suffix(".html").write_text(matrix_html(record, f"{firmware}: conformance matrix, {stamp}",
                                                         html_href="../html/index.html"), encoding="utf-8")
    runs = sorted(directory.glob("*.json"))
    for old in runs[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix(".html").unlink(missing_ok=True)
    write_trend(sorted(directory.glob("*.json")), directory / "index.html")
    return path


def write_trend(runs: list[Path], out: Path) -> None:
    """One table per firmware, newest last. A run of part of the suite (`-k`, one file, a
    --section) is kept but set apart in grey, with what it selected, so that a flickering
    verdict is read from whole-suite runs."""
    by_fw: dict[str, list[tuple[str, dict[str, int], str, str, int | None]]] = {}
    last_obs: dict[str, dict[str, str]] = {}
    for run in runs:
        try:
            data = json.loads(run.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged history file must not cost the report of this run
        if not isinstance(data, dict) or not isinstance(data.get("facts", {}), dict):
            continue
        facts = data.get("facts", {})
        fw = facts.get("DUT firmware", "unknown")
        selection = facts.get("Selection", WHOLE)
        if data.get("complete") is False:
            selection = f"INCOMPLETE ({(data.get('incomplete') or {}).get('reason', '?')}); {selection}"
        summary = data.get("summary", {}) if isinstance(data.get("summary"), dict) else {}
        obs = {f"{c.get('nodeid')} {k}": str(v) for c in data.get("cases", []) if isinstance(c, dict)
               for k, v in (c.get("observations") or {}).items()}
        before = last_obs.get(fw)
        changed = (None if before is None else
                   len({k for k in obs.keys() | before.keys() if obs.get(k) != before.get(k)}))
        last_obs[fw] = obs
        link = run.with_suffix(".html").name if run.with_suffix(".html").exists() else ""
        by_fw.setdefault(fw, []).append((run.stem.split("-", 1)[0], summary, selection, link, changed))
    parts = []
    for fw, rows in sorted(by_fw.items()):
        cells = "".join(
            f'<tr{"" if sel == WHOLE else " class=subset"}><td>'
            + (f'<a href="{html.escape(link)}">{html.escape(stamp)}</a>' if link else html.escape(stamp)) + "</td>"
            + "".join(f"<td>{s.get(k, 0)}</td>" for k in _COUNTS)
            + f"<td>{'-' if changed is None else changed}</td><td>{html.escape(sel)}</td></tr>"
            for stamp, s, sel, link, changed in rows)
        heads = "".join(f"<th>{k}</th>" for k in _COUNTS)
        parts.append(f"<h2>{html.escape(fw)}</h2><table><tr><th>run (UTC): its matrix</th>{heads}"
                     f"<th>observations changed</th><th>selection</th></tr>{cells}</table>")
    out.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>History</title><style>'
                   "body{font-family:sans-serif} td,th{border:1px solid #ccc;padding:2px 8px}"
                   "table{border-collapse:collapse} tr.subset{color:#888;font-style:italic}</style></head>"
                   "<body><h1>Runs by firmware</h1>" + "".join(parts) + "</body></html>\n", encoding="utf-8")
