"""A pytest plugin for tests/test_coverage.py: after collection, writes what each case cites
(`covers` markers) as JSON to $COVERAGE_DUMP, so the note's coverage is computed from a real
collection of the suites without a conformance run (which would write a report directory)."""

from __future__ import annotations

import json
import os

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    citations = [(item.nodeid, [str(a) for m in item.iter_markers("covers") for a in m.args])
                 for item in session.items]
    with open(os.environ["COVERAGE_DUMP"], "w", encoding="utf-8") as f:
        json.dump(citations, f)
