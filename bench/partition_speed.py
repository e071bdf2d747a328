"""The speed part of the partition benchmark (run by ``bench/partition_bench.py``).

Three measurements, each in processes of their own so their times are whole:

1. **The whole command against a plain METIS script.** The README's first command
   (``commgrid partition`` on Taipei's small areas nested in villages, writing the
   GeoPackage, the report and the map) and ``bench/metis_script.py`` (read, rook graph,
   METIS per village, dissolve, write) run alternately, ``repeats`` times each, in the
   same run; the ratio is of their medians. Before them, the command runs once with an
   empty numba cache (``NUMBA_CACHE_DIR`` pointed at a new folder), so the cost of
   compiling the search loops on a machine's first run is measured, not hidden.
2. **All of Taiwan on a local Dask cluster of 2 workers**: ``bench/scaleout_bench.py``'s
   run (Tainan, holdout data, left out as that script reads the file), with its
   re-check of the whole plan (overlaps across every pair of grids, coverage, nesting).
3. **One village re-divided alone**, as the planner's editor asks for one community: for
   ``villages`` villages drawn with the seed, the village is partitioned alone (untimed),
   households and residents rise by 30 % in a seeded 10 % of its units, and
   ``partition(..., previous=...)`` of that village alone is timed; p50, p95 and max.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMMAND_RATIO_TARGET = 3.0
TAIWAN_SECONDS_TARGET = 60.0
VILLAGE_P95_TARGET = 1.0
SHARE, FACTOR = 0.10, 1.30  # the re-division bench's change: +30 % in a seeded 10 % of units


def _timed(argv: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds of a child process, and the CPU seconds of it and every process it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def command_argv(folder: Path, out: Path) -> list[str]:
    """The README's first `commgrid partition` command, writing into ``out``."""
    return [
        str(BIN / "commgrid"),
        "partition",
        str(folder / "taipei_min_stat_areas_2017.geojson"),
        *("--id", "CODEBASE", "--households", "H_CNT", "--population", "P_CNT", "--missing-counts", "zero"),
        *("--communities", str(folder / "taipei_villages.geojson"), "--community-id", "CPTVID"),
        *("--community-name", "VNAME", "--crs", "EPSG:3826"),
        *("--out", str(out / "taipei.gpkg"), "--report", str(out / "taipei.json"), "--map", str(out / "taipei.html")),
    ]


def command_vs_metis(folder: Path, repeats: int, log) -> dict:
    """Wall times of the whole command and of the METIS script, alternating, in one run."""
    metis = [
        sys.executable,
        str(REPO / "bench" / "metis_script.py"),
        str(folder / "taipei_min_stat_areas_2017.geojson"),
        str(folder / "taipei_villages.geojson"),
    ]
    ours: list[float] = []
    theirs: list[float] = []
    cpu_ours: list[float] = []
    cpu_theirs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cold_env = {**os.environ, "NUMBA_CACHE_DIR": str(out / "numba-cache")}
        log("speed: the command with an empty numba cache (compiles the search loops)")
        cold, cold_cpu = _timed(command_argv(folder, out), cold_env)
        load = [round(x, 2) for x in os.getloadavg()]
        for i in range(repeats):
            log(f"speed: METIS script and the command, round {i + 1} of {repeats}")
            wall, cpu = _timed([*metis, str(out / "metis.gpkg")])
            theirs.append(wall)
            cpu_theirs.append(cpu)
            wall, cpu = _timed(command_argv(folder, out))
            ours.append(wall)
            cpu_ours.append(cpu)
        report = json.loads((out / "taipei.json").read_text(encoding="utf-8"))
    m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
    return {
        "repeats": repeats,
        "load_average_before_rounds": load,
        "command_seconds": [round(x, 2) for x in ours],
        "metis_script_seconds": [round(x, 2) for x in theirs],
        "command_median": round(m_ours, 2),
        "metis_script_median": round(m_theirs, 2),
        "ratio": round(m_ours / m_theirs, 2),
        "ratio_per_round": [round(a / b, 2) for a, b in zip(ours, theirs, strict=True)],
        # CPU seconds of all processes of each run: less moved by other work on the machine than wall time
        "command_cpu_median": round(statistics.median(cpu_ours), 2),
        "metis_script_cpu_median": round(statistics.median(cpu_theirs), 2),
        "command_cold_cache_seconds": round(cold, 2),
        "command_cold_cache_cpu": round(cold_cpu, 2),
        "cold_cache_ratio": round(cold / m_theirs, 2),
        "command_grids": report.get("grids"),
        "command_share_in_range_where_feasible": report.get("share_in_range_where_feasible"),
        "command_share_in_range_where_possible": report.get("share_in_range_where_possible"),
        "command_polsby_popper": report.get("polsby_popper"),
        "command_valid": report.get("valid"),
    }


