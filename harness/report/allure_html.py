"""`make report`: the Allure HTML of the last run, built offline by the project's pinned Allure
(tools/allure: npm `allure-commandline` 2.46.1, Java 17), one file that opens from `file://`.

Nightly trends, by firmware and by rig: Allure keeps its trend data in a `history/` folder; copied
into the results before generating, each generation adds one night. The report directory keeps one
such history per firmware-on-rig (`trends/<firmware> on <rig>/`, from record.json's facts), so a
night of firmware B on the same rig does not land in firmware A's trend; `history/` beside the page
is the trend the page shows. Each trend remembers which run (record.json's start time) its last
night was, with the history as it stood before that night, so generating twice from the same run
adds the night once.

Offline: Allure 2 puts a Google Tag Manager script into every report and sends a ping unless
ALLURE_NO_ANALYTICS=true (set here). The generated page then still names a few URLs that are
never fetched; `strip_external` removes those that are links or messages (EXTERNAL_STRIPPED)
and leaves the XML namespace identifiers that SVG and the bundled icons need (NAMESPACE_URLS).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLURE = ROOT / "tools" / "allure" / "node_modules" / "allure-commandline" / "dist" / "bin" / "allure"
MARKER = ".night.json"  # {"run": <record start>, "added": <unix time>} of the night last added
BEFORE = "history-before-night"  # the history as it stood before that night

# Identifiers, not addresses: XML namespaces (SVG, XLink, XHTML) and the metadata namespaces of
# the bundled SVG icons; and the placeholder base Allure's link sanitiser parses relative URLs with.
NAMESPACE_URLS = ("http://www.w3.org/", "http://purl.org/dc/", "http://creativecommons.org/ns#",
                  "http://www.inkscape.org/namespaces/", "http://sodipodi.sourceforge.net/DTD/",
                  "https://allure.local")
# Links and messages to third parties, replaced by an empty string: the Playwright trace viewer
# (for Playwright traces, which this suite never attaches), a highlight.js console warning.
EXTERNAL_STRIPPED = ("https://trace.playwright.dev/", "https://trace.playwright.dev",
                     "https://github.com/highlightjs/highlight.js/wiki/security")
URL = re.compile(r"https?://[A-Za-z0-9.-]+[^\s\"'`)<>]*")


class ReportError(Exception):
    pass


def external_urls(text: str) -> list[str]:
    """Every http(s) URL in `text` that is not a namespace identifier."""
    return [u for u in URL.findall(text) if not u.startswith(NAMESPACE_URLS)]


def strip_external(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for url in EXTERNAL_STRIPPED:
        text = text.replace(url, "")
    path.write_text(text, encoding="utf-8")


def _run_id(results: Path) -> str:
    """The run the results belong to: its record's start time (record.json beside the results)."""
    record = results.parent / "record.json"
    try:
        return str(json.loads(record.read_text(encoding="utf-8"))["started"])
    except (OSError, ValueError, KeyError, TypeError):
        newest = max((p.stat().st_mtime for p in results.glob("*-result.json")), default=0.0)
        return f"results@{newest}"


def trend_key(results: Path) -> str:
    """Which trend the run's night belongs to: `<DUT firmware> on <rig file name>` (record.json)."""
    try:
        facts = json.loads((results.parent / "record.json").read_text(encoding="utf-8"))["facts"]
        firmware, rig = str(facts.get("DUT firmware") or "unknown firmware"), str(facts.get("Rig file") or "")
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown firmware on unknown rig"
    return f"{firmware} on {Path(rig).name or 'unknown rig'}"


def trend_dir(out: Path, key: str) -> Path:
    return out / "trends" / (re.sub(r"[^A-Za-z0-9_.@ -]+", "_", key).strip()[:100] or "unknown")


def _previous_history(trend: Path, run: str) -> Path | None:
    """The history this generation starts from: the trend's last night's, or, when that night was
    the same run, the history from before it (regenerating must not add a night)."""
    try:
        marker = json.loads((trend / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marker = {}
    if marker.get("run") == run:
        return trend / BEFORE if (trend / BEFORE).is_dir() else None
    return trend / "history" if (trend / "history").is_dir() else None


def _replace(source: Path, target: Path) -> None:
    if target.is_dir():
        shutil.rmtree(target)
    shutil.copytree(source, target)


def generate(results: Path, out: Path, allure: Path = ALLURE, key: str | None = None) -> Path:
    """Build `out/index.html` (single file) from `results`, carrying the trend over (the trend of
    `key`, by default the run's firmware on its rig)."""
    if not any(results.glob("*-result.json")):
        raise ReportError(f"{results}: no Allure results (run `make qualify` first)")
    if not allure.exists():
        raise ReportError(f"{allure}: Allure is not installed (make report installs it: npm ci in tools/allure)")
    run = _run_id(results)
    trend = trend_dir(out, key or trend_key(results))
    env = {**os.environ, "ALLURE_NO_ANALYTICS": "true"}
    with tempfile.TemporaryDirectory(prefix="allure-") as tmp:
        work = Path(tmp) / "results"
        shutil.copytree(results, work, ignore=shutil.ignore_patterns("history"))
        before = _previous_history(trend, run)
        if before is not None:
            shutil.copytree(before, work / "history")
            shutil.copytree(before, Path(tmp) / BEFORE)
        # Allure 2 writes no history/ with --single-file: one plain generation for the trend
        # data, one single-file for the page, side by side
        plain = Path(tmp) / "plain"
        cmds = [[str(allure), "generate", "--clean", "-o", str(plain), str(work)],
                [str(allure), "generate", "--clean", "--single-file", "-o", str(Path(tmp) / "single"), str(work)]]
        procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for c in cmds]
        for cmd, proc in zip(cmds, procs, strict=True):
            output, _ = proc.communicate()
            if proc.returncode:
                raise ReportError(f"{' '.join(cmd)}: exit {proc.returncode}\n{output[-2000:]}")
        trend.mkdir(parents=True, exist_ok=True)
        for name in (BEFORE, MARKER):
            target = trend / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        _replace(plain / "history", trend / "history")
        if (Path(tmp) / BEFORE).is_dir():
            shutil.copytree(Path(tmp) / BEFORE, trend / BEFORE)
        shutil.copy2(Path(tmp) / "single" / "index.html", out / "index.html")
    _replace(trend / "history", out / "history")  # the trend this page shows
    strip_external(out / "index.html")
    (trend / MARKER).write_text(json.dumps({"run": run, "added": time.time()}), encoding="utf-8")
    return out / "index.html"


def nights(out: Path, key: str | None = None) -> int:
    """How many nights a trend holds: the one the page shows, or the trend of `key`."""
    where = out / "history" if key is None else trend_dir(out, key) / "history"
    try:
        return len(json.loads((where / "history-trend.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return 0
