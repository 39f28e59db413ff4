"""Verdicts beyond pass/fail: waived failures, and deviations from the note's plain reading.

- `--waivers FILE` (or `report.waivers` in the rig file): known deviations of a firmware,
  accepted for a while (harness/report/waivers.py has the format). A failure of a case that an
  unexpired waiver matches becomes `waived`: pytest's summary counts it as "N waived", JUnit
  shows it as `<skipped message="waived: ...">`, Allure files it under the "Waived" category,
  and the reports carry the property ("waiver", text), from which the record gives the case the
  verdict `waived`. Only the call phase is waivable: a setup or teardown error is the rig's or
  the harness's problem, never a known deviation of the firmware. An expired waiver waives
  nothing (the failure stands, with the property "waiver_expired"); expired waivers, and in a
  whole-suite run the waivers that matched nothing, are listed at the end. The exit status is 0
  when every failure was waived, unless `--fail-on-waived`.
- `observe(name, value, plain=...)` (harness/plugin/fixtures/report.py) records how far an observation is from
  the note's plain reading (harness/spec/plain.py) as the property ("deviation.<name>", JSON).
  Without `--strict` a deviation is flagged (listed at the end, kept in the record); with
  `--strict` a case that passed but deviated fails, quoting the note's line, unless an
  unexpired waiver for that observation waives it.

`--strict` is pytest's own flag (pytest 9 has one: strict markers, xfail, config and
parametrization ids, none of which the suites trip over); it also switches the plain-reading
check on, so nobody who types `--strict` gets the lenient run thinking it strict. On a pytest
without that flag this plugin defines it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.plugin.hooks import FACTS_KEY, RIG_KEY
from harness.report.selection import WHOLE
from harness.report.waivers import Waiver, WaiverError, WaiverSet, load_waivers
from harness.spec.plain import PlainReading

WAIVER_PROPERTY = "waiver"
EXPIRED_PROPERTY = "waiver_expired"
DEVIATION_PREFIX = "deviation."
FIRMWARE_FACT = "DUT firmware"  # harness.rig.identity.Identity.facts()

_PLUGIN_NAME = "bc660k-verdicts"
WAIVERS_KEY = pytest.StashKey[WaiverSet]()
TALLY_KEY = pytest.StashKey["_Tally"]()
# per item: the deviations observed in this case: (observation name, reading, value)
DEVIATIONS_KEY = pytest.StashKey[list[tuple[str, PlainReading, Any]]]()
# per item: set when --strict failed the case only for deviations that observation waivers cover
STRICT_WAIVER_KEY = pytest.StashKey[Waiver]()


@dataclass
class _Tally:
    """What the controller (or the only process) saw: waived cases and flagged deviations."""

    waived: list[str] = field(default_factory=list)  # node ids
    deviations: list[tuple[str, str, str, str]] = field(default_factory=list)  # nodeid, name, text, waiver


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("bc660k", "BC660K-GL conformance rig")
    g.addoption("--waivers", default=None, metavar="FILE",
                help="YAML file of waivers (known deviations per firmware, with reason, ticket and expiry); "
                     "overrides report.waivers of the rig file. pytest's --strict also fails every "
                     "deviation from the note's plain reading.")
    g.addoption("--fail-on-waived", action="store_true", default=False,
                help="exit 1 when any failure was waived (default: waived failures leave the exit status 0)")
    with contextlib.suppress(ValueError):  # pytest >= 9 has --strict; older ones get ours (same dest)
        g.addoption("--strict", action="store_true", default=False,
                    help="fail every case whose observations deviate from the note's plain reading")


def strict(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "strict", False))


def _waiver_path(config: pytest.Config) -> Path | None:
    given = config.getoption("--waivers")
    if given:
        path = Path(given)
        if not path.is_absolute() and config.invocation_params.dir != Path.cwd():
            path = config.invocation_params.dir / path
        return path
    rig = config.stash.get(RIG_KEY, None)
    return getattr(rig.report, "waivers", None) if rig is not None else None


def pytest_configure(config: pytest.Config) -> None:
    """A waiver file that cannot be used stops the run before any case (exit 4, one line)."""
    if config.stash.get(RIG_KEY, None) is None:
        return  # the plugin is not active here (hooks.is_active)
    path = _waiver_path(config)
    if path is not None:
        try:
            config.stash[WAIVERS_KEY] = load_waivers(path)
        except WaiverError as exc:
            raise pytest.UsageError(str(exc)) from None
    config.stash[TALLY_KEY] = _Tally()
    config.pluginmanager.register(_Verdicts(config), _PLUGIN_NAME)


def _waivers(config: pytest.Config) -> WaiverSet | None:
    return config.stash.get(WAIVERS_KEY, None)


def _firmware(config: pytest.Config, properties: list[tuple[str, object]]) -> str:
    """The DUT's firmware revision: from the case's own properties (harness/plugin/fixtures/modem.py adds the
    identity), else the run's facts (harness/plugin/fixtures/dut.py), else "" (matched only by firmware "*")."""
    for key, value in properties:
        if key == FIRMWARE_FACT:
            return str(value)
    return str(config.stash.get(FACTS_KEY, {}).get(FIRMWARE_FACT, ""))