def taiwan_dask(seed: int, log) -> dict:
    """``bench/scaleout_bench.py``'s 2-worker run, with its whole-plan re-check, in a child process."""
    log("speed: all of Taiwan on 2 Dask workers (scaleout_bench.py --one 2 --verify)")
    argv = [sys.executable, str(REPO / "bench" / "scaleout_bench.py"), "--one", "2", "--verify", "--seed", str(seed)]
    done = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def village_redivision(units, villages, seed: int, count: int, log) -> dict:
    """Times of re-dividing one village alone after a change of its counts, over ``count`` villages."""
    from gis.columns import COMMUNITY, HOUSEHOLDS, POPULATION
    from partition import partition
    from partition.plan import run_sequentially

    log(f"speed: {count} villages re-divided alone")
    whole = partition(units, communities=villages, seed=seed)  # which unit is in which village
    member = whole.units.set_index("unit_id")[COMMUNITY].astype(str)
    rng = np.random.default_rng(seed)
    ids = villages["community_id"].astype(str).to_numpy()
    picked = sorted(rng.choice(ids, size=min(count, len(ids)), replace=False).tolist())
    seconds: list[float] = []
    sizes: list[int] = []
    for cid in picked:
        mine = units[units["unit_id"].astype(str).map(member).to_numpy() == cid].reset_index(drop=True)
        village = villages[villages["community_id"].astype(str) == cid]
        first = partition(mine, communities=village, seed=seed, runner=run_sequentially)
        changed = mine.copy()
        pick = rng.random(len(changed)) < SHARE
        for col in (HOUSEHOLDS, POPULATION):
            changed.loc[pick, col] = np.round(changed.loc[pick, col].to_numpy() * FACTOR).astype(np.int64)
        start = time.perf_counter()
        partition(changed, communities=village, seed=seed, previous=first.assignment)
        seconds.append(time.perf_counter() - start)
        sizes.append(len(mine))
    arr = np.asarray(seconds)
    return {
        "villages": len(picked),
        "units_median": int(np.median(sizes)),
        "units_max": int(max(sizes)),
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "max": round(float(arr.max()), 3),
        "slowest": picked[int(arr.argmax())],
    }


def speed_checks(speed: dict) -> list[dict]:
    """The issue's speed targets with the measured values."""
    out = []
    cmd = speed.get("command")
    if cmd:
        out.append(
            {
                "target": "Taipei nested, whole command / METIS script (medians, same run)",
                "value": cmd["ratio"],
                "goal": f"≤ {COMMAND_RATIO_TARGET:g}",
                "met": cmd["ratio"] <= COMMAND_RATIO_TARGET,
            }
        )
    tw = speed.get("taiwan")
    if tw:
        overlaps = tw.get("verified", {}).get("overlaps", tw["checks"].get("overlaps"))
        out.append(
            {
                "target": "All Taiwan on 2 Dask workers, wall s (no overlapping grids)",
                "value": f"{tw['total_seconds']} ({overlaps} overlaps)",
                "goal": f"≤ {TAIWAN_SECONDS_TARGET:g} s, 0 overlaps",
                "met": tw["total_seconds"] <= TAIWAN_SECONDS_TARGET and overlaps == 0,
            }
        )
    rd = speed.get("redivision")
    if rd:
        out.append(
            {
                "target": "One village re-divided alone, p95 s",
                "value": rd["p95"],
                "goal": f"< {VILLAGE_P95_TARGET:g} s",
                "met": rd["p95"] < VILLAGE_P95_TARGET,
            }
        )
    return out


def speed_markdown(speed: dict) -> list[str]:
    """The speed section of ``partition.md``."""
    lines = ["## Speed", ""]
    cmd = speed.get("command")
    if cmd:
        lines += [
            f"The README's first command (reading, partitioning, checks, writing the GeoPackage, report and map) "
            f"against `bench/metis_script.py` (read, rook graph, METIS per village, dissolve, write), alternately, "
            f"{cmd['repeats']} times each, each in a fresh process. Load average before the rounds: "
            f"{', '.join(map(str, cmd['load_average_before_rounds']))}.",
            "",
            "| run | wall s (each round) | median s |",
            "|---|---|---|",
            f"| METIS script | {', '.join(map(str, cmd['metis_script_seconds']))} | {cmd['metis_script_median']} |",
            f"| `commgrid partition` | {', '.join(map(str, cmd['command_seconds']))} | {cmd['command_median']} |",
            f"| `commgrid partition`, empty numba cache (first run on a machine: compiles the search loops) "
            f"| {cmd['command_cold_cache_seconds']} | – |",
            "",
            f"CPU seconds (all processes of a run, medians): METIS script {cmd['metis_script_cpu_median']}, "
            f"`commgrid partition` {cmd['command_cpu_median']} (with compiling: {cmd['command_cold_cache_cpu']}).",
            "",
            f"Ratio of medians: **{cmd['ratio']}×** (per round: {', '.join(map(str, cmd['ratio_per_round']))}; "
            f"first run with compiling: {cmd['cold_cache_ratio']}×). The command's plan: {cmd['command_grids']:,} "
            f"grids, {100 * cmd['command_share_in_range_where_feasible']:.1f} % in range where counts allow, "
            f"{100 * cmd['command_share_in_range_where_possible']:.1f} % where a plan exists, Polsby–Popper mean "
            f"{cmd['command_polsby_popper']['mean']:.3f}, checks valid: {cmd['command_valid']}.",
            "",
        ]
    tw = speed.get("taiwan")
    if tw:
        ver = tw.get("verified", {})
        lines += [
            f"All of Taiwan without Tainan (holdout), {tw['units']:,} points in {tw['containers']:,} containers "
            f"(townships; villages in Taipei), on a local Dask cluster of 2 workers: **{tw['total_seconds']} s** "
            f"wall (reading {tw['read_seconds']} s, cluster start {tw['cluster_seconds']} s, partition "
            f"{tw['partition_seconds']} s), {tw['grids']:,} grids, "
            f"{100 * tw['share_in_range_where_feasible']:.1f} % in range where counts allow; whole-plan re-check: "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in ver.items())
            + f". Load average (1 min) before / after: {tw['load_average_1min']['before']} / "
            f"{tw['load_average_1min']['after']}.",
            "",
        ]
    rd = speed.get("redivision")
    if rd:
        lines += [
            f"One village re-divided alone ({rd['villages']} villages drawn with the seed, median "
            f"{rd['units_median']} units, largest {rd['units_max']}; counts up 30 % in a seeded 10 % of its "
            f"units): p50 **{rd['p50']} s**, p95 **{rd['p95']} s**, max {rd['max']} s ({rd['slowest']}).",
            "",
        ]
    return lines
