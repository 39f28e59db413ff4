"""The matrix at a glance (issue 12): the headline first, then the sections that need a reader,
then the passing ones; observations collapsed, each under its own section only; failing cases
linked to the HTML report; full width; printable; one console line per chapter."""

from __future__ import annotations

import re

from harness.report.matrix import chapter_lines, render_html


def _case(nodeid, sections, verdict="passed", message="", observations=None):
    return {"nodeid": nodeid, "sections": sections, "verdict": verdict, "message": message,
            "observations": observations or {}, "deviations": {}}


RECORD = {
    "complete": True,
    "summary": {"passed": 3, "failed": 1},
    "facts": {"DUT firmware": "BC660KGLAAR01A05"},
    "cases": [
        _case("suites/test_qmtcfg.py::test_a", ["3.3.1"], observations={"o1": "1", "o2": "2", "o3": "3"}),
        # a case checking two sections: its observation belongs to its own (first) section only
        _case("suites/test_qmtconn.py::test_b", ["3.3.4", "3.3.1"], observations={"conn_obs": "x"}),
        _case("suites/test_qmtpub.py::test_c", ["3.3.8"]),
        _case("suites/test_timers.py::test_keepalive[1]", ["3.3.4"], "failed", "assert 61 == 60"),
    ],
}


def test_headline_then_failing_section_then_passing_ones():
    page = render_html(RECORD, html_href="html/index.html")
    verdict = page.index("DOES NOT CONFORM")
    failing = page.index("<td>3.3.4</td>")
    passing = page.index("<td>3.3.1</td>")
    assert verdict < failing < passing < page.index("<td>3.3.8</td>")
    assert verdict < page.index("<h1>")  # the verdict is the first thing on the page
    link = re.search(r'<a href="([^"]+)">suites/test_timers.py::test_keepalive\[1\]</a>', page)
    assert link and link.group(1).startswith("html/index.html"), "a failing case links to its evidence"


def test_observations_collapsed_once_under_their_own_section():
    page = render_html(RECORD)
    assert "<details><summary>3 observations</summary>" in page
    assert page.count("conn_obs = x") == 1
    row_331 = page[page.index("<td>3.3.1</td>"):]
    row_331 = row_331[:row_331.index("</tr>")]
    assert "conn_obs" not in row_331 and "o1 = 1" in row_331


def test_full_width_and_printable():
    page = render_html(RECORD)
    assert "max-width:80em" not in page
    assert "@media print" in page


def test_one_console_line_per_chapter():
    lines = chapter_lines(RECORD)
    assert lines == ["chapter 3 MQTT AT Commands: sections 2 passed, 1 failed (failed: 3.3.4)"]
