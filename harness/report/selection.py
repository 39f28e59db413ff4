"""What a run selected, as one fact for every report: a nightly run of the whole suite and a
`-k keepalive` retry on the desk must not look alike in the history, the matrix or a firmware
diff (a case missing from a subset run is not a case the firmware lost)."""

from __future__ import annotations

from pathlib import Path

WHOLE = "whole suite"


def describe(args: list[str], rootdir: Path, *, keyword: str = "", markexpr: str = "",
             sections: list[str] | None = None) -> str:
    """"whole suite", or what narrowed it: paths below the suite, -k, -m, --section."""
    parts = [a for a in args if _narrows(a, rootdir)]
    if keyword:
        parts.append(f"-k {keyword}")
    if markexpr:
        parts.append(f"-m {markexpr}")
    parts += [f"--section {s}" for s in sections or []]
    return WHOLE if not parts else "subset: " + " ".join(parts)


def is_subset(facts: dict[str, str]) -> bool:
    return facts.get("Selection", WHOLE) != WHOLE


def _narrows(arg: str, rootdir: Path) -> bool:
    """A test file, a node id or a directory below suites/ narrows the run; `suites` itself (and
    other top-level directories such as tests/, whose cases the record does not hold) do not."""
    if "::" in arg:
        return True
    path = (rootdir / arg).resolve() if not Path(arg).is_absolute() else Path(arg).resolve()
    suites = (rootdir / "suites").resolve()
    return path != suites and suites in path.parents
