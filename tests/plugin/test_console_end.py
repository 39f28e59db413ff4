"""The console of a conformance run (issue 12, item 4): with `-q` the [progress] line has a line of
its own, never after pytest's dots; the run ends with one line per chapter, the headline, and the
path of every report it wrote, then how to build the Allure HTML."""

from __future__ import annotations

from pathlib import Path

from run_project import ROOT, run


def test_quiet_run_keeps_progress_apart_and_ends_with_every_report(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    proc = run(ROOT, "suites/test_qmtdisc.py", "-q", f"--report-dir={out}", "--progress-every=0", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    progress = [ln for ln in lines if "[progress]" in ln]
    assert len(progress) >= 5, proc.stdout[-3000:]  # --progress-every=0: after (nearly) every case
    assert all(ln.startswith("[progress] ") for ln in progress), [ln for ln in progress if ln[:1] != "["]
    end = lines[lines.index(next(ln for ln in lines if ln.startswith("chapter "))):]
    assert end[0].startswith("chapter 3 MQTT AT Commands: sections "), end
    assert any(ln.startswith("chapter 5 MQTT Related URCs: sections ") for ln in end), end
    assert any(ln.startswith("CONFORMS; reports (complete):") for ln in end), end
    listed = {ln.strip() for ln in end if ln.startswith("  ")}
    for name in ("record.json", "matrix.html", "junit.xml", "coverage.html", "html/index.html",
                 "allure-results", "history/index.html"):
        assert str(out / name) in listed, (name, end)
        assert (out / name).exists(), name
    assert f"Allure HTML: `make report REPORT_DIR={out}` builds {out / 'allure-report' / 'index.html'}" in end, end
    assert end[-1].endswith(" passed in " + end[-1].split(" passed in ")[1]), end  # pytest's line stays last
