"""Allure's own structure for our runs: categories that separate a nonconforming DUT from a
broken rig or a harness bug, so a nightly reader knows whom to call; parameters that read well
and never show a secret (allure-pytest writes every test parameter as it is, and a password
the transcripts show as *** must not sit beside them in plain text)."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from harness.at.transcript import known_secrets

MASK = "***"  # what the transcripts show for a secret
# a parameter so named holds a secret whatever its value: also one no transcript ever saw
# (the case stopped before sending it), e.g. password, pass_word, passwd, device_secret
SECRET_NAME = re.compile(r"pass_?w(?:or)?d|secret|passphrase|token", re.IGNORECASE)

# Allure matches in order; "failed" is an assertion (a verdict), "broken" any other exception.
CATEGORIES = [
    # First: a waived failure (harness/plugin/verdicts.py) is reported as skipped with the waiver
    # text ("waived: <reason> [<ticket>, expires ...]: <failure>") as its message.
    {"name": "Waived", "matchedStatuses": ["skipped"], "messageRegex": r"(?s)waived: .*"},
    {"name": "Rig fault", "matchedStatuses": ["failed", "broken", "skipped"],
     "messageRegex": r"(?s).*(rig broken|rig fault|cannot open serial port|PortOpenError|relay .*:|"
                     r"emulator:|broker:).*"},
    {"name": "Timeout", "matchedStatuses": ["failed", "broken"],
     "messageRegex": r"(?s).*(ATTimeout|PeerTimeout|WireLogTimeout|within [0-9.]+ ?s|Timeout >).*"},
    {"name": "DUT nonconformance", "matchedStatuses": ["failed"]},
    {"name": "Harness error", "matchedStatuses": ["broken"]},
]


def write_categories(allure_dir: str | Path) -> Path:
    path = Path(allure_dir) / "categories.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(CATEGORIES, indent=1), encoding="utf-8")
    return path


def readable(value: object, limit: int = 80) -> str:
    """A parameter value as a lab engineer reads it and as Allure keys its history on: bytes by
    value (allure-commons renders every bytes value as `<class 'bytes'>`, so Allure took all of
    a test's byte payloads for retries of one case), a spec entry by its name, anything long
    cut with a digest of the whole so that two different values never read the same."""
    if isinstance(value, (bytes, bytearray)):
        text = repr(bytes(value))
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(getattr(value, "name", None), str):
        text = f"{type(value).__name__} {value.name}"  # type: ignore[attr-defined]
    else:
        text = repr(value)
    if len(text) <= limit:
        return text
    digest = hashlib.md5(text.encode("utf-8", "backslashreplace")).hexdigest()[:8]
    size = f"{len(value)} bytes, " if isinstance(value, (bytes, bytearray)) else ""
    return f"{text[:limit - 20]}… ({size}md5 {digest})"


def shows_secret(name: str, value: object, secrets: Collection[str]) -> bool:
    """Whether a parameter would show a secret: a secret's name with a value (None and "" are
    no secret), or a value that is a known secret or holds one (a tuple of credentials).
    Whole values only: a short secret ("p") must not mask every value with that letter in it."""
    if value is None or (isinstance(value, (str, bytes, bytearray)) and not value):
        return False
    return bool(SECRET_NAME.search(name)) or _holds(value, secrets)


def _holds(value: object, secrets: Collection[str]) -> bool:
    if isinstance(value, str):
        return value in secrets
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape") in secrets
    if isinstance(value, dict):
        return any(_holds(k, secrets) or _holds(v, secrets) for k, v in value.items())
    if isinstance(value, (tuple, list, set, frozenset)):
        return any(_holds(v, secrets) for v in value)
    return False


def _current_result() -> Any:
    """The Allure result of the case being reported (allure-pytest's listener keeps it open until
    the case's last report); None when Allure is not writing results."""
    from allure_commons import plugin_manager
    from allure_pytest.listener import AllureListener

    for plugin in plugin_manager.get_plugins():
        if isinstance(plugin, AllureListener):
            return plugin.allure_logger.get_test(None)
    return None


def _case_mask(item: Any, secrets: set[str]) -> str:
    """MASK, told apart per case: Allure 2 keys a case's history by its parameters' text, so two
    cases whose only difference is a masked password read alike and were merged as retries (859
    of 860 cases shown). The case's parametrize id tells them apart, unless it holds a secret."""
    case = str(getattr(getattr(item, "callspec", None), "id", ""))
    if case and not any(s and s in case for s in secrets):
        return f"{MASK} ({case})"
    return f"{MASK} (#{item.session.items.index(item) + 1})" if item in item.session.items else MASK


def tidy_result(item: Any) -> None:
    """After allure-pytest has filled in a case's result (its teardown hook): parameters readable
    and distinct, a history id of its own (the case's node id: one history per case, whatever
    its parameters), and the docstring escaped, so the note's `<value>` names show in Allure 2's
    HTML description instead of vanishing as unknown tags. A parameter that would show a secret
    reads MASK, as in the transcripts."""
    result = _current_result()
    if result is None:
        return
    params = item.callspec.params if hasattr(item, "callspec") else {}
    secrets = set(known_secrets())
    mask = _case_mask(item, secrets)
    for param in result.parameters:
        if param.name in params:
            value = params[param.name]
            param.value = mask if shows_secret(param.name, value, secrets) else readable(value)
        elif param.value and (SECRET_NAME.search(param.name) or param.value in secrets
                              or param.value in {repr(s) for s in secrets}):
            param.value = mask  # allure.dynamic.parameter(): only its text is left to judge
    result.historyId = hashlib.md5(item.nodeid.encode("utf-8")).hexdigest()
    if result.description and not result.descriptionHtml:
        paragraphs = [" ".join(p.split()) for p in str(result.description).split("\n\n") if p.strip()]
        result.descriptionHtml = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