# --- observations against the plain reading -------------------------------------------------


def note_deviation(item: pytest.Item, name: str, value: object, plain: PlainReading) -> None:
    """Record observation `name` against its plain reading (the property is kept whether it
    matches or not, so the record shows agreement as well as deviation)."""
    entry = plain.deviation(value)
    ws = _waivers(item.config)
    if not entry["matches"] and ws is not None:
        hit = ws.for_observation([plain.id, name], _firmware(item.config, item.user_properties))
        if hit is not None and not hit[1].expired(ws.today):
            entry["waiver"] = hit[1].text()
    item.user_properties.append((f"{DEVIATION_PREFIX}{name}", json.dumps(entry)))
    item.stash.setdefault(DEVIATIONS_KEY, []).append((name, plain, value))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """--strict: a case whose body passed fails for each deviation from the plain reading."""
    result = yield  # a failing body raises here and stays its own failure
    if not strict(item.config):
        return result
    deviations = [(n, p, v) for n, p, v in item.stash.get(DEVIATIONS_KEY, []) if not p.matches(v)]
    if not deviations:
        return result
    ws = _waivers(item.config)
    firmware = _firmware(item.config, item.user_properties)
    open_, covered = [], []
    for name, plain, value in deviations:
        hit = ws.for_observation([plain.id, name], firmware) if ws is not None else None
        if hit is not None and not hit[1].expired(ws.today):  # type: ignore[union-attr]
            covered.append(hit[1])
        else:
            open_.append(f"{name}: {plain.describe(value)}")
    if not open_:
        item.stash[STRICT_WAIVER_KEY] = covered[0]
        shown = [f"{n}: {p.describe(v)}" for n, p, v in deviations]
    else:
        shown = open_
    __tracebackhide__ = True
    raise AssertionError("--strict: " + "; ".join(shown))


# --- waivers ------------------------------------------------------------------------------------


def _crash(report: pytest.TestReport, item: pytest.Item) -> tuple[str, int, str]:
    """Where the failure was and pytest's own crash message (first line)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.path), int(crash.lineno), str(crash.message).splitlines()[0] if crash.message else ""
    path, lineno, _ = item.location
    return str(path), (lineno or 0) + 1, report.longreprtext.strip().splitlines()[-1] if report.longreprtext else ""


class _Waived(Exception):
    """Stands in for the original exception in Allure's statusDetails, so its message is the
    waiver text ("waived: ...", the Allure category's pattern)."""


_Waived.__module__ = "builtins"
_Waived.__name__ = _Waived.__qualname__ = "waived"


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Innermost wrapper: the report is rewritten before any other plugin (JUnit, Allure,
    pytest-html, the record) looks at it."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed or hasattr(report, "wasxfail"):
        return
    ws = _waivers(item.config)
    if ws is None:
        return
    waiver = item.stash.get(STRICT_WAIVER_KEY, None)
    if waiver is None:
        hit = ws.for_case(item.nodeid, _firmware(item.config, item.user_properties))
        if hit is None:
            return
        waiver = hit[1]
        if waiver.expired(ws.today):
            text = f"{waiver.text()} has expired: the failure stands"
            item.user_properties.append((EXPIRED_PROPERTY, text))
            report.user_properties.append((EXPIRED_PROPERTY, text))
            report.sections.append(("waiver", text))
            return
    path, lineno, message = _crash(report, item)
    text = f"{waiver.text()}: {message}"
    report.sections.append(("waived failure", report.longreprtext))  # the evidence stays in the report
    report.outcome = "skipped"
    report.longrepr = (path, lineno, text)
    item.user_properties.append((WAIVER_PROPERTY, text))  # the teardown report (JUnit properties) too
    report.user_properties.append((WAIVER_PROPERTY, text))
    if call.excinfo is not None:  # Allure reads the exception, not the report, for its message
        try:
            raise _Waived(text.removeprefix("waived: ")) from call.excinfo.value
        except _Waived as exc:
            call.excinfo = pytest.ExceptionInfo.from_exception(exc)


def waiver_of(report: pytest.TestReport) -> str | None:
    for key, value in report.user_properties:
        if key == WAIVER_PROPERTY:
            return str(value)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, Any] | None:
    if report.when == "call" and report.skipped and waiver_of(report) is not None:
        return "waived", "W", ("WAIVED", {"yellow": True})
    return None


def _deviations(report: pytest.TestReport) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for key, value in report.user_properties:
        if str(key).startswith(DEVIATION_PREFIX):
            try:
                out.append((str(key).removeprefix(DEVIATION_PREFIX), json.loads(str(value))))
            except ValueError:
                continue
    return out


