"""MQTT 3.1.1 verdicts on the wire (harness.proxy.judge), per case: the `wire` fixture gives each case a
watch over its slice of the session's wire log; after the body, what the DUT broke in it fails
the case (`WireViolation`, each packet named), and what no case owns or the broker broke is a
section of the terminal summary (the rig's problem, not the DUT's).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.mqtt.codec import Direction
from harness.proxy import Record, WireLog

SUMMARY_TITLE = "MQTT 3.1.1 violations on the wire that no case owns"


class WireViolation(AssertionError):
    """The DUT sent packets through the fault proxy that break MQTT 3.1.1 (each one named)."""


def describe(records: list[Record]) -> str:
    """One line per offending packet: connection, direction, type, wire-log seq, the statements."""
    return "\n".join(f"  #{r.conn} {r.direction} {r.type} (wire log seq {r.seq}): {'; '.join(r.violations)}"
                     for r in records)


@dataclass
class CaseWatch:
    """The DUT's violations in one case's slice, each handed out once (after the body, then at
    teardown for what came later)."""

    log: WireLog
    mark: int
    reported: int = 0
    end: int | None = None  # the slice's end once the case's teardown ran

    def take(self) -> list[Record]:
        upto = self.log.mark()
        found = self.log.violations(since=max(self.mark, self.reported), until=upto, direction=Direction.C2B)
        self.reported = upto
        return found


@dataclass
class SessionWatch:
    """The slices cases own, and what was left over when the proxy stopped."""

    slices: list[CaseWatch] = field(default_factory=list)
    unowned: list[Record] = field(default_factory=list)
    broker: list[Record] = field(default_factory=list)

    def owned(self, seq: int) -> bool:
        return any(w.mark <= seq < (w.end if w.end is not None else seq + 1) for w in self.slices)


WATCH_KEY = pytest.StashKey[CaseWatch]()
SESSION_KEY = pytest.StashKey[SessionWatch]()
@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A case that used `wire` fails when the DUT broke MQTT 3.1.1 in its slice; a body that failed
    anyway carries the violations as a note of its own failure."""
    watch = item.stash.get(WATCH_KEY, None)
    if watch is None:
        return (yield)
    try:
        result = yield
    except Exception as exc:
        found = watch.take()
        if found:
            exc.add_note("the DUT also broke MQTT 3.1.1 on the wire:\n" + describe(found))
        raise
    found = watch.take()
    if found:
        __tracebackhide__ = True
        raise WireViolation("the DUT broke MQTT 3.1.1 on the wire (fault proxy):\n" + describe(found))
    return result


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None or not (session.unowned or session.broker):
        return
    terminalreporter.section(SUMMARY_TITLE)
    if session.unowned:
        terminalreporter.write_line("the DUT, between cases (no case's slice holds these packets):")
        terminalreporter.write_line(describe(session.unowned))
    if session.broker:
        terminalreporter.write_line("the broker (a rig problem, not a verdict on the DUT):")
        terminalreporter.write_line(describe(session.broker))
