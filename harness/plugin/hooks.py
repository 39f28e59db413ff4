"""The plugin's hooks: command-line options, markers, whether the plugin is active, the rig, and
report glue (the package's docstring, harness/plugin/__init__.py, is the map of the others)."""

from __future__ import annotations

import html
import inspect
import os
from pathlib import Path
from typing import Any

import pytest

from harness.at.transcript import known_secrets
from harness.plugin.run import RunLife, is_conformance_run
from harness.report.attach import attach_junit, attach_text, transcript_html
from harness.report.coverage import CoverageError, coverage_map
from harness.report.coverage import write as write_coverage
from harness.report.lock import Held, ReportDirBusy, hold, release
from harness.report.mask import mask_report, secret_id
from harness.report.matrix import chapter_of, feature_of
from harness.report.selection import describe
from harness.report.yardstick_coverage import CitationError, cited
from harness.report.yardstick_coverage import build as build_yardsticks
from harness.rig import OPTION_NAMES, RigConfig, RigError, load_rig
from harness.rig.options import RIG_OPTIONS, overrides

RIG_KEY = pytest.StashKey[RigConfig]()
LOCK_KEY = pytest.StashKey[Held]()
RUN_KEY = pytest.StashKey[RunLife]()
COVERAGE_OUTPUT = "harness.coverage"  # an xdist worker's collection, for the controller's coverage pages
FACTS_KEY = pytest.StashKey[dict[str, str]]()  # DUT identity, rig, broker: every report's header
# per item: (title, Transcript, always); always=False ones are attached only when setup failed
TRANSCRIPTS_KEY = pytest.StashKey[list[tuple[str, Any, bool]]]()
SETUP_FAILED_KEY = pytest.StashKey[bool]()
ATTACHED_KEY = pytest.StashKey[list[tuple[str, Any]]]()  # evidence already attached to html/Allure

