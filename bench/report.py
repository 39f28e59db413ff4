"""Turns the measures into figures against the issue's goals, and writes them where people look.

Why computed explanations: a missed goal is only useful with what bounds it, and a sentence written
once by hand goes stale at the next run. Each "what bounds it" below is built from this run's own
numbers (the phase split, the known-state reset timed alone, the reader-thread baseline, CPU use),
so the README table and the JSON always agree with each other and with the machine they came from.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT
from harness.spec.timing import GRACE_S

BENCH = ROOT / "bench"
README = BENCH / "README.md"
BEGIN, END = "<!-- bench:figures:begin (bench/run.py rewrites this block) -->", "<!-- bench:figures:end -->"
BUDGET_S = 900.0  # make bench must finish within 15 minutes


@dataclass
class Figure:
    name: str
    value: str
    goal: str = ""
    met: bool | None = None  # None: no goal, shown for context
    bound: str = ""  # for a missed goal: what bounds it, from this run's numbers


def _mark(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "**missed**")


def _suite_figures(r: dict[str, Any], ks: dict[str, Any] | None) -> list[Figure]:
    e = r["suite_efficiency"]
    tcp = [x for x in r.get("at_round_trip", []) if x["transport"] == "tcp" and not x["paced"]]
    cases, per_case, eff = e["cases"], e["overhead_ms_per_case"], e["efficiency_at_scale_1"]
    by = e["overhead_by_phase"]
    split = "; ".join(f"{k.split(' (')[0]} {v['fixed_ms_per_case']:.1f}" for k, v in by.items())
    top = e["top_fixed_cases"]
    reset = (f" The known-state reset alone (bench/at_rtt.py) is {ks['ms']:.1f} ms: {ks['at_commands']} AT commands"
             f" at {ks['ms_per_command']:.2f} ms" if ks else "")
    if ks and tcp:
        reset += (f" (one AT round trip on TCP: {tcp[0]['channel_ms']:.3f} ms through the channel, "
                  f"{tcp[0]['bare_pyserial_ms']:.3f} ms bare pyserial)")
    reset += "." if ks else ""
    heavy = (f" {top['cases_fixed_over_1s']} cases carry >= 1 s of unscaled time each ({top['their_fixed_s']:.1f} s"
             f" together, e.g. {top['top'][0][0]} {top['top'][0][1]:.1f} s; a deadline a case waits out to prove"
             f" silence carries GRACE_S = {GRACE_S:g} s of unscaled grace, harness/spec/timing.py)."
             if top["cases_fixed_over_1s"] else "")
    module_per_case = 1000 * e["module_time_s"] / cases
    over = Figure("harness overhead per case (fixed time / cases)",
                  f"{per_case:.1f} ms ({e['overhead_s']:.1f} s / {cases} cases)", "<= 25 ms", per_case <= 25)
    if not over.met:
        over.bound = (f"Fixed ms per case by phase: {split}.{reset}{heavy} "
                      f"Median case: {top['median_case_fixed_ms']} ms.")
    effic = Figure("suite efficiency at time scale 1 ((overhead + module) / module)", f"{eff:.3f}", "<= 1.1",
                   eff <= 1.1)
    if not effic.met:
        effic.bound = (f"Efficiency is 1 + overhead/module time: the suite's {cases} cases wait on average only "
                       f"{module_per_case:.0f} ms of module time each, so <= 1.1 needs <= "
                       f"{module_per_case / 10:.0f} ms of harness per case; it is {per_case:.1f} ms (row above).")
    walls = ", ".join(f"{w['wall_s']:.1f} s at {w['time_scale']:g}" for w in e["walls"])
    rss = e.get("peak_rss_mib", {})
    return [
        Figure("suite wall times (-n 0)", walls),
        Figure("module-time floor (the note's waits at time scale 1)", f"{e['module_time_s']:.0f} s"),
        over, effic,
        Figure("real qualification time at time scale 1, ideal link (module + overhead)",
               f"{e['qualification_time_s']:.0f} s ({e['qualification_time_s'] / 60:.1f} min)"),
        *_network_figures(r),
        Figure("peak RSS over a whole-suite run: pytest / emulator",
               f"{rss.get('pytest', float('nan')):.0f} MiB / {rss.get('emulator', float('nan')):.0f} MiB"),
    ]


def _network_figures(r: dict[str, Any]) -> list[Figure]:
    """Measure 6 on a real network's link: what a lab plans a night with."""
    n = r.get("suite_on_network")
    if not n:
        return []
    q = n["qualification_time_s"]
    return [Figure(f"real qualification time at time scale 1 on the {n['network']} link (--network {n['network']})",
                   f"{q:.0f} s ({q / 60:.1f} min); from {n['wall_s']:.0f} s at time scale {n['time_scale']:g} "
                   f"({n['summary']}) and the ideal link's {n['overhead_s_from_fit']:.0f} s of overhead")]


