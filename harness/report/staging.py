"""A run writes its reports into a staging directory and promotes them whole when it ends.

Why: pytest-html rewrites its page after every case and allure-pytest cleans its directory at
start-up, so writing in place means a run that stops early (a bad port, a signal) destroys the
last qualification's evidence, or leaves its record beside a newer HTML page. Staged, the report
directory holds the previous run until this one has something to show, and then this run only.

Promotion removes every artefact of the previous run first and then moves the staged ones in,
so even a kill during promotion leaves parts of one run, never a mix of two. The report
directory's lock (lock.py) guarantees no other run stages or promotes at the same time.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

PREFIX = ".staging-"


class Staging:
    """`targets`: artefact name -> where it ends up (a file or a directory). Staged copies live
    under `<report dir>/.staging-<pid>/<name>`."""

    def __init__(self, report_dir: Path, targets: Mapping[str, Path], pid: int | None = None) -> None:
        self.report_dir = Path(report_dir)
        self.targets = {name: Path(p) for name, p in targets.items()}
        self.root = self.report_dir / f"{PREFIX}{os.getpid() if pid is None else pid}"

    def create(self) -> Staging:
        """Make a fresh staging directory; staging directories of runs that were killed before
        they could promote or discard are removed (the caller holds the directory's lock)."""
        self.report_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.report_dir.glob(f"{PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.root.mkdir()
        return self

    def path(self, name: str) -> Path:
        """Where this run writes artefact `name` while it runs (its final name kept)."""
        return self.root / name / self.targets[name].name if name in _NESTED else self.root / name

    def promote(self) -> list[Path]:
        """Replace the previous run's artefacts by this run's; returns the final paths written.
        Artefacts this run did not produce are removed too: no report is left from an older run."""
        for target in self.targets.values():
            _remove(target)
        written = []
        for name, target in self.targets.items():
            staged = self.root / name
            if name in _NESTED:
                staged = staged / target.name
            if staged.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(staged), str(target))
                written.append(target)
        self.discard()
        return written

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# Artefacts whose final path is a file inside a directory of its own (html/index.html): staged as
# <name>/<file> so a page's sibling assets would move with it.
_NESTED = frozenset({"html"})


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