MARKERS = (
    "spec(section): the application note section the case checks, e.g. spec('3.3.1')",
    "slow: takes module-time seconds even at the rig's time scale",
    "ssl: needs the TLS path (AT+QSSLCFG, a TLS listener)",
    "power: needs power/reset control of the DUT (a relay, or the emulator's control)",
    "hardware_only: meaningful only on a physical module",
    "covers(*entry_ids): the harness.spec entries (ids) the case checks; feeds the coverage report",
    "needs_broker(*capabilities, at_least=None): skipped, with the reason, when the rig's broker lacks one",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("bc660k", "BC660K-GL conformance rig")
    g.addoption("--rig", default=None, metavar="FILE", help="rig file (default: rig.yaml in the rootdir)")
    for opt in RIG_OPTIONS:
        g.addoption(opt.flag, default=None, metavar=opt.metavar, help=opt.help)
    g.addoption("--section", action="append", default=[], metavar="SECTION",
                help="run only the cases marked with this section of the note or one below it "
                     "(e.g. 3.3.8, or 3.3 for all commands); repeatable")
    g.addoption("--progress-every", type=float, default=15.0, metavar="S",
                help="print the [progress] line (cases done, time left) at most every S seconds "
                     "(default 15; 0: after every case)")


def _overrides(config: pytest.Config) -> dict[str, Any]:
    return overrides({opt.flag: config.getoption(opt.flag) for opt in RIG_OPTIONS})


def _rig_path(config: pytest.Config) -> Path:
    """The rig file, named as short as it can be so error lines read `rig.yaml: ...`."""
    given = config.getoption("--rig")
    path = config.rootpath / "rig.yaml" if given is None else config.invocation_params.dir / given
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def is_active(config: pytest.Config) -> bool:
    """The plugin is active where a rig is (harness/plugin/__init__.py): `--rig`, an option that sets
    a rig key, or a rig.yaml in the rootdir. A pytest run of another project in the same
    environment (the entry point loads the plugin there too) reads no rig and writes no report."""
    if config.getoption("--rig") is not None or _overrides(config):
        return True
    return (config.rootpath / "rig.yaml").is_file()


INACTIVE = ("the BC660K-GL conformance plugin is not active here: no rig.yaml in the rootdir and no --rig "
            "(or another rig option) on the command line")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Load the rig before anything runs: a broken rig file stops the run with one line."""
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    if not is_active(config):
        return
    try:
        rig = load_rig(_rig_path(config), _overrides(config), option_names=OPTION_NAMES)
    except RigError as exc:
        raise pytest.UsageError(str(exc)) from None
    worker = getattr(config, "workerinput", None)  # an xdist worker: its own DUT of `duts:`
    try:
        if worker:
            rig = rig.for_worker(int(worker["workerid"].removeprefix("gw")), int(worker["workercount"]))
        else:  # the controller checks first, so a short `duts:` list is one line, not a worker traceback
            workers = getattr(config.option, "numprocesses", None)
            rig.for_worker(0, workers if isinstance(workers, int) and workers > 0 else 1)
            rig = rig.for_worker(0, 1)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RIG_KEY] = rig
    config.stash[FACTS_KEY] = {
        "Rig file": str(rig.source),
        "DUT kind": rig.dut.kind,
        "Time scale": str(rig.dut.time_scale),
        **({"Network": str(rig.dut.network)} if rig.dut.network else {}),
        "Broker": rig.broker.kind,
        "Selection": describe(list(config.args), config.rootpath, keyword=config.option.keyword,
                              markexpr=config.option.markexpr, sections=config.getoption("--section")),
    }
    if not is_conformance_run(config):
        return  # the harness's own tests: no report directory is touched
    if not worker:  # xdist workers write into their controller's directory, under its lock
        try:
            config.stash[LOCK_KEY] = hold(rig.report.dir)
        except ReportDirBusy as exc:
            raise pytest.UsageError(str(exc)) from None
        except OSError as exc:  # said before the first case: the report directory cannot take this run
            raise pytest.UsageError(f"{rig.report.dir}: cannot write reports here ({exc.strerror or exc})") from None
    life = RunLife(config, rig, config.stash[FACTS_KEY])
    try:
        life.start()
    except OSError as exc:  # said before the first case: the report directory cannot take this run
        raise pytest.UsageError(f"{rig.report.dir}: cannot write reports here ({exc.strerror or exc})") from None
    config.stash[RUN_KEY] = life
    config.pluginmanager.register(life, "bc660k-run-life")
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(_HtmlReportHooks(config), "bc660k-html-hooks")


def run_life(config: pytest.Config) -> RunLife | None:
    """The conformance run's bookkeeping, or None for a run of the harness's own tests."""
    return config.stash.get(RUN_KEY, None)


def evidence_dir(config: pytest.Config) -> Path | None:
    """Where a conformance run keeps files beside its reports until it promotes them (the
    emulator's log); None when the run writes no reports (then use a temporary file)."""
    life = run_life(config)
    return life.evidence_dir() if life is not None else None


def add_transcript(item: pytest.Item, title: str, transcript: Any, always: bool = True) -> None:
    """Fixtures register the evidence of a case (anything with `render() -> str`: an AT
    transcript, a wire log, a scripted peer's log); the report hook attaches it to every
    report format. Setup evidence (always=False) only matters when the setup is what failed."""
    item.stash.setdefault(TRANSCRIPTS_KEY, []).append((title, transcript, always))


def record_facts(config: pytest.Config, facts: dict[str, str]) -> None:
    config.stash[FACTS_KEY].update(facts)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    mask_report(report, known_secrets())  # a failure that prints a password typed into the DUT
    # The call phase carries the evidence; a case that died in setup carries the setup's.
    if report.when == "setup" and report.failed:
        item.stash[SETUP_FAILED_KEY] = True
    setup_failed = item.stash.get(SETUP_FAILED_KEY, False)
    chosen = [(title, t) for title, t, always in item.stash.get(TRANSCRIPTS_KEY, []) if always or setup_failed]
    if report.when == "call" or (report.when == "setup" and setup_failed):
        for title, evidence in chosen:
            text = evidence.render()
            entries = getattr(evidence, "entries", None)  # an AT transcript: styled per direction
            attach_text(report, title, text, transcript_html(entries, title) if entries is not None else None)
    elif report.when == "teardown":
        for title, transcript in chosen:
            attach_junit(report, title, transcript.render())
        if report.failed:  # a rig fault found after the body failed: its ladder log in every format
            for title, evidence in chosen[len(item.stash.get(ATTACHED_KEY, [])):]:
                attach_text(report, title, evidence.render())
    if report.when == "call" or (report.when == "setup" and setup_failed):
        item.stash[ATTACHED_KEY] = chosen


def sections_of(item: pytest.Item) -> list[str]:
    """The note sections a case checks: its spec markers, closest first, without repeats."""
    found: list[str] = []
    for mark in item.iter_markers("spec"):
        for sec in map(str, mark.args):
            if sec not in found:
                found.append(sec)
    return found


def add_observation(item: pytest.Item, name: str, value: object) -> None:
    """Record what the note leaves open (DESIGN "Where the application note is unclear"): kept
    per firmware in the record, diffed between firmware versions, never a verdict."""
    item.user_properties.append((f"observation.{name}", str(value)))


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A secret parameter's id reads *** (harness/report/mask.secret_id): the node id is in
    every report, and pytest would have put the password in it."""
    rig = config.stash.get(RIG_KEY, None)
    return secret_id(argname, val, {*known_secrets(), *(rig.secrets() if rig is not None else ())})


def _in_sections(sections: list[str], wanted: list[str]) -> bool:
    return any(sec == w or sec.startswith(w + ".") for sec in sections for w in wanted)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--section selects by the note's numbering; Allure's tree follows the note: epic = chapter,
    feature = section, story = the case."""
    wanted = config.getoption("--section")
    if wanted:
        keep = [i for i in items if _in_sections(sections_of(i), wanted)]
        dropped = [i for i in items if not _in_sections(sections_of(i), wanted)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    for item in items:
        sections = sections_of(item)
        item.user_properties.extend(("spec_section", sec) for sec in sections)  # every phase's report
        if not sections:
            continue
        item.add_marker(pytest.mark.allure_label(chapter_of(sections[0]), label_type="epic"))
        for section in sections:
            item.add_marker(pytest.mark.allure_label(feature_of(section), label_type="feature"))
        story = getattr(item, "originalname", item.name)
        item.add_marker(pytest.mark.allure_label(story, label_type="story"))


def statement_citations(items: list[pytest.Item]) -> list[tuple[str, list[str]]]:
    """(nodeid, MQTT 3.1.1 statement ids) for each conformance case (one marked ``spec`` or
    ``covers``): the ``[MQTT-x.y.z-n]`` its function's docstring or source cites (how cases cite
    MQTT; harness/report/yardstick_coverage.py). The harness's own tests cite nothing, even when a
    run collects them beside the suites (`make test`) and one names a bogus id on purpose."""
    texts: dict[Any, list[str]] = {}
    out = []
    for item in items:
        if item.get_closest_marker("spec") is None and item.get_closest_marker("covers") is None:
            continue
        fn = getattr(item, "function", None)
        if fn is not None and fn not in texts:
            try:
                texts[fn] = cited(inspect.getsource(fn))
            except (OSError, TypeError):
                texts[fn] = cited(fn.__doc__ or "")
        out.append((item.nodeid, texts.get(fn, []) if fn is not None else []))
    return out


def pytest_collection_finish(session: pytest.Session) -> None:
    citations = [(item.nodeid, [str(a) for m in item.iter_markers("covers") for a in m.args])
                 for item in session.items]
    if not any(ids for _, ids in citations):
        return
    nodeids, statements = [i.nodeid for i in session.items], statement_citations(session.items)
    coverage, yard = _coverage(citations, nodeids, statements)  # a worker too: a bad citation stops it
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller, which writes the reports, collects nothing
        life = run_life(session.config)
        whole = life.whole_citations if life is not None and life.whole_citations else citations
        workeroutput[COVERAGE_OUTPUT] = {"citations": citations, "nodeids": nodeids, "statements": statements,
                                         "whole": whole}
        return
    _write_coverage_at_end(session.config, coverage, yard)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """With xdist (-n) the controller never collects, so the coverage pages come from the first
    worker's collection (every worker collects the same cases); without this an -n run wrote none."""
    out = (getattr(node, "workeroutput", None) or {}).get(COVERAGE_OUTPUT)
    life = run_life(node.config)
    if out is None or life is None or any(name == "coverage" for name, _ in life.extra_writers):
        return
    citations = [(nodeid, list(ids)) for nodeid, ids in out["citations"]]
    statements = [(nodeid, list(ids)) for nodeid, ids in out["statements"]]
    if not life.whole_citations:  # what a subset's coverage page sets beside its own (run.py)
        life.whole_citations = [(nodeid, list(ids)) for nodeid, ids in out["whole"]]
    _write_coverage_at_end(node.config, *_coverage(citations, list(out["nodeids"]), statements))


def _coverage(citations: list[tuple[str, list[str]]], nodeids: list[str],
              statements: list[tuple[str, list[str]]]) -> tuple[Any, Any]:
    try:
        return coverage_map(citations), build_yardsticks(nodeids, statements)
    except (CoverageError, CitationError) as exc:
        raise pytest.UsageError(str(exc)) from None


def _write_coverage_at_end(config: pytest.Config, coverage: Any, yard: Any) -> None:
    life = run_life(config)
    if life is not None and not life.worker:
        life.extra_writers.append(("coverage", lambda staged: write_coverage(coverage, staged, yard)))


def pytest_report_header(config: pytest.Config) -> list[str]:
    rig = config.stash.get(RIG_KEY, None)
    if rig is None:
        return []
    dut = rig.dut
    if dut.kind == "serial":
        where = dut.port
    elif dut.kind == "labgrid" and rig.labgrid is not None:
        lg = rig.labgrid
        where = f"labgrid place {lg.place or lg.reserve} at {lg.coordinator}"
    else:
        where = f"emulator ({dut.transport}, {dut.firmware}, network {dut.network})"
    return [f"rig: {rig.source} | DUT: {where} | time scale {rig.dut.time_scale} | broker: {rig.broker.kind}"]


class _HtmlReportHooks:
    """pytest-html hooks, registered only when pytest-html is active (its hooks do not exist
    otherwise), holding the config that the hooks' arguments do not carry."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        report.title = self.config.stash[RIG_KEY].report.title

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="section">Section</th>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        sections = ", ".join(str(v) for k, v in getattr(report, "user_properties", []) if k == "spec_section")
        cells.insert(1, f'<td class="col-section">{html.escape(sections)}</td>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str],
                                    session: pytest.Session) -> None:
        life = run_life(self.config)
        if life is not None and not life.worker:  # the run's verdict, as the matrix will say it
            from harness.report.matrix import headline

            verdict = headline(life.record.to_json())
            colour = {"CONFORMS": "#2e7d32", "DOES NOT CONFORM": "#c62828"}.get(verdict, "#9a6700")
            prefix.append(f'<p style="font-size:22px;font-weight:bold;color:#fff;background:{colour};'
                          f'padding:6px 10px">{html.escape(verdict)}</p>')
        facts = self.config.stash.get(FACTS_KEY, {})
        rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                       f"<td>{html.escape(v)}</td></tr>" for k, v in facts.items())
        prefix.append(f"<table>{rows}</table>")
        rig = self.config.stash[RIG_KEY]
        matrix = os.path.relpath((rig.report.dir / "matrix.html").resolve(), rig.report.html.resolve().parent)
        prefix.append(f'<p><a href="{html.escape(matrix)}">Conformance matrix by section of the note</a></p>')


def pytest_unconfigure(config: pytest.Config) -> None:
    lock = config.stash.get(LOCK_KEY, None)
    if lock is not None:
        release(lock)
