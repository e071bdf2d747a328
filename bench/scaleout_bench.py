"""Benchmark partitioning a whole country on a local Dask cluster: one process, 1 and 2 workers.

Data: ``../shared/data/taiwan_min_stat_area_points``, 119,006 basic statistical areas as
points with households and residents. **Tainan (臺南市, COUNTY_ID 67000) is excluded
entirely**: its areas are holdout data, reserved for acceptance checks, so they are dropped
as the file is read and never partitioned, measured or tuned on. What remains is 107,176
points, 6.2 million households in 20 counties and cities.

Containers are townships (鄉鎮市區, ``TOWN_ID``), except in Taipei, whose village (里)
boundaries ship in ``../shared/data/taipei_min_stat_areas/taipei_villages.geojson``: there
each point joins the village holding it and grids nest in villages. Townships have no
polygons here, so the engine draws their outlines from one Voronoi diagram of all points.

Each configuration runs in a fresh child process of this script, so its time and memory
are its own: ``sequential`` (the default runner, in one process) and local Dask clusters
of 1 and 2 worker processes. For each it measures the wall time (reading, starting the
cluster, ``partition()``), the peak resident memory of the client (which also hosts the
scheduler) and of each worker, the peak of their sum (sampled every 0.2 s), the grids and
the share in range, and a hash of the assignment, so the plans can be compared. The first
configuration also re-checks the whole plan with ``partition.constraints.check_plan``
(contiguity, overlaps across all grids, nesting, coverage of every container, every unit
assigned), independently of the checks the containers ran on the workers.

Run ``.venv/bin/python bench/scaleout_bench.py`` (about 7 minutes on 2 CPUs); results go to
``bench/results/scaleout.md`` and ``scaleout.json``. ``--counties 10017,10018`` runs a few
counties for a quick look and writes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil
import shapely
from rich.console import Console
from rich.table import Table

from gis.columns import COMMUNITY, GRID_CODE, UNIT_ID
from gis.io import read_communities, read_units
from partition import partition
from partition.constraints import check_plan

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DATA = SHARED / "taiwan_min_stat_area_points" / "taiwan_min_stat_area_points_2017.csv"
VILLAGES = SHARED / "taipei_min_stat_areas" / "taipei_villages.geojson"
OUT = REPO / "bench" / "results"
HOLDOUT_COUNTY = "67000"  # 臺南市 Tainan: holdout data, never used
TAIPEI = "63000"
BENCH_CRS = "EPSG:3826"  # TWD97 / TM2 zone 121, Taiwan's metric grid
CONFIGS = ("sequential", "1", "2")
TARGET_SECONDS = 300.0  # the issue: all of Taiwan in at most 5 minutes with 2 workers on 2 cores
SAMPLE_EVERY = 0.2  # seconds between memory samples
VILLAGE_SNAP = 50.0  # metres: a point this close to a village polygon joins it
LIBRARIES = ("dask", "distributed", "numpy", "pandas", "shapely", "geopandas", "pymetis", "psutil")

console = Console(stderr=True)


# ---------------------------------------------------------------- data


def locate(data: Path, villages: Path) -> None:
    """Exit with a message when a data file is missing."""
    missing = [str(p) for p in (data, villages) if not p.is_file()]
    if missing:
        print(
            f"scaleout_bench: missing {', '.join(missing)}; the data ships in ../shared/data next to the "
            "repository, or pass --data and --villages",
            file=sys.stderr,
        )
        raise SystemExit(2)


def load(data: Path, villages: Path, counties: list[str] | None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Points without Tainan, each with its container id; and Taipei's village polygons.

    The CSV is filtered with pandas first (Tainan's rows never reach the engine), then read
    and validated by ``gis.io.read_units`` like any planner's file.
    """
    raw = pd.read_csv(data, dtype={"COUNTY_ID": str, "TOWN_ID": str, "CODEBASE": str})
    keep = raw["COUNTY_ID"] != HOLDOUT_COUNTY
    if counties:
        keep &= raw["COUNTY_ID"].isin(counties)
    raw = raw[keep]
    assert HOLDOUT_COUNTY not in set(raw["COUNTY_ID"]), "Tainan is holdout data"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "taiwan_without_tainan.csv"
        raw.to_csv(path, index=False)
        units = read_units(
            path,
            id_field="CODEBASE",
            households_field="H_CNT",
            population_field="P_CNT",
            community_field="TOWN_ID",
            crs="EPSG:4326",
        ).frame
    comm = read_communities(villages, id_field="CPTVID", name_field="VNAME").to_crs(BENCH_CRS)
    taipei = (raw["COUNTY_ID"] == TAIPEI).to_numpy()
    # in the metric CRS already, so the plan comes back in it unprojected and re-checks it exactly
    units = units.to_crs(BENCH_CRS)
    units[COMMUNITY] = _containers(units.geometry.values, units[COMMUNITY].to_numpy(), taipei, comm)
    return units, comm


