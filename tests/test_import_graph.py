"""No import cycle inside harness/: its packages point one way (docs in each package's docstring).

The graph is read from the source with ``ast``, not by importing: an edge A -> B for every
``import`` or ``from ... import`` of a harness module that A runs when it is imported, i.e. at
module level (inside ``if``/``try`` blocks too, ``if TYPE_CHECKING:`` included: a cycle only
types see is still two modules that cannot be understood apart). Imports inside functions are
deliberate late imports and are not edges. ``from package import name`` is an edge to the module
``package.name`` when that is a module, else to the package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "harness"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


def module_level(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at import time: the body, descending into if/try/with/class, not functions."""
    for node in nodes:
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):  # if/try/with/class; handlers of a try
            yield from module_level(getattr(node, field, None) or [])


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in module_level(ast.parse(path.read_text(encoding="utf-8"), str(path)).body):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        out |= {t for t in targets if t in known and t != name}
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that starts and ends at the same module, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_graph_is_read() -> None:
    """The walk sees the imports it is meant to see (so an empty graph cannot pass vacuously)."""
    edges = graph()
    assert "harness.mqtt.codec" in edges["harness.peer.match"]
    assert "harness.peer.connection" in edges["harness.peer.server"]
    assert "harness.loop_thread" in edges["harness.proxy.server"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_harness_has_no_import_cycle() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle in harness/: " + " -> ".join(cycle or [])


def all_imports(path: Path) -> set[str]:
    """Every harness module `path` imports anywhere, late imports inside functions included."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith(PACKAGE + "."))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(PACKAGE):
            base = node.module or ""
            out.update(f"{base}.{a.name}" if base == PACKAGE else base for a in node.names)
    return out


# The emulator is judged against the note and the observations, never against our reading of them:
# it may use the MQTT codec (MQTT 3.1.1 itself) and nothing else of the harness; its launcher (the
# host side that starts the process) may use the harness's child-process bookkeeping.
EMULATOR_MAY_IMPORT = ("harness.emulator", "harness.mqtt", "harness.children")


def test_the_emulator_never_imports_our_reading_of_the_note() -> None:
    found = {f"{name} imports {imp}" for name, path in modules().items() if name.startswith("harness.emulator")
             for imp in all_imports(path) if not imp.startswith(EMULATOR_MAY_IMPORT)}
    assert not found, sorted(found)
    assert "harness.mqtt.codec" in all_imports(modules()["harness.emulator.mqtt_client"])  # the walk sees imports
