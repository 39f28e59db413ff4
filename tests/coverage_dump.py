"""A pytest plugin for tests/report/test_coverage.py and tests/spec/test_yardsticks.py: after collection,
writes what each case cites as JSON to $COVERAGE_DUMP (`covers` markers, and the MQTT 3.1.1
statements its source cites), so coverage is computed from a real collection of the suites without
a conformance run (which would write a report directory)."""

from __future__ import annotations

import json
import os

import pytest

from harness.plugin.hooks import statement_citations


def pytest_collection_finish(session: pytest.Session) -> None:
    citations = [(item.nodeid, [str(a) for m in item.iter_markers("covers") for a in m.args])
                 for item in session.items]
    with open(os.environ["COVERAGE_DUMP"], "w", encoding="utf-8") as f:
        json.dump(citations, f)
    statements = os.environ.get("STATEMENTS_DUMP")
    if statements:
        with open(statements, "w", encoding="utf-8") as f:
            json.dump(statement_citations(session.items), f)