def _containers(points: np.ndarray, towns: np.ndarray, taipei: np.ndarray, comm: gpd.GeoDataFrame) -> np.ndarray:
    """Township ids, replaced in Taipei by the village holding (or within 50 m of) the point."""
    out = np.asarray(towns, dtype=object).copy()
    tree = shapely.STRtree(comm.geometry.values)
    idx = np.flatnonzero(taipei)
    near, dist = tree.query_nearest(points[idx], return_distance=True, all_matches=False)
    close = dist <= VILLAGE_SNAP
    out[idx[near[0][close]]] = comm["community_id"].to_numpy()[near[1][close]]
    return out


# ---------------------------------------------------------------- measuring


class Memory:
    """Samples the resident memory of this process and all its descendants (the local cluster)."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.peak_total = 0.0
        self.peak_of: dict[int, float] = {}
        self.cpu_of: dict[int, float] = {}  # user + system seconds, as last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_EVERY)

    def sample(self) -> None:
        total = 0.0
        for proc in [self.me, *self.me.children(recursive=True)]:
            try:
                rss = proc.memory_info().rss / 2**20
                cpu = proc.cpu_times()
            except psutil.Error:  # ended between listing and reading
                continue
            self.cpu_of[proc.pid] = cpu.user + cpu.system
            total += rss
            self.peak_of[proc.pid] = max(self.peak_of.get(proc.pid, 0.0), rss)
        self.peak_total = max(self.peak_total, total)


def high_water_mb() -> float:
    """This process's peak resident memory (the kernel's VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def assignment_hash(assignment: pd.DataFrame) -> str:
    """SHA-256 of the sorted ``unit_id,code`` lines: equal hashes, equal plans."""
    rows = assignment.sort_values(UNIT_ID)
    text = "\n".join(f"{u},{c}" for u, c in zip(rows[UNIT_ID], rows[GRID_CODE], strict=True))
    return hashlib.sha256(text.encode()).hexdigest()


def verify(result) -> dict:
    """The whole plan re-checked in one piece: offenders per rule (all empty when it holds)."""
    metric = result.metric_crs
    units = result.units
    assert units.crs == metric, "the bench passes units in the metric CRS"
    outlines = gpd.GeoSeries(
        {cid: shapely.union_all(units.geometry.values[idx]) for cid, idx in units.groupby(COMMUNITY).indices.items()},
        crs=metric,
    )
    checks = check_plan(result.grids, result.assignment, units, containers=outlines)
    return {k: len(v) for k, v in checks.items()}


