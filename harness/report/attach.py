"""Put a case's evidence (AT transcript, later the wire log) into every report format.

JUnit reads the teardown report's `sections` ("Captured stdout ..." lands in <system-out>),
pytest-html reads `report.extras`, Allure takes attachments while the case is still open. Allure
gets each piece of evidence once, at teardown, so its copy carries the teardown's URCs too
(allure-pytest's own "stdout" attachment, which repeated it, is switched off by the run).
"""

from __future__ import annotations

import html
from typing import Any

import allure
from pytest_html import extras as html_extras

from harness.at.transcript import visible

STYLE = {  # distinct colours per direction, readable on white
    "TX": "color:#0b4f9c",
    "RX": "color:#1b5e20",
    "URC": "color:#8a4b00;font-weight:bold",
    "NOTE": "color:#666;font-style:italic",
}


# a 1,500-byte data-mode line wraps anywhere instead of pushing the report's columns off screen
PRE_STYLE = ("white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-all;font-size:12px;"
             "max-height:40em;overflow:auto")


def transcript_html(entries: list[Any], title: str) -> str:
    """A self-contained <pre> block: the HTML report must open from disk with no assets."""
    t0 = entries[0].t if entries else 0.0
    rows = []
    for e in entries:
        style = STYLE.get(e.direction, "")
        text = html.escape(visible(e.text))
        # a time since the first line, not "+   0.000s" (read as a diff marker)
        rows.append(f'<span style="{style}">t={e.t - t0:7.3f}s {e.direction:<4} {text}</span>')
    body = "\n".join(rows) or "(nothing was exchanged)"
    return (f"<div><b>{html.escape(title)}</b><pre style=\"{PRE_STYLE}\">{body}</pre></div>")


def attach_junit(report: Any, title: str, text: str) -> None:
    """The evidence as it stands at teardown: JUnit's <system-out> is written from the teardown
    report's "Captured stdout" sections; Allure gets its one copy here."""
    # JUnit joins all sections' contents; the heading line keeps transcripts apart there.
    report.sections.append((f"Captured stdout {title}", f"==== {title} ====\n{text}\n"))
    allure.attach(text, name=title, attachment_type=allure.attachment_type.TEXT)


def attach_text(report: Any, title: str, text: str, html_block: str | None = None) -> None:
    """Attach one named text to the pytest-html extras (Allure's copy is attached at teardown)."""
    extras = list(getattr(report, "extras", []))
    block = html_block or (f"<div><b>{html.escape(title)}</b><pre style=\"{PRE_STYLE}\">"
                           f"{html.escape(text)}</pre></div>")
    extras.append(html_extras.html(block))
    report.extras = extras
