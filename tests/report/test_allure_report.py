"""Allure, issue 12: one result per case with its own history id and readable parameters, each
transcript attached once, environment keys in words, the note's `<value>` names kept in
descriptions; and `make report`'s HTML (the pinned Allure 2, offline, one file) with a trend
that counts each night once."""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from run_project import ROOT, run

from harness.report.allure_html import ALLURE, external_urls, generate, nights, trend_key
from harness.report.allure_meta import readable

# byte payloads (rendered `<class 'bytes'>` before), a spec-entry parameter, a docstring with `<value>` names
# and cases told apart only by a masked password (Allure 2 merged two of them as retries)
SELECTION = ("inline_msg_is_sent_verbatim or showrecvlen_adds_the_payload_length or will_string_length"
             " or credentials_presence_in_connect")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("allure-run")
    proc = run(ROOT, "suites", "-q", f"--report-dir={out}", "-k", SELECTION, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def results(directory: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in directory.glob("*-result.json")]


def test_readable_parameters_are_distinct_and_short():
    assert readable(b"0123456789") == "b'0123456789'"
    long_a, long_b = b"x" * 500 + b"a", b"x" * 500 + b"b"
    assert readable(long_a) != readable(long_b)
    assert "501 bytes" in readable(long_a) and len(readable(long_a)) < 120


def test_one_result_per_case_each_with_its_own_history(run_dir):
    record = json.loads((run_dir / "record.json").read_text())
    found = results(run_dir / "allure-results")
    assert len(found) == len(record["cases"]) > 10
    by_history = collections.defaultdict(set)
    for res in found:
        by_history[res["historyId"]].add(res["fullName"] + res["name"])
    shared = {h: names for h, names in by_history.items() if len(names) > 1}
    assert not shared, shared
    values = [p["value"] for r in found for p in r.get("parameters", [])]
    assert not [v for v in values if "<class" in v or len(v) > 120], values
    keyed = collections.Counter((r["fullName"], tuple(p["value"] for p in r.get("parameters", []))) for r in found)
    assert max(keyed.values()) == 1, "two cases read alike: Allure would merge them as retries"


def test_transcripts_attached_once_and_words_not_dots(run_dir):
    allure = run_dir / "allure-results"
    for res in results(allure):
        names = [a["name"] for a in res.get("attachments", [])]
        assert names.count("AT transcript") == 1 and "stdout" not in names, (res["name"], names)
    env = (allure / "environment.properties").read_text()
    assert "Rig\\ file=" in env and "DUT\\ firmware=BC660KGL" in env and "Rig.file" not in env
    described = [r for r in results(allure) if "<" in (r.get("description") or "")]
    assert described, "the selection has a docstring with the note's <value> names"
    for res in described:
        assert "&lt;" in res["descriptionHtml"] and "<" + "TCP" not in res["descriptionHtml"]


needs_allure = pytest.mark.skipif(
    shutil.which("java") is None or not ALLURE.exists(),
    reason="Allure HTML needs Java 17 and the pinned Allure: `make allure` (npm ci in tools/allure); "
           ".ci/run installs both")


@needs_allure
def test_report_is_one_offline_file_with_a_trend_of_nights(run_dir, tmp_path):
    results_dir = run_dir / "allure-results"
    out = tmp_path / "allure-report"
    page = generate(results_dir, out)
    assert {p.name for p in out.iterdir()} >= {"index.html", "history"}
    for path in [p for p in out.rglob("*") if p.is_file()]:
        assert not external_urls(path.read_text(encoding="utf-8", errors="replace")), path
    text = page.read_text(encoding="utf-8")
    assert "googletagmanager" not in text and "gtag(" not in text
    assert nights(out) == 1
    cases = len(json.loads((run_dir / "record.json").read_text())["cases"])
    plain = tmp_path / "plain"  # Allure's own count of the cases it shows (the overview's number)
    subprocess.run([str(ALLURE), "generate", "--clean", "-o", str(plain), str(results_dir)], check=True,
                   capture_output=True, timeout=300)
    assert json.loads((plain / "widgets" / "summary.json").read_text())["statistic"]["total"] == cases
    generate(results_dir, out)  # the same run again: no second night
    assert nights(out) == 1
    record = run_dir / "record.json"  # a later run (another start time) adds its night
    data = json.loads(record.read_text())
    later = tmp_path / "later"
    shutil.copytree(run_dir, later)
    data["started"] += 86400
    (later / "record.json").write_text(json.dumps(data))
    generate(later / "allure-results", out)
    assert nights(out) == 2
    generate(later / "allure-results", out)
    assert nights(out) == 2
    # another firmware on the same rig: a trend of its own, the first one untouched
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    data["started"] += 86400
    firmware = data["facts"]["DUT firmware"]
    data["facts"]["DUT firmware"] = "BC660KGLAAR01A06"
    (other / "record.json").write_text(json.dumps(data))
    generate(other / "allure-results", out)
    assert nights(out) == 1
    assert nights(out, trend_key(later / "allure-results")) == 2
    # the first firmware's next night continues its own trend
    data["started"] += 86400
    data["facts"]["DUT firmware"] = firmware
    (later / "record.json").write_text(json.dumps(data))
    generate(later / "allure-results", out)
    assert nights(out) == 3
    assert nights(out, "BC660KGLAAR01A06 on " + Path(data["facts"]["Rig file"]).name) == 1


@needs_allure
def test_fleet_merge_feeds_every_rig_to_one_allure_report(run_dir, tmp_path):
    """Issue 14, item 4: `merge ... --allure DIR`: each rig's cases side by side, none a retry of another's."""
    rigs = {}
    for name in ("bench-a", "bench-b"):
        rigs[name] = tmp_path / name
        shutil.copytree(run_dir, rigs[name])
    out = tmp_path / "fleet"
    cmd = [sys.executable, "-m", "harness.report", "merge", *(f"{n}={d}" for n, d in rigs.items()),
           "--html", str(tmp_path / "fleet.html"), "--allure", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    one = results(run_dir / "allure-results")
    merged = results(out / "allure-results")
    assert len(merged) == 2 * len(one)
    assert len({r["historyId"] for r in merged}) == len(merged)  # no rig's case folded into another's
    hosts = collections.Counter(next(x["value"] for x in r["labels"] if x["name"] == "host") for r in merged)
    assert hosts == {"bench-a": len(one), "bench-b": len(one)}
    assert all(any(x["name"] == "epic" for x in r["labels"]) for r in merged)  # the chapter tree stays
    page = out / "allure-report" / "index.html"
    assert page.is_file() and not external_urls(page.read_text(encoding="utf-8"))
    twice = subprocess.run([*cmd[:4], f"a={rigs['bench-a']}", f"b={rigs['bench-a']}", "--html",
                            str(tmp_path / "f2.html"), "--allure", str(tmp_path / "f2")],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert twice.returncode == 2 and "given twice" in twice.stderr and "Traceback" not in twice.stderr, twice.stderr