def _rtt_figures(rows: list[dict[str, Any]]) -> list[Figure]:
    out = []
    for row in rows:
        paced = " paced at 115200 baud" if row["paced"] else ""
        f = Figure(f"AT round trip, ATChannel / bare pyserial, {row['transport']}{paced}",
                   f"{row['channel_over_bare']:.2f}x ({row['channel_ms']:.3f} / {row['bare_pyserial_ms']:.3f} ms)",
                   "<= 1.3x", row["channel_over_bare"] <= 1.3)
        if row["paced"]:
            f.value += (f"; wire floor {row['wire_floor_ms']:.3f} ms: channel {row['channel_over_floor']:.2f}x, "
                        f"bare {row['bare_over_floor']:.2f}x")
        if not f.met:
            extra = row["channel_ms"] - row["threaded_pyserial_ms"]
            thread = row["threaded_pyserial_ms"] - row["bare_pyserial_ms"]
            f.bound = (f"Bare pyserial plus a reader thread handing each answer to the caller through a Condition "
                       f"(the channel's design: URCs arrive at any time) takes {row['threaded_pyserial_ms']:.3f} ms "
                       f"= {row['threaded_over_bare']:.2f}x bare: the hand-over costs {thread:.3f} ms; the channel's "
                       f"own logic (framing, demux, pairing, transcript) adds {extra:.3f} ms. Against a "
                       f"{row['bare_pyserial_ms']:.3f} ms loopback round trip these fixed costs are a large ratio; "
                       f"against a paced 115200 baud line they are not (the paced rows).")
        out.append(f)
    return out


def _publish_figures(p: dict[str, Any]) -> list[Figure]:
    out = []
    for q in (0, 1, 2):
        row = p[f"qos{q}"]
        f = Figure(f"publish path QoS {q}, AT (inline form) / paho direct, msg/s",
                   f"{row['at_over_paho']:.2f}x ({row['at_msg_s']:.0f} / {row['paho_msg_s']:.0f})",
                   ">= 0.5x" if q == 1 else "", (row["at_over_paho"] >= 0.5) if q == 1 else None)
        if f.met is False:
            extra = 1000 / row["at_msg_s"] - 1000 / row["paho_msg_s"]
            f.bound = (f"Each AT publish costs {extra:.2f} ms more than paho's: the AT command's round trip "
                       f"through the channel and the emulator, plus its +QMTPUB result URC.")
        out.append(f)
    d = p["qos1_data_form"]
    out.append(Figure("publish path QoS 1, AT data form ('>' prompt), msg/s",
                      f"{d['at_msg_s']:.0f} ({d['at_over_paho']:.2f}x paho)", "", None,
                      f"ATChannel waits data_prompt_delay = {d['prompt_delay_s'] * 1000:.0f} ms after '>' "
                      "(DESIGN.md: hosts wait a moment), a fixed cost per data-form publish."))
    return out


