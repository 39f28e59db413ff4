"""Suite-level measures: efficiency against the module's own time, scale-out, start-up, memory.

Why two time scales: every real second of a suite run is either module time (a wait the note makes
the host do: timeouts, retries, boot, scaled by --time-scale) or harness time (Python, pytest, the
AT channel, the broker, report writing), which does not scale. With wall(s) = overhead + s x module
measured at two scales in the same bench run, both unknowns come out, and so does the time the suite
would take against a module at time scale 1. The phase clock (bench/phaseclock.py) splits both
parts by phase and by case, which says where the overhead goes.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.common import PytestRun, median, run_pytest

ONE_CASE = "suites/test_general.py::test_bare_at_answers_ok"  # one AT, OK: all else is harness


@dataclass
class Budget:
    """Seconds the suite measures may still start runs in; optional repeats are dropped past it."""

    deadline: float

    @classmethod
    def of(cls, seconds: float) -> Budget:
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        return self.deadline - time.monotonic()


def fit(points: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """Least squares q = fixed + s x per_scale over (time scale, quantity) points: (fixed, per_scale)."""
    xs, ys = zip(*points, strict=True)
    if len(set(xs)) < 2:
        raise ValueError("the efficiency fit needs runs at two different time scales")
    slope, intercept = statistics.linear_regression(xs, ys)
    return intercept, slope


def _parts(run: PytestRun) -> dict[str, float]:
    """A run's wall time cut into phases (seconds); they add up to the wall time."""
    p = run.phases
    return {"start-up (interpreter, plugins, collection)": p["first_start"] - run.t_invoke,
            "setup (fixtures: known-state reset, session bring-up)": p["setup"],
            "call (the cases' bodies)": p["call"],
            "teardown (fixtures, session teardown)": p["teardown"],
            "between cases (pytest reporting)": p["gaps"],
            "finish (reports, exit)": run.t_exit - p["last_end"]}


def efficiency(select: list[str], scales: tuple[float, float], budget: Budget, repeat: int = 2) -> dict[str, Any]:
    """Measures 1, 6 and 7: runs the selection at both scales, interleaved, `repeat` times while the
    budget lasts (at least once each); memory is sampled over the first run."""
    runs: list[tuple[float, PytestRun]] = []
    for r in range(repeat):
        if r and budget.left() < 3 * sum(run.wall for _, run in runs[-2:]):
            print(f"  efficiency: repeat {r + 1} dropped (budget)", file=sys.stderr)
            break
        for s in scales:
            runs.append((s, run_pytest(select, time_scale=s, clock=True, sample_memory=not runs)))
    fixed, module = fit((s, run.wall) for s, run in runs)
    cases = round(median([float(run.cases) for _, run in runs]))
    parts: dict[str, dict[str, float]] = {}
    for name in _parts(runs[0][1]):
        f, m = fit((s, _parts(run)[name]) for s, run in runs)
        parts[name] = {"fixed_s": round(f, 2), "module_s": round(m, 1), "fixed_ms_per_case": round(1000 * f / cases, 1)}
    return {
        "select": select, "scales": list(scales), "runs": len(runs), "cases": cases,
        "walls": [{"time_scale": s, "wall_s": round(run.wall, 2), "cpu_s": round(run.cpu_s, 1),
                   "summary": run.last_line, "exit": run.returncode} for s, run in runs],
        "module_time_s": round(module, 1), "overhead_s": round(fixed, 1),
        "overhead_ms_per_case": round(1000 * fixed / cases, 1),
        "efficiency_at_scale_1": round((fixed + module) / module, 3) if module > 0 else float("nan"),
        "qualification_time_s": round(fixed + module, 1),
        "overhead_by_phase": parts,
        "top_fixed_cases": _top_fixed(runs),
        "peak_rss_mib": runs[0][1].peak_mib,
        "unsplit_s_at_first_scale": round(median([_unsplit(run) for s, run in runs if s == scales[0]]), 2),
        "_by_scale": {s: {"wall": median([run.wall for t, run in runs if t == s]),
                          "cases": median([float(run.cases) for t, run in runs if t == s]),
                          "cpu": median([run.cpu_s for t, run in runs if t == s])} for s in scales},
    }


def _unsplit(run: PytestRun) -> float:
    """Seconds of a run that xdist cannot share out between workers: start-up and report writing."""
    parts = _parts(run)
    return parts["start-up (interpreter, plugins, collection)"] + parts["finish (reports, exit)"]


