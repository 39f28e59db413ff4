"""Put a case's evidence (AT transcript, later the wire log) into every report format.

JUnit reads the teardown report's `sections` ("Captured stdout ..." lands in <system-out>),
pytest-html reads `report.extras`, Allure takes attachments while the case is still open.
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


def transcript_html(entries: list[Any], title: str) -> str:
    """A self-contained <pre> block: the HTML report must open from disk with no assets."""
    t0 = entries[0].t if entries else 0.0
    rows = []
    for e in entries:
        style = STYLE.get(e.direction, "")
        text = html.escape(visible(e.text))
        rows.append(f'<span style="{style}">+{e.t - t0:8.3f}s {e.direction:<4} {text}</span>')
    body = "\n".join(rows) or "(nothing was exchanged)"
    return (f"<div><b>{html.escape(title)}</b><pre style=\"white-space:pre-wrap;font-size:12px;"
            f"max-height:40em;overflow:auto\">{body}</pre></div>")


def attach_junit(report: Any, title: str, text: str) -> None:
    """JUnit's <system-out> is written from the teardown report's "Captured stdout" sections."""
    # JUnit joins all sections' contents; the heading line keeps transcripts apart there.
    report.sections.append((f"Captured stdout {title}", f"==== {title} ====\n{text}\n"))


def attach_text(report: Any, title: str, text: str, html_block: str | None = None) -> None:
    """Attach one named text to the pytest-html extras and to Allure (while the case is open)."""
    extras = list(getattr(report, "extras", []))
    block = html_block or (f"<div><b>{html.escape(title)}</b><pre style=\"white-space:pre-wrap;font-size:12px;"
                           f"max-height:40em;overflow:auto\">{html.escape(text)}</pre></div>")
    extras.append(html_extras.html(block))
    report.extras = extras
    allure.attach(text, name=title, attachment_type=allure.attachment_type.TEXT)