def _scale_figures(s: dict[str, Any], unsplit: float, load: float) -> list[Figure]:
    rows = s["by_workers"]
    out = [Figure(f"cases/s with -n {w} (time scale {s['time_scale']:g})",
                  f"{row['cases_per_s']:.1f} ({row['cases']:.0f} cases in {row['wall_s']:.1f} s; "
                  f"{row['cores_busy']:.2f} cores busy)") for w, row in rows.items()]
    if "2" in rows and "speedup_vs_n0" in rows["2"]:
        two = rows["2"]
        f = Figure("speed-up with 2 DUTs on 2 cores (-n 2 vs -n 0)",
                   f"{two['speedup_vs_n0']:.2f}x ({two['speedup_per_worker']:.2f} per worker"
                   + (f"; {two['speedup_vs_n1']:.2f}x vs -n 1" if "speedup_vs_n1" in two else "") + ")",
                   ">= 1.8x", two["speedup_vs_n0"] >= 1.8)
        if not f.met:
            f.bound = _scale_bound(rows, unsplit, load)
        out.append(f)
    return out


def _scale_bound(rows: dict[str, Any], unsplit: float, load: float) -> str:
    """Amdahl from measured parts: what does not split between workers (pytest start-up and report
    writing, from the -n 0 phase clock; xdist's own cost, -n 1 against -n 0); then the CPU."""
    zero, two, one = rows["0"], rows["2"], rows.get("1")
    ref = one["wall_s"] if one else zero["wall_s"]
    best = unsplit + (ref - unsplit) / 2
    xdist = ""
    if one:
        extra = one["wall_s"] - zero["wall_s"]
        xdist = (f"; running through an xdist worker at all: -n 1 takes {extra:+.1f} s "
                 f"({1000 * extra / zero['cases']:+.1f} ms per case) over -n 0")
    busy = two["cores_busy"]
    cpu = (f"Not the CPU: {busy:.2f} of 2 cores busy at -n 2 ({zero['cores_busy']:.2f} at -n 0)" if busy < 1.6 else
           f"The CPU: {busy:.2f} of 2 cores busy at -n 2 ({zero['cores_busy']:.2f} at -n 0), 2 workers, 2 emulators "
           f"and the xdist controller sharing them")
    return (f"What does not split between workers: start-up and report writing, {unsplit:.1f} s{xdist}. Splitting "
            f"the rest of the -n {1 if one else 0} run perfectly in two gives {best:.1f} s, at best "
            f"{zero['wall_s'] / best:.2f}x against -n 0; measured {two['wall_s']:.1f} s. {cpu}; load average "
            f"{load:.2f} when the bench started (other users of the machine).")