class _Verdicts:
    """Hooks that need the config (which pytest_runtest_logreport does not carry): the tally of
    waived cases and deviations, the exit status under --fail-on-waived, the terminal summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.session: pytest.Session | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Bookkeeping from the reports themselves, so it is the same in one process and on the
        controller of an xdist run (workers forward their reports; their own calls are skipped)."""
        config = self.config
        if hasattr(config, "workerinput") or report.when != "call":
            return
        tally = config.stash[TALLY_KEY]
        ws = _waivers(config)
        firmware = _firmware(config, report.user_properties)
        text = waiver_of(report)
        if text is not None:
            tally.waived.append(report.nodeid)
        for name, dev in _deviations(report):
            if dev.get("matches", True):
                continue
            hit = ws.for_observation([str(dev.get("reading", "")), name], firmware) if ws is not None else None
            if hit is not None and ws is not None:
                ws.note(hit[0], report.nodeid)
            line = (f"plain reading of the note §{dev.get('section')}: '{dev.get('quote')}' expects "
                    f"{dev.get('expected')!r}, the DUT answered {dev.get('got')!r}")
            tally.deviations.append((report.nodeid, name, line, str(dev.get("waiver", ""))))
        if ws is None:
            return
        hit = ws.for_case(report.nodeid, firmware)
        if hit is None:
            return
        if (text is not None and text.startswith(hit[1].text())) or (text is None and report.failed):
            ws.note(hit[0], report.nodeid)  # waived it, or (expired) would have

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = self.config
        tally = config.stash.get(TALLY_KEY, None)
        if (tally is not None and tally.waived and config.getoption("--fail-on-waived")
                and not hasattr(config, "workerinput") and session.exitstatus == pytest.ExitCode.OK):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def complete(self) -> bool:
        """The run went through its whole selection (no -x/--maxfail stop, no interrupt)."""
        s = self.session
        return s is not None and not s.shouldfail and not s.shouldstop and s.exitstatus in (
            pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        config, tr = self.config, terminalreporter
        if hasattr(config, "workerinput"):
            return
        tally = config.stash.get(TALLY_KEY, None)
        if tally is not None and tally.deviations:
            how = "failed under --strict" if strict(config) else "flagged, not failed; --strict fails them"
            tr.write_sep("-", f"deviations from the note's plain reading ({how})")
            for nodeid, name, line, waiver in tally.deviations:
                tr.write_line(f"{nodeid}: {name}: {line}" + (f" ({waiver})" if waiver else ""))
        if _waivers(config) is None:
            return
        summary = waiver_summary(config)
        tr.write_sep("-", f"waivers ({summary['file']})")
        tr.write_line(f"{len(summary['waived'])} failure(s) waived by {len(summary['used'])} waiver(s)")
        for row in summary["expired"]:
            matched = f"; matched {', '.join(row['matched'])} (the failure stands)" if row.get("matched") else ""
            tr.write_line(f"EXPIRED {row['expires']}: {_target(row)} [{row['ticket']}] {row['reason']}{matched}",
                          yellow=True)
        if summary["unmatched_checked"]:
            for row in summary["unmatched"]:
                tr.write_line(f"UNMATCHED in this whole-suite run: {_target(row)} [{row['ticket']}] "
                              f"{row['reason']}", yellow=True)
        else:
            tr.write_line("(waivers that matched nothing are listed only after a complete whole-suite run)")
        if summary["waived"] and config.getoption("--fail-on-waived"):
            tr.write_line("--fail-on-waived: the run fails because failures were waived", red=True)


def waiver_summary(config: pytest.Config) -> dict[str, Any]:
    """The waivers of this run for the record ("waivers") and the matrix: the file, the entries
    that waived something ("used", with the node ids they matched), the expired ones (with what
    they would have matched) and, after a complete whole-suite run only, the ones that matched
    nothing ("unmatched"; `unmatched_checked` says whether that list means anything); "waived"
    lists the waived cases."""
    tally = config.stash.get(TALLY_KEY, None)
    waived = list(tally.waived) if tally is not None else []
    ws = _waivers(config)
    if ws is None:
        return {"file": None, "used": [], "expired": [], "unmatched": [], "unmatched_checked": False,
                "waived": waived}
    facts = config.stash.get(FACTS_KEY, {})
    hooks = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    whole = facts.get("Selection", "") == WHOLE and isinstance(hooks, _Verdicts) and hooks.complete()
    out = ws.summary(whole_suite=whole, firmware=facts.get(FIRMWARE_FACT) or None)
    out["waived"] = waived
    return out


def _target(row: dict[str, Any]) -> str:
    key = "case" if "case" in row else "observation"
    return f"{key} {row[key]} (firmware {row['firmware']})"
