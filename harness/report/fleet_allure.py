"""The fleet's Allure results: the last run of every rig's report directory in one results folder,
for `harness.report merge ... --allure DIR` (issue 14, item 4) and then the Allure HTML.

Each rig's results are copied with the rig's name in them, so one report holds every rig side by
side and none is taken for another's retry: the `host` label and the Suites tab's top level
(`parentSuite`) become the rig, and the history id is the rig's own (Allure 2 folds results that
share a history id into one case with retries). The chapter -> section -> case tree (epic, feature,
story) is left as it is. Attachments keep their names: allure-pytest names them by UUID, so two
rigs never collide; a directory given twice is refused, not merged twice.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any


class FleetAllureError(Exception):
    """A rig directory without Allure results, or given twice; one line."""


def _relabel(result: dict[str, Any], rig: str) -> dict[str, Any]:
    labels = [x for x in result.get("labels", []) if x.get("name") not in ("host", "parentSuite")]
    result["labels"] = [*labels, {"name": "host", "value": rig}, {"name": "parentSuite", "value": rig}]
    own = f"{rig}\0{result.get('historyId') or result.get('fullName') or result.get('name')}"
    result["historyId"] = hashlib.md5(own.encode("utf-8")).hexdigest()
    return result


def _prefixed(node: Any, prefix: str) -> Any:
    """`node` with every attachment source, uuid and container child given `prefix`."""
    if isinstance(node, list):
        return [_prefixed(x, prefix) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _prefixed(v, prefix) for k, v in node.items()}
    for key in ("source", "uuid"):
        if isinstance(out.get(key), str):
            out[key] = prefix + out[key]
    if isinstance(out.get("children"), list):
        out["children"] = [prefix + c for c in out["children"] if isinstance(c, str)]
    return out


def merge_results(rigs: list[tuple[str, Path]], out: Path) -> int:
    """Copy each rig's `allure-results/` into `out` (made empty first); the number of results."""
    seen: dict[Path, str] = {}
    for rig, directory in rigs:
        where = (directory / "allure-results").resolve()
        if where in seen:
            raise FleetAllureError(f"{directory}: given twice (as {seen[where]!r} and {rig!r})")
        if not any(where.glob("*-result.json")):
            raise FleetAllureError(f"{directory}: no Allure results in {where}")
        seen[where] = rig
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    count = 0
    for number, (rig, directory) in enumerate(rigs, 1):
        prefix = f"rig{number}-"
        for path in sorted((directory / "allure-results").iterdir()):
            if path.name.endswith(("-result.json", "-container.json")):
                data = _prefixed(json.loads(path.read_text(encoding="utf-8")), prefix)
                if path.name.endswith("-result.json"):
                    data = _relabel(data, rig)
                    count += 1
                (out / (prefix + path.name)).write_text(json.dumps(data), encoding="utf-8")
            elif "-attachment" in path.name:
                shutil.copy2(path, out / (prefix + path.name))
            elif path.name == "categories.json":
                shutil.copy2(path, out / path.name)
    names = ", ".join(rig for rig, _ in rigs)
    (out / "environment.properties").write_text(f"Fleet = {names}\n", encoding="utf-8")
    return count