def _top_fixed(runs: list[tuple[float, PytestRun]], n: int = 8) -> dict[str, Any]:
    """The cases whose own fixed (unscaled) time is largest, and how much the heavy ones add up to."""
    ids = set.intersection(*(set(run.phases.get("per_case", {})) for _, run in runs))
    fixed: dict[str, float] = {}
    for nid in ids:
        f, _ = fit((s, sum(run.phases["per_case"][nid])) for s, run in runs)
        fixed[nid] = f
    heavy = {k: v for k, v in fixed.items() if v >= 1.0}
    typical = median(list(fixed.values()))
    return {"median_case_fixed_ms": round(1000 * typical, 1),
            "cases_fixed_over_1s": len(heavy), "their_fixed_s": round(sum(heavy.values()), 1),
            "top": [[k, round(v, 2)] for k, v in sorted(fixed.items(), key=lambda kv: -kv[1])[:n]]}


def scale_out(select: list[str], time_scale: float, workers: list[int], base: dict[str, Any] | None,
              budget: Budget | None = None) -> dict[str, Any]:
    """Measure 4: cases per second with -n 0 (taken from the efficiency runs at the same scale when
    they ran the same selection) and with each xdist worker count; speed-up against -n 0 and -n 1.
    Past the budget only -n 0 and -n 2 (the goal's pair) still run."""
    rows: dict[int, dict[str, float]] = {}
    for w in workers:
        if w == 0 and base is not None and base["select"] == select and time_scale in base["_by_scale"]:
            wall, cases, cpu = (base["_by_scale"][time_scale][k] for k in ("wall", "cases", "cpu"))
        elif w not in (0, 2) and budget is not None and rows and budget.left() < 1.5 * rows[0]["wall_s"]:
            print(f"  scale-out: -n {w} dropped (budget)", file=sys.stderr)
            continue
        else:
            run = run_pytest(select, time_scale=time_scale, workers=w or None)
            wall, cases, cpu = run.wall, float(run.cases), run.cpu_s
        rows[w] = {"wall_s": round(wall, 1), "cases": cases, "cases_per_s": round(cases / wall, 2),
                   "cpu_s": round(cpu, 1), "cores_busy": round(cpu / wall, 2)}
    for w, row in rows.items():
        for ref in (0, 1):
            if ref in rows and w > ref:
                row[f"speedup_vs_n{ref}"] = round(row["cases_per_s"] / rows[ref]["cases_per_s"], 2)
        if w > 0 and 0 in rows:
            row["speedup_per_worker"] = round(row["cases_per_s"] / rows[0]["cases_per_s"] / w, 2)
    return {"select": select, "time_scale": time_scale, "by_workers": {str(k): v for k, v in rows.items()}}


def startup(time_scale: float, repeat: int = 3, case: str = ONE_CASE) -> dict[str, Any]:
    """Measure 5: one trivial case; the time from invoking pytest to that case's start, and the rest."""
    samples: list[dict[str, float]] = []
    for _ in range(repeat):
        run = run_pytest([case], time_scale=time_scale, clock=True)
        p = run.phases
        samples.append({"to_first_case_s": p["first_start"] - run.t_invoke,
                        "interpreter_imports_s": p["configure"] - run.t_invoke,
                        "collection_s": p["collected"] - p["configure"],
                        "first_setup_s": p["first_setup_s"], "call_s": p["call"], "teardown_s": p["teardown"],
                        "finish_s": run.t_exit - p["last_end"], "wall_s": run.wall})
    return {"case": case, "runs": repeat, **{k: round(median([s[k] for s in samples]), 3) for k in samples[0]}}


def on_nbiot(select: list[str], time_scale: float, base: dict[str, Any], network: str = "nbiot") -> dict[str, Any]:
    """Measure 6 on an NB-IoT link: the suite once at `time_scale` with the emulator's uplink an
    NB-IoT bearer (--network, harness/emulator/networks/). The link's delays are module time, so
    they scale; the harness's own time does not, and it is the efficiency fit's overhead (the same
    cases, the same harness). Module time on the link = (wall - overhead) / scale, and a real
    qualification over NB-IoT at time scale 1 takes overhead + that."""
    run = run_pytest(select, time_scale=time_scale, extra=["--network", network], timeout=1800.0)
    module = (run.wall - base["overhead_s"]) / time_scale
    return {"select": select, "network": network, "time_scale": time_scale, "wall_s": round(run.wall, 1),
            "summary": run.last_line, "exit": run.returncode, "cases": run.cases,
            "overhead_s_from_fit": base["overhead_s"], "module_time_s": round(module, 1),
            "qualification_time_s": round(base["overhead_s"] + module, 1),
            "link_share_of_module_time": round(1 - base["module_time_s"] / module, 3) if module > 0 else None}