def run_one(config: str, args: argparse.Namespace) -> dict:
    """One configuration, start to finish, in this (fresh) process."""
    from partition.distributed import dask_client, dask_runner

    workers = None if config == "sequential" else int(config)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with Memory() as memory:
        units, comm = load(args.data, args.villages, args.counties)
        read_s = time.perf_counter() - started
        cluster = dask_client(workers=workers) if workers else nullcontext()
        with cluster as client:
            ready = time.perf_counter()
            worker_pids = client.run(os.getpid) if client else {}
            step = max(1, units[COMMUNITY].nunique() // 10)

            def progress(done: int, total: int, cid: str) -> None:
                if done % step == 0 or done == total:
                    console.print(f"  {config}: {done}/{total} containers, {time.perf_counter() - ready:.0f} s")

            result = partition(
                units,
                communities=comm,
                crs=BENCH_CRS,
                seed=args.seed,
                progress=progress,
                runner=dask_runner(client) if client else None,
            )
            partition_s = time.perf_counter() - ready
            worker_hwm = client.run(high_water_mb) if client else {}
            memory.sample()  # the workers' last CPU times, before they stop
        total_s = time.perf_counter() - started
        memory.sample()
    report = result.report
    per = report["per_community"]
    slowest = max(per, key=lambda c: c["seconds"])
    workers_peak = [memory.peak_of.get(pid, 0.0) for pid in worker_pids.values()]
    row = {
        "config": config,
        "workers": workers or 0,
        "units": report["units"],
        "households": int(units["households"].sum()),
        "containers": report["communities"],
        "read_seconds": round(read_s, 1),
        "cluster_seconds": round(ready - started - read_s, 1),
        "partition_seconds": round(partition_s, 1),
        "total_seconds": round(total_s, 1),
        "container_seconds_sum": round(sum(c["seconds"] for c in per), 1),
        # CPU time of every process of the run: unlike wall time, barely moved by other work on the machine
        "cpu_seconds": round(sum(memory.cpu_of.values()), 1),
        "slowest_container": {"id": slowest["community_id"], "units": slowest["units"], "seconds": slowest["seconds"]},
        "peak_rss_total_mb": round(memory.peak_total),
        "peak_rss_client_mb": round(high_water_mb()),
        "peak_rss_workers_mb": sorted(
            round(max(p, worker_hwm.get(a, 0.0))) for a, p in zip(worker_pids, workers_peak, strict=True)
        ),
        "grids": report["grids"],
        "grids_by_status": report["grids_by_status"],
        "share_in_range": report["share_in_range"],
        "share_in_range_where_feasible": report["share_in_range_where_feasible"],
        "polsby_popper": report["polsby_popper"],
        "checks": {k: len(v) for k, v in report["checks"].items()},
        "hard_barrier_crossings": report["hard_barrier_crossings"],
        "failed_containers": report["failed_containers"],
        "valid": report["valid"],
        "assignment_sha256": assignment_hash(result.assignment),
        # other work on the machine slows every figure above; a load well over 0 says so
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    if args.verify:
        t = time.perf_counter()
        row["verified"] = verify(result)
        row["verify_seconds"] = round(time.perf_counter() - t, 1)
    return row


# ---------------------------------------------------------------- reporting


def environment(args: argparse.Namespace) -> dict:
    libs = {}
    for name in LIBRARIES:
        try:
            libs[name] = version(name)
        except PackageNotFoundError:
            libs[name] = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "seed": args.seed,
        "crs": BENCH_CRS,
        "data": str(args.data),
        "excluded": "Tainan (臺南市, COUNTY_ID 67000): holdout data",
        "libraries": libs,
    }


def targets(rows: list[dict]) -> list[dict]:
    """The issue's targets, each with the measured value and a verdict."""
    by = {r["config"]: r for r in rows}
    out = []
    two = by.get("2")
    if two:
        out.append(
            {
                "target": "all of Taiwan (less Tainan) on 2 workers, wall time incl. reading",
                "value": two["total_seconds"],
                "goal": f"≤ {TARGET_SECONDS:.0f} s",
                "met": two["total_seconds"] <= TARGET_SECONDS,
            }
        )
    hashes = {r["assignment_sha256"] for r in rows}
    out.append(
        {
            "target": "same seed, same plan on every configuration",
            "value": f"{len(hashes)} distinct assignment(s) over {len(rows)} run(s)",
            "goal": "1",
            "met": len(hashes) == 1,
        }
    )
    bad = [r["config"] for r in rows if not r["valid"] or any(r.get("verified", {}).values())]
    out.append(
        {
            "target": "invariants: contiguous, no overlap, nested, covered, every unit once, no failed container",
            "value": "all hold" if not bad else f"broken in {', '.join(bad)}",
            "goal": "all hold",
            "met": not bad,
        }
    )
    return out


def _label(config: str) -> str:
    return "one process" if config == "sequential" else f"{config} worker{'s' if config != '1' else ''}"


def markdown(env: dict, rows: list[dict], goals: list[dict]) -> str:
    r0 = rows[0]
    lines = [
        "# Scale-out benchmark",
        "",
        f"Run {env['date']} on {env['platform']}, {env['cpu_count']} CPUs, {env['memory_gb']} GB, "
        f"Python {env['python']}; seed {env['seed']}, no time budget; "
        + ", ".join(f"{k} {v}" for k, v in env["libraries"].items() if v)
        + ".",
        "",
        f"All of Taiwan's basic statistical areas as points, **without Tainan** (holdout data, excluded "
        f"entirely): {r0['units']:,} points, {r0['households']:,} households, {r0['containers']:,} containers "
        "(townships; villages in Taipei). Wall time covers reading and validating the CSV, starting the "
        "local cluster and the whole `partition()` call (in EPSG:3826). Peak RSS: the client process (which "
        "also hosts the scheduler), each worker process, and the peak of their sum sampled every 0.2 s.",
        "",
        "| run | wall s | read s | cluster s | partition s | container work s | CPU s | slowest container | "
        "peak RSS total MB | client MB | workers MB | grids | in range | where feasible | PP mean | valid |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        slow = r["slowest_container"]
        lines.append(
            f"| {_label(r['config'])} | {r['total_seconds']:.1f} | {r['read_seconds']:.1f} | "
            f"{r['cluster_seconds']:.1f} | {r['partition_seconds']:.1f} | {r['container_seconds_sum']:.1f} | "
            f"{r['cpu_seconds']:.0f} | "
            f"{slow['id']} ({slow['units']:,} units, {slow['seconds']:.1f} s) | {r['peak_rss_total_mb']:,} | "
            f"{r['peak_rss_client_mb']:,} | {', '.join(f'{m:,}' for m in r['peak_rss_workers_mb']) or '–'} | "
            f"{r['grids']:,} | {r['share_in_range']:.1%} | {r['share_in_range_where_feasible']:.1%} | "
            f"{r['polsby_popper']['mean']:.3f} | {'yes' if r['valid'] else 'no'} |"
        )
    loads = ", ".join(
        f"{_label(r['config'])} {r['load_average_1min']['before']:.1f} → {r['load_average_1min']['after']:.1f}"
        for r in rows
    )
    lines += [
        "",
        f"1-minute load average before → after each run: {loads}. Loads above the run's own (about 1 in "
        "one process, 2–3 with workers) mean other work shared the CPUs and stretched the wall times; CPU "
        "seconds (client and workers, user + system) are barely affected.",
    ]
    base = next((r for r in rows if r["config"] == "sequential"), None)
    if base:
        lines += ["", "Speed-up over one process (wall time):"]
        for r in rows:
            lines.append(f"- {_label(r['config'])}: {base['total_seconds'] / r['total_seconds']:.2f}×")
    verified = next((r for r in rows if "verified" in r), None)
    if verified:
        lines += [
            "",
            f"Whole-plan re-check ({_label(verified['config'])}, {verified['verify_seconds']:.0f} s, not timed "
            "above): " + ", ".join(f"{k} {v}" for k, v in verified["verified"].items()) + ".",
        ]
    lines += [
        "",
        f"Assignment SHA-256: {', '.join(sorted({r['assignment_sha256'][:16] for r in rows}))}.",
        "",
        "## Targets",
        "",
        "| target | value | goal | met |",
        "|---|---|---|---|",
    ]
    for g in goals:
        lines.append(f"| {g['target']} | {g['value']} | {g['goal']} | {'yes' if g['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def print_table(rows: list[dict]) -> None:
    table = Table(title="scale-out")
    for col in ("run", "wall s", "partition s", "peak RSS MB", "workers MB", "grids", "in range", "valid"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            _label(r["config"]),
            f"{r['total_seconds']:.1f}",
            f"{r['partition_seconds']:.1f}",
            f"{r['peak_rss_total_mb']:,}",
            ", ".join(f"{m:,}" for m in r["peak_rss_workers_mb"]) or "–",
            f"{r['grids']:,}",
            f"{r['share_in_range']:.1%}",
            "yes" if r["valid"] else "no",
        )
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    """Run each configuration in a child process, print the table and write the result files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"the points CSV (default {DATA})")
    parser.add_argument("--villages", type=Path, default=VILLAGES, help=f"Taipei villages (default {VILLAGES})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"results folder (default {OUT})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the engine")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="runs: 'sequential' and worker counts")
    parser.add_argument("--counties", default=None, help="COUNTY_IDs to keep, for a quick look (writes nothing)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # a child process: run one config
    parser.add_argument("--verify", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.counties = args.counties.split(",") if args.counties else None
    if args.counties and HOLDOUT_COUNTY in args.counties:
        parser.error("Tainan (67000) is holdout data and cannot be benchmarked")
    locate(args.data, args.villages)
    if args.one:
        print(json.dumps(run_one(args.one, args)))
        return 0
    rows = []
    for i, config in enumerate(c.strip() for c in args.configs.split(",")):
        console.print(f"[bold]{_label(config)}[/]")
        child = [sys.executable, __file__, "--one", config, "--seed", str(args.seed)]
        child += ["--data", str(args.data), "--villages", str(args.villages)]
        child += ["--counties", ",".join(args.counties)] if args.counties else []
        child += ["--verify"] if i == 0 else []
        done = subprocess.run(child, stdout=subprocess.PIPE, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print_table(rows)
    env = environment(args)
    goals = targets(rows)
    for g in goals:
        console.print(f"{'[green]met[/]' if g['met'] else '[red]missed[/]'} {g['target']}: {g['value']}")
    if args.counties:
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaleout.json").write_text(
        json.dumps({"environment": env, "runs": rows, "targets": goals}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    (args.out / "scaleout.md").write_text(markdown(env, rows, goals), encoding="utf-8")
    console.print(f"wrote {args.out / 'scaleout.md'} and {args.out / 'scaleout.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
