"""The reports of one conformance run: where each goes, how pytest-html, JUnit and Allure are routed
into the staging area when the run starts, and what is written and promoted when it ends.

Why a module of its own: run.py keeps the run's life (the hooks that fill the record, the
signals, why a run was cut short); this module is the one place that knows the report files. It
stages every report (html, Allure results, JUnit, record, matrix, coverage, emulator log) and
promotes them together when the run ends, cut short or not, as long as one case started; a run that
stops before its first case leaves the previous reports as they were (harness/report/staging.py).
A writer that fails costs its own report with one line on stderr, never the others or the verdict.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.at.transcript import known_secrets
from harness.report.allure_meta import write_categories
from harness.report.coverage import coverage_map, rewrite_for_subset
from harness.report.environment import write_allure_environment
from harness.report.history import keep_history
from harness.report.mask import mask_files
from harness.report.matrix import chapter_lines, headline
from harness.report.matrix import render_html as matrix_html
from harness.report.record import RunRecord
from harness.report.selection import WHOLE
from harness.report.staging import Staging
from harness.rig import RigConfig

STAGING_INPUT = "bc660k_staging"  # xdist workerinput key: the controller's staging directory


def report_targets(rig: RigConfig) -> dict[str, Path]:
    """Every artefact of one run and where it ends up."""
    out = rig.report.dir
    files = ("record.json", "matrix.html", "coverage.html", "coverage.json", "emulator.log")
    return {"html": rig.report.html, "allure-results": rig.report.allure, "junit.xml": rig.report.junit,
            **{name: out / name for name in files}}


class RunReports:
    """The report files of one run: staged by `route()` at the start, written by `write()` at the end."""

    def __init__(self, config: pytest.Config, rig: RigConfig) -> None:
        self.config, self.rig = config, rig
        self.staging: Staging | None = None
        self.allure_dir: Path | None = None

    def route(self, worker: bool) -> None:
        """Stage the reports and route pytest-html, JUnit and Allure into the staging area; an xdist
        worker only learns where to put its Allure results (its controller's staging area)."""
        opt = self.config.option
        if hasattr(opt, "attach_capture"):  # allure-pytest's "stdout" copy of the transcripts (attach.py)
            opt.attach_capture = False
        if worker:
            staged = self.config.workerinput.get(STAGING_INPUT)  # type: ignore[attr-defined]
            if staged and hasattr(opt, "allure_report_dir"):
                opt.allure_report_dir, opt.clean_alluredir = str(Path(staged) / "allure-results"), False
            return
        # a report path given on the command line (--html, --junitxml, --alluredir) is the user's:
        # written there directly, never staged or removed
        given = {"html": getattr(opt, "htmlpath", None), "junit.xml": getattr(opt, "xmlpath", None),
                 "allure-results": getattr(opt, "allure_report_dir", None)}
        targets = {k: v for k, v in report_targets(self.rig).items() if not given.get(k)}
        self.staging = Staging(self.rig.report.dir, targets).create()
        if hasattr(opt, "htmlpath") and not opt.htmlpath:
            opt.htmlpath, opt.self_contained_html = str(self.staging.path("html")), True
        if hasattr(opt, "xmlpath") and not opt.xmlpath:
            opt.xmlpath = str(self.staging.path("junit.xml"))
        if hasattr(opt, "allure_report_dir") and not opt.allure_report_dir:
            opt.allure_report_dir, opt.clean_alluredir = str(self.staging.path("allure-results")), False
        self.allure_dir = Path(opt.allure_report_dir) if getattr(opt, "allure_report_dir", None) else None

    def evidence_dir(self) -> Path | None:
        """Where files of this run (the emulator's log) go until promotion."""
        if self.staging is not None:
            return self.staging.root
        staged = getattr(self.config, "workerinput", {}).get(STAGING_INPUT)
        return Path(staged) if staged else None

    def write(self, record: RunRecord, extra_writers: list[tuple[str, Callable[[Path], object]]],
              whole_citations: list[tuple[str, list[str]]]) -> list[str]:
        """After pytest-html and JUnit have written (the caller is the innermost sessionfinish
        wrapper) and the record is finished: the record, matrix, coverage, then promotion of the
        whole run. Returns the lines for the end of the terminal summary."""
        assert self.staging is not None
        # promoted once a case has a phase report: a run that dies in its first case's setup (a
        # bad port, a missing emulator) stopped at start-up and leaves the previous reports alone
        started = any(set(c.phases) - {"start"} for c in record.cases.values())
        if not started:
            self.staging.discard()
            self._silence_report_plugins()
            return [f"reports: no case started; {self.rig.report.dir} left as it was"]
        staged = self.staging.root
        from harness.plugin.verdicts import waiver_summary  # its hooks import this module's owner

        waivers = waiver_summary(self.config)
        if waivers.get("file"):
            record.extra["waivers"] = waivers
        data = record.to_json()
        self._write("record.json", lambda: record.write(staged / "record.json"))
        title = f"{self.rig.report.title}: conformance matrix"
        html_href = os.path.relpath(self.rig.report.html.resolve(), self.rig.report.dir.resolve())
        self._write("matrix.html", lambda: (staged / "matrix.html").write_text(
            matrix_html(data, title, html_href=html_href), encoding="utf-8"))
        allure_dir = self.allure_dir
        if allure_dir is not None:
            self._write("allure environment", lambda: write_allure_environment(allure_dir, record.facts))
            self._write("allure categories", lambda: write_categories(allure_dir))
        for name, writer in extra_writers:
            self._write(name, lambda w=writer: w(staged))
        selection = record.facts.get("Selection", WHOLE)
        if selection != WHOLE and (staged / "coverage.json").exists() and whole_citations:
            self._write("coverage of the whole suite", lambda: rewrite_for_subset(
                staged, selection, coverage_map(whole_citations)))
        # the last line of defence: no secret typed into the DUT or named by the rig file is
        # promoted, whichever plugin wrote it (harness/report/mask.py)
        self._write("secret masking", lambda: mask_files(staged, known_secrets()))
        written = self.staging.promote()
        self._repoint_report_plugins()
        self._write("history", lambda: keep_history(data, self.rig.report.dir / "history"))
        state = "complete" if record.incomplete is None else f"INCOMPLETE ({record.incomplete['reason']})"
        history = self.rig.report.dir / "history" / "index.html"
        allure = ([f"Allure HTML: `make report REPORT_DIR={self.rig.report.dir}` builds "
                   f"{self.rig.report.dir / 'allure-report' / 'index.html'}"]
                  if allure_dir is not None else [])
        return [*chapter_lines(data), f"{headline(data)}; reports ({state}):",
                *(f"  {p}" for p in [*written, *([history] if history.exists() else [])]), *allure]

    def _write(self, what: str, action: Any) -> None:
        """One report that cannot be written costs that report, never the others or the verdict."""
        try:
            action()
        except Exception as exc:
            print(f"report: could not write {what}: {type(exc).__name__}: {exc}", file=sys.stderr)

    def _report_plugins(self) -> list[Any]:
        from _pytest.junitxml import xml_key  # pytest's own, stable since 7.0
        from pytest_html.basereport import BaseReport

        found = [p for p in self.config.pluginmanager.get_plugins() if isinstance(p, BaseReport)]
        xml = self.config.stash.get(xml_key, None)
        return [*found, *([xml] if xml is not None else [])]

    def _repoint_report_plugins(self) -> None:
        """pytest-html and JUnit print where they wrote; after promotion that is the final path."""
        assert self.staging is not None
        targets = self.staging.targets
        for plugin in self._report_plugins():
            if hasattr(plugin, "_report_path") and "html" in targets:
                plugin._report_path = Path(targets["html"]).resolve()
            elif hasattr(plugin, "logfile") and "junit.xml" in targets:
                plugin.logfile = str(Path(targets["junit.xml"]).resolve())

    def _silence_report_plugins(self) -> None:
        """Nothing was promoted: their "generated ..." lines would name files that do not exist."""
        from _pytest.junitxml import xml_key

        assert self.staging is not None
        staged = self.staging.targets
        for plugin in self._report_plugins():
            if "html" in staged if hasattr(plugin, "_report_path") else "junit.xml" in staged:
                self.config.pluginmanager.unregister(plugin)
                if plugin is self.config.stash.get(xml_key, None):  # its own unconfigure would unregister it again
                    del self.config.stash[xml_key]
