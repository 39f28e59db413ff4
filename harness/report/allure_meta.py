"""Allure's own structure for our runs: categories that separate a nonconforming DUT from a
broken rig or a harness bug, so a nightly reader knows whom to call."""

from __future__ import annotations

import json
from pathlib import Path

# Allure matches in order; "failed" is an assertion (a verdict), "broken" any other exception.
CATEGORIES = [
    # First: a waived failure (harness/plugin_verdicts.py) is reported as skipped with the waiver
    # text ("waived: <reason> [<ticket>, expires ...]: <failure>") as its message.
    {"name": "Waived", "matchedStatuses": ["skipped"], "messageRegex": r"(?s)waived: .*"},
    {"name": "Rig fault", "matchedStatuses": ["failed", "broken", "skipped"],
     "messageRegex": r"(?s).*(rig broken|cannot open serial port|PortOpenError|relay .*:|emulator:|broker:).*"},
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
