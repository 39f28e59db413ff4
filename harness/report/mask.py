"""Secrets out of every report (issue 19, item 5). Transcripts mask what they know as `***` when
they record; a failing assertion, an Allure status detail or a fixture's error can still carry a
password the case typed. Two places catch those: the failure itself, masked once when its report
is made (so the console, JUnit, the HTML report and the record read the masked text), and a last
sweep over the staged report files before they are promoted (whatever a plugin wrote on its own,
e.g. allure-pytest's status details, in the raw, JSON-escaped and HTML-escaped spellings)."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from harness.report.allure_meta import shows_secret

MASK = "***"
_TEXT_SUFFIXES = {".json", ".txt", ".html", ".xml", ".log", ".properties", ".csv", ".md"}


# Free text is masked only for secrets this long, and only where a secret stands as a token of its
# own (not inside a longer word): a test password "p" or "pass" replaced everywhere would wreck
# the XML and HTML around it ("<p>", "passed") and mask nothing a reader could not guess.
MIN_SECRET_LEN = 6
_WORD = r"[A-Za-z0-9_]"


def _spellings(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for every secret as it may appear in a file: raw, inside a JSON string,
    HTML-escaped; longest first, so a secret that contains another is masked whole."""
    found: set[str] = set()
    for s in secrets:
        if s and len(s) >= MIN_SECRET_LEN:
            found.update({s, json.dumps(s)[1:-1], html.escape(s), html.escape(s, quote=False)})
    if not found:
        return None
    words = "|".join(re.escape(x) for x in sorted(found, key=len, reverse=True))
    return re.compile(f"(?<!{_WORD})(?:{words})(?!{_WORD})")


def mask_text(text: str, secrets: Iterable[str]) -> str:
    pattern = _spellings(secrets)
    return text if pattern is None else pattern.sub(MASK, text)


class MaskedRepr:
    """A failure's representation with its secrets masked: what pytest, JUnit and pytest-html
    read from a report's ``longrepr`` (``toterminal``, ``str``, ``reprcrash``)."""

    def __init__(self, text: str, reprcrash: Any) -> None:
        self.text = text
        self.reprcrash = reprcrash

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


def mask_report(report: Any, secrets: Iterable[str]) -> None:
    """Replace a failed report's ``longrepr`` by a masked copy when it shows a secret."""
    secrets = [s for s in secrets if s]
    if not secrets or not report.failed or report.longrepr is None:
        return
    text = report.longreprtext
    masked = mask_text(text, secrets)
    if masked == text:
        return
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and dataclasses.is_dataclass(crash):
        crash = dataclasses.replace(crash, message=mask_text(str(crash.message), secrets))
    report.longrepr = MaskedRepr(masked, crash)


def mask_files(root: Path, secrets: Iterable[str]) -> int:
    """Mask every text file under ``root`` in place; returns how many files changed."""
    pattern = _spellings(secrets)
    if pattern is None or not root.exists():
        return 0
    changed = 0
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix not in _TEXT_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        masked = pattern.sub(MASK, text)
        if masked != text:
            path.write_text(masked, encoding="utf-8", errors="surrogateescape")
            changed += 1
    return changed


def secret_id(argname: str, value: object, secrets: Collection[str]) -> str | None:
    """The parametrize id of a value that is a secret (by its parameter's name, or a value known
    as one: harness/report/allure_meta.shows_secret): MASK. pytest's own id of a string is the
    string, and the node id it makes is what every report keys on (the console's summary lines,
    JUnit names, Allure's name and fullName, the HTML rows, record.json), so the password would be
    there before any masking sees it; masked ids that coincide get pytest's number suffix. None:
    pytest's own id (no secret)."""
    return MASK if shows_secret(argname, value, secrets) else None
