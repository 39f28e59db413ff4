"""The life of a conformance run as the record tells it: what was selected, what each case
came to, whether the run finished, and where its reports end up.

Only conformance runs (the suites) write the product's reports; the harness's own tests never
touch a report directory. Which reports, where they are staged and how they are promoted together
is reports.py's; this module says when: staged at the start, written and promoted at the
end, cut short or not, as long as one case started.

Cut short means: SIGINT, SIGTERM (what a CI job timeout sends), `-x`/`--maxfail`, a
`pytest.exit`, the rig declared broken, or a crash of the harness. Each finishes with every
report written and `record.json` saying `"complete": false` with the kind, the reason and the
case it stopped in; the matrix then says INCOMPLETE.
"""

from __future__ import annotations

import errno
import json
import signal
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from harness.plugin.reports import STAGING_INPUT, RunReports
from harness.report.allure_meta import tidy_result
from harness.report.progress import Progress, last_durations
from harness.report.record import RunRecord
from harness.report.staging import Staging
from harness.rig import RigConfig
from harness.rig.exits import RIG_BROKEN as RIG_BROKEN_EXIT

RIG_BROKEN_PREFIX = "rig broken: "
_SIGNAL_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


def is_conformance_run(config: pytest.Config) -> bool:
    """True when everything the run collects lies under the rootdir's suites/ (the default
    `testpaths`), or when the command line names a report directory (`--report-dir`): the
    harness's own tests (tests/, or tests and suites together as `make test` runs them) are not
    a qualification and write no product report unless asked to."""
    if config.getoption("--report-dir", None):
        return True
    suites = (config.rootpath / "suites").resolve()
    args = [a.split("::", 1)[0] for a in config.args] or ["."]
    for arg in args:
        path = Path(arg)
        path = (path if path.is_absolute() else config.invocation_params.dir / path).resolve()
        if path != suites and suites not in path.parents:
            return False
    return True


