"""The run's identity (DUT, rig, broker) in the places each report format reads it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def _escape_properties(value: str, key: bool = False) -> str:
    value = value.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\=").replace(":", "\\:")
    return value.replace(" ", "\\ ") if key else value


def write_allure_environment(allure_dir: str | Path, facts: Mapping[str, str]) -> Path:
    """Allure shows environment.properties on its overview page (java properties syntax): keys
    in words ("DUT firmware"), their spaces escaped, not dotted."""
    path = Path(allure_dir) / "environment.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{_escape_properties(k, key=True)}={_escape_properties(str(v))}" for k, v in facts.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