def figures(r: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    if "suite_efficiency" in r:
        out += _suite_figures(r, r.get("known_state_reset"))
    if "at_round_trip" in r:
        out += _rtt_figures(r["at_round_trip"])
    if "publish_path" in r:
        out += _publish_figures(r["publish_path"])
    if "scale_out" in r:
        st = r.get("startup", {})
        unsplit = r.get("suite_efficiency", {}).get("unsplit_s_at_first_scale",
                                                    st.get("to_first_case_s", 0.0) + st.get("finish_s", 0.0))
        out += _scale_figures(r["scale_out"], unsplit, r["machine"]["loadavg_at_start"][0])
    if "startup" in r:
        st = r["startup"]
        out.append(Figure("start-up: invoking pytest to the first case's start (one trivial case)",
                          f"{st['to_first_case_s']:.2f} s (interpreter+imports {st['interpreter_imports_s']:.2f}, "
                          f"collection {st['collection_s']:.2f}); then DUT bring-up {st['first_setup_s']:.2f} s, "
                          f"teardown {st['teardown_s']:.2f} s, reports+exit {st['finish_s']:.2f} s; "
                          f"wall {st['wall_s']:.2f} s"))
    if "bench_wall_s" in r:
        w = r["bench_wall_s"]
        out.append(Figure("bench wall time (make bench)", f"{w:.0f} s", "< 900 s", w < BUDGET_S))
    return out


def table(figs: list[Figure]) -> str:
    lines = ["| figure | value | goal | | what bounds it |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {f.name} | {f.value} | {f.goal} | {_mark(f.met)} | {f.bound} |" for f in figs]
    return "\n".join(lines) + "\n"


def write_json(r: dict[str, Any], figs: list[Figure]) -> Path:
    path = BENCH / "results" / f"{r['machine']['date']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in r.items() if not k.startswith("_")}
    clean["figures"] = [asdict(f) for f in figs]
    path.write_text(json.dumps(clean, indent=1, default=_plain) + "\n", encoding="utf-8")
    return path


def _plain(obj: object) -> object:
    return str(obj)


def overhead_table(r: dict[str, Any]) -> str:
    """Where the suite's unscaled time goes: each phase's fixed part and its module-time part."""
    if "suite_efficiency" not in r:
        return ""
    e = r["suite_efficiency"]
    lines = ["| phase | fixed, s | fixed per case, ms | module time at scale 1, s |", "| --- | --- | --- | --- |"]
    lines += [f"| {k} | {v['fixed_s']:.2f} | {v['fixed_ms_per_case']:.1f} | {v['module_s']:.1f} |"
              for k, v in e["overhead_by_phase"].items()]
    lines.append(f"| **whole run** | {e['overhead_s']:.1f} | {e['overhead_ms_per_case']:.1f} "
                 f"| {e['module_time_s']:.0f} |")
    top = e["top_fixed_cases"]
    cases = ", ".join(f"`{k.split('::')[-1]}` {v:.2f} s" for k, v in top["top"][:5])
    ks = r.get("known_state_reset")
    reset = (" The setup is the known-state reset (harness/plugin/fixtures/modem.py), "
             f"timed alone at {ks['ms']:.1f} ms for "
             f"{ks['at_commands']} AT commands ({ks['ms_per_command']:.2f} ms each)." if ks else "")
    return ("Where the fixed (unscaled) time goes, from the phase clock at both time scales:\n\n" + "\n".join(lines)
            + f"\n\nMedian fixed time of one case (setup + call + teardown): {top['median_case_fixed_ms']} ms."
            + reset + f" Largest fixed time per case: {cases}.\n")


def write_readme(r: dict[str, Any], figs: list[Figure]) -> None:
    m = r["machine"]
    block = (f"{BEGIN}\n\nMeasured {m['date']} {m['time']} on {m['host']}: {m['cores']} cores ({m['cpu_model']}), "
             f"Python {m['python']}, load average at start {m['loadavg_at_start'][0]}; the bench took "
             f"{r.get('bench_wall_s', 0):.0f} s. Full data: `bench/results/{m['date']}.json`.\n\n{table(figs)}\n"
             f"{overhead_table(r)}\n{END}")
    text = README.read_text(encoding="utf-8") if README.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    README.write_text(head + block + tail, encoding="utf-8")


def append_results(r: dict[str, Any], figs: list[Figure]) -> None:
    """bench/RESULTS.md keeps the history: the old rows, then this run's figures."""
    m = r["machine"]
    head = (f"\n## {time.strftime('%Y-%m-%d %H:%M')} on {m['host']} ({m['cores']} cores, Python {m['python']})\n\n"
            "| measure | value |\n| --- | --- |\n")
    rows = "".join(f"| {k} | {v} |\n" for k, v in r.get("legacy", []))
    rows += "".join(f"| {f.name} | {f.value}{' (goal ' + f.goal + ', ' + _mark(f.met) + ')' if f.goal else ''} |\n"
                    for f in figs)
    with open(BENCH / "RESULTS.md", "a", encoding="utf-8") as f:
        f.write(head + rows)