class RunLife:
    """Hooks of one conformance run (controller side; an xdist worker only learns where to put
    its Allure results). Registered by harness.plugin once the rig is loaded."""

    def __init__(self, config: pytest.Config, rig: RigConfig, facts: dict[str, str]) -> None:
        self.config, self.rig = config, rig
        self.worker = hasattr(config, "workerinput")
        self.record = RunRecord(facts=facts, rig=rig.redacted_dump())
        self.reports = RunReports(config, rig)  # the report files: staged at start, written at the end
        self.running: list[str] = []  # cases started and not yet finished (several with xdist)
        self.last_started = ""
        self.stop: dict[str, str] | None = None  # why the run was cut short, once known
        self.signal: str | None = None
        self.progress: Progress | None = None
        self._handlers: dict[int, Any] = {}
        self.disk_full = False  # ENOSPC while writing a report: the run stops, exit 3
        self.extra_writers: list[tuple[str, Callable[[Path], object]]] = []  # (name, writer of the staging dir)
        self.summary_lines: list[str] = []
        self.whole_citations: list[tuple[str, list[str]]] = []  # every collected case's covers, before deselection

    # -- start ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Stage the reports and route pytest-html, JUnit and Allure into the staging area
        (reports.py); SIGTERM then ends the run as Ctrl-C does."""
        self.reports.route(self.worker)
        self._install_signal_handler()

    @property
    def staging(self) -> Staging | None:
        """The staging area of the reports (the controller's), once started."""
        return self.reports.staging

    def evidence_dir(self) -> Path | None:
        """Where files of this run (the emulator's log) go until promotion."""
        return self.reports.evidence_dir()

    def _install_signal_handler(self) -> None:
        """SIGTERM ends the run like Ctrl-C does (fixtures torn down, reports written) instead of
        killing the interpreter where it stands; a second one while the run winds down is ignored."""
        if not _main_thread():
            return
        self._handlers[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signal = _SIGNAL_NAMES.get(signal.Signals(signum), str(signum))
        signal.signal(signum, signal.SIG_IGN)
        raise KeyboardInterrupt(self.signal)

    # -- selection and progress --------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Before -k, -m and --section narrow the run: what the whole collection covers, which a
        subset's coverage page sets beside its own."""
        self.whole_citations = [(i.nodeid, [str(a) for m in i.iter_markers("covers") for a in m.args]) for i in items]

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.worker:
            return
        self.record.select([(i.nodeid, _sections(i)) for i in session.items])
        expected = last_durations(self.rig.report.dir / "record.json")
        self.progress = Progress([i.nodeid for i in session.items], every_s=self._every(), expected=expected)

    def _every(self) -> float:
        every = self.config.getoption("--progress-every", 15.0)
        return max(0.0, float(every if every is not None else 15.0))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """With xdist the controller never collects: the workers' collections are the selection."""
        self.record.select([(nodeid, []) for nodeid in ids])
        if self.progress is None:
            self.progress = Progress(ids, every_s=self._every(),
                                     expected=last_durations(self.rig.report.dir / "record.json"))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.staging is not None:
            node.workerinput[STAGING_INPUT] = str(self.staging.root)

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.running.append(nodeid)
        self.last_started = nodeid
        if not self.worker:
            self.record.begin(nodeid)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        if nodeid in self.running:
            self.running.remove(nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.worker:
            return
        props = report.user_properties
        sections = [str(v) for k, v in props if k == "spec_section"]
        case = self.record.case(report.nodeid, sections)
        case.observations.update({str(k).removeprefix("observation."): str(v) for k, v in props
                                  if str(k).startswith("observation.")})
        for k, v in props:
            if str(k).startswith("deviation."):
                case.deviations[str(k).removeprefix("deviation.")] = _json_or_text(v)
        duts = [str(v) for k, v in props if k == "dut"]
        if duts:
            case.dut = duts[0]
        facts = self.record.facts
        for key, value in props:
            if str(key).startswith("DUT ") and key not in facts:
                facts[str(key)] = str(value)
        waiver = [str(v) for k, v in props if k == "waiver"]
        message, location = _message(report)
        self.record.phase(report.nodeid, sections, report.when, report.outcome, report.duration,
                          waiver[0] if waiver else message, xfail=hasattr(report, "wasxfail"),
                          location=location, waived=bool(waiver))
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if report.when == "teardown" and self.progress is not None and reporter is not None:
            line = self.progress.step(report.nodeid, sections[0] if sections else "")
            if line:
                # pytest -q writes dots without the bookkeeping ensure_newline() reads: its own line
                tw = getattr(reporter, "_tw", None)
                if tw is not None and tw.width_of_current_line:
                    reporter.write("\n")
                reporter.ensure_newline()
                reporter.write_line(line)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """A full disk (a report writer such as allure-pytest, which writes each result as its case
        ends, gets ENOSPC) stops the run cleanly: the cases not run are recorded as such, the
        reports that still fit are written, and the exit status is the rig's (3), not a crash."""
        try:
            return (yield)
        except OSError as exc:
            if exc.errno != errno.ENOSPC or self.worker:
                raise
            self._stopped("disk-full", f"no space left on the disk of {self.rig.report.dir} ({exc.filename or exc}); "
                          "the run stopped")
            session.shouldstop = f"disk full: {exc.filename or exc}"
            self.disk_full = True
            return True

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        """Outside allure-pytest's own teardown hook, which fills in the case's Allure result."""
        yield
        tidy_result(item)

    # -- how the run ends ------------------------------------------------------------------------

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if isinstance(excinfo.value, pytest.Session.Interrupted) and self.signal is None:
            return  # session.shouldstop (the rig broke, ...): _why_incomplete reads the reason
        if isinstance(excinfo.value, pytest.exit.Exception):
            self._stopped("exit", f"pytest.exit: {excinfo.value.msg}")
        else:
            name = self.signal or "SIGINT"
            self._stopped("signal", f"{name} received")

    def pytest_internalerror(self, excrepr: Any, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self._stopped("crash", f"harness crash: {excinfo.typename}: {excinfo.value}"[:500])

    def _stopped(self, kind: str, reason: str) -> None:
        if self.stop is None:
            at = ", ".join(self.running) or self.last_started
            self.stop = {"kind": kind, "reason": " ".join(reason.split()), "at": at}

    def _why_incomplete(self, session: pytest.Session) -> dict[str, str] | None:
        if self.stop is None and session.shouldfail:
            self._stopped("maxfail", f"{session.shouldfail} (-x/--maxfail)")
        if self.stop is None and session.shouldstop:
            text = str(session.shouldstop)
            self._stopped("rig-broken" if RIG_BROKEN_PREFIX in text else "stopped", text)
        if self.stop is None and any(c.verdict == "not-run" for c in self.record.cases.values()):
            self._stopped("stopped", "the run ended before every selected case ran")
        return self.stop

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        """From here on a signal must not cost the reports: it is noted and the run winds down.
        The innermost wrapper: after it, pytest-html and JUnit have written into the staging area."""
        if _main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._handlers.setdefault(sig, signal.getsignal(sig))
                signal.signal(sig, self._late_signal)
        try:
            yield
        except OSError as exc:  # pytest-html or JUnit could not write its file (a full disk)
            if exc.errno != errno.ENOSPC:
                raise
            self.disk_full = True
            self._stopped("disk-full", f"no space left on the disk of {self.rig.report.dir} ({exc.filename or exc})")
            print(f"report: could not write {exc.filename or 'a report'}: no space left on the disk", file=sys.stderr)
        finally:
            self.finish(session)
        if self.disk_full and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = RIG_BROKEN_EXIT  # a run cut short by its host's disk is no verdict

    def _late_signal(self, signum: int, frame: Any) -> None:
        self.signal = self.signal or _SIGNAL_NAMES.get(signal.Signals(signum), str(signum))
        self._stopped("signal", f"{self.signal} received while the run was finishing")

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None, None, None]:
        yield
        for line in self.summary_lines:
            terminalreporter.write_line(line)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> Generator[None, None, None]:
        try:
            yield
        finally:
            for sig, handler in self._handlers.items():
                if handler is not None:
                    signal.signal(sig, handler)

    def finish(self, session: pytest.Session) -> None:
        """After pytest-html and JUnit have written (the caller is the innermost sessionfinish
        wrapper): the record finished, then the reports written and promoted (reports.py)."""
        if self.worker or self.staging is None:
            return
        self.record.finish(self._why_incomplete(session))
        self.summary_lines = self.reports.write(self.record, self.extra_writers, self.whole_citations)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _sections(item: pytest.Item) -> list[str]:
    return [str(v) for k, v in item.user_properties if k == "spec_section"]


def _json_or_text(value: object) -> Any:
    try:
        return json.loads(str(value))
    except ValueError:
        return {"text": str(value)}


def _message(report: pytest.TestReport) -> tuple[str, str]:
    """pytest's own crash message and its location for a failure (not the first traceback line,
    which is often a fixture's repr); the reason for a skip."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: "), f"{report.longrepr[0]}:{report.longrepr[1]}"
    if not report.failed:
        return "", ""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:  # pytest.fail's own "Failed: " says nothing the verdict does not
        return str(crash.message).removeprefix("Failed: "), f"{crash.path}:{crash.lineno}"
    text = report.longreprtext.strip()
    lines = text.splitlines()
    return (lines[-1] if lines else ""), ""
