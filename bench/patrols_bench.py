"""Benchmark patrol tracks: a day of GPS fixes of 1,000 grid workers, ingested and judged.

The district is generated (``data.sample.generate_district``, seed 7, 440,000 households in
60 communities) and partitioned by our engine into about 1,000 grids, stored with its
streets in an embedded PostGIS cluster of its own (the same settings ``commgrid serve``
uses, fsync on). Each of 1,000 workers gets a grid (one per grid), a phone and a seeded
day of fixes every 10 s from midnight to midnight, 8.64 million in all: at home at night,
to the community office, two patrols of their grid along random waypoints (most of about an
hour or more, some shorter), the office in between, home in the evening; 4 m of GPS noise,
plus 0.05 % wild jumps, 0.1 % duplicated fixes and 0.05 % fixes out of order. The fixes are
written to one CSV file (device, ISO time with offset, lat, lon), as a fleet export would be.

Timed, each in one transaction as the command line runs them:

* **ingest**: ``read_tracks`` of the CSV, then ``import_fixes`` without analysis: devices
  matched to workers, cleaning (sort, duplicates, speed rule, far-away flags) and the binary
  ``COPY`` into ``patrol_point``, and the commit. Target: 5 minutes.
* **compliance**: ``analyse_days`` of the district for the day: the fixes read back with
  binary ``COPY``, patrols, stops, visits, coverage of each grid's streets and compliance,
  tracks, visits and results written, and the commit. Target: 60 seconds.

Stages inside both are timed by wrapping the functions they call (no behaviour changes).
Results: ``bench/results/patrols.md`` and ``patrols.json``. Other benchmarks on the same
machine distort timings: the script waits (polling every 30 s, up to 20 minutes) until no
``wrk``, ``scaleout_bench`` or ``tiles_bench`` process runs, and records what it saw.

Run ``.venv/bin/python bench/patrols_bench.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchkit  # bench/benchkit.py: the script's folder is on sys.path
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyproj
import shapely
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from data.sample import generate_district, sample_partition_inputs, write_district  # noqa: E402
from gis import migrations  # noqa: E402
from gis.cluster import EmbeddedCluster  # noqa: E402
from gis.plans.files import read_plan_file  # noqa: E402
from gis.plans.load import store_plan  # noqa: E402
from gis.plans.store import read_grids  # noqa: E402
from gis.store import begin, create_engine  # noqa: E402

OUT = REPO / "bench" / "results"
WORK = Path(tempfile.gettempdir()) / "commgrid-patrols-bench"
DAY = dt.date(2026, 11, 2)
ZONE = "Asia/Shanghai"
STEP_S = 10
WALK = 1.2  # m/s
OTHERS = "wrk|scaleout_bench|tiles_bench"
TARGETS = {"ingest_s": 300.0, "compliance_s": 60.0}


# -- the district -------------------------------------------------------------------------------


def build_plan(work: Path, seed: int, households: int, communities: int) -> tuple[Path, Any]:
    """The partitioned district's plan file (cached in ``work``) and the generated district."""
    from gis.partition_inputs import PartitionOutputs, run_partition

    district = generate_district(
        seed=seed, households=households, n_communities=communities, incident_days=7, workers=0, patrol_days=0
    )
    folder = work / f"district-{seed}-{households}-{communities}"
    plan = folder / "grids.gpkg"
    if not plan.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        files = write_district(district, folder)
        inputs = sample_partition_inputs(files)
        run_partition(inputs, PartitionOutputs(plan, report=folder / "report.json"))
    return plan, district


def store_district(engine, plan: Path, district, workers: int) -> dict[str, Any]:
    """Store the plan with streets, the rule, ``workers`` workers (one per grid) and their phones."""
    from gis.patrols.store import set_rule

    with begin(engine) as conn:
        stored = store_plan(
            conn, read_plan_file(plan), plan="bench", district="bench", publish=True, barriers=district.barriers
        )
        set_rule(conn, stored.district_id, timezone=ZONE)
        grids = read_grids(conn, plan="bench").sort_values("code").reset_index(drop=True)
        codes = [grids["code"].iloc[i % len(grids)] for i in range(workers)]
        ids = []
        for i, code in enumerate(codes):
            ids.append(
                conn.execute(
                    text(
                        "INSERT INTO grid_worker (district_id, grid_code, name, work_phone) "
                        "VALUES (:d, :c, :n, '0755-0000 0000') RETURNING id"
                    ),
                    {"d": stored.district_id, "c": code, "n": f"网格员{i + 1:04d}"},
                ).scalar_one()
            )
        conn.execute(
            text(
                "INSERT INTO patrol_device (device, worker_id) "
                "SELECT unnest(CAST(:d AS text[])), unnest(CAST(:w AS int[]))"
            ),
            {"d": _phones(workers).tolist(), "w": ids},
        )
    return {"district_id": stored.district_id, "grids": grids, "codes": codes, "worker_ids": ids}


# -- the tracks ---------------------------------------------------------------------------------


def _inside(rng: np.random.Generator, polygon: shapely.Geometry, n: int) -> np.ndarray:
    minx, miny, maxx, maxy = polygon.bounds
    shapely.prepare(polygon)
    out = np.zeros((0, 2))
    while len(out) < n:
        xy = rng.uniform([minx, miny], [maxx, maxy], size=(4 * n, 2))
        out = np.vstack([out, xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]])
    return out[:n]


def _leg(knots: list, t: float, to: np.ndarray) -> float:
    """Walk from the last knot to ``to`` starting at ``t``; returns the arrival time."""
    here = knots[-1][1:]
    if t > knots[-1][0]:
        knots.append((t, *here))
    arrival = t + float(np.hypot(*(to - here))) / WALK
    knots.append((arrival, *to))
    return arrival


def _patrol(rng: np.random.Generator, knots: list, t: float, minutes: float, polygon) -> float:
    """Walk between random points of the grid for ``minutes``, with a few short pauses."""
    end = t + minutes * 60
    points = _inside(rng, polygon, 60)
    k = 0
    while t < end:
        t = _leg(knots, t, points[k % len(points)])
        if rng.random() < 0.25:
            t += rng.uniform(30, 180)  # a word with a resident
            knots.append((t, *knots[-1][1:]))
        k += 1
    return t


def generate_tracks(seed: int, grids, codes: list[str], communities, crs: str) -> tuple[pd.DataFrame, dict]:
    """A day of fixes every 10 s per worker (local midnight to midnight); the truth as counts."""
    rng = np.random.default_rng(seed)
    metric = grids.set_index("code").to_crs(crs)
    offices = communities.set_index("community_id").to_crs(crs).geometry.representative_point()
    seconds = np.arange(0, 86_400, STEP_S, dtype=float)
    xs, ys, devices = [], [], []
    short = 0
    for i, code in enumerate(codes):
        polygon = metric.geometry.loc[code]
        centre = np.array(polygon.centroid.coords[0])
        office = np.array(offices.loc[metric.loc[code, "community"]].coords[0])
        angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(300, 1500)
        home = centre + distance * np.array([np.cos(angle), np.sin(angle)])
        knots: list = [(0.0, *home)]
        t = _leg(knots, 7.5 * 3600 + rng.uniform(-1200, 1200), office)
        durations = [
            rng.uniform(62, 85) if rng.random() < 0.85 else rng.uniform(35, 55),
            rng.uniform(62, 80) if rng.random() < 0.80 else rng.uniform(30, 55),
        ]
        short += any(d < 60 for d in durations)
        for start_h, minutes in zip((9.0, 14.5), durations, strict=True):
            t = _leg(knots, max(t, start_h * 3600 + rng.uniform(-1800, 1800)), _inside(rng, polygon, 1)[0])
            t = _patrol(rng, knots, t, minutes, polygon)
            t = _leg(knots, t, office)
        _leg(knots, max(t, 17.5 * 3600 + rng.uniform(-1200, 1200)), home)
        knots.append((86_400.0, *home))
        k = np.array(knots)
        xs.append(np.interp(seconds, k[:, 0], k[:, 1]) + rng.normal(0, 4, len(seconds)))
        ys.append(np.interp(seconds, k[:, 0], k[:, 2]) + rng.normal(0, 4, len(seconds)))
        devices.append(i)
    x, y = np.concatenate(xs), np.concatenate(ys)
    n = len(x)
    device = np.repeat(np.array(devices), len(seconds))
    t = np.tile(seconds, len(codes))
    jumps = rng.random(n) < 0.0005
    angle = rng.uniform(0, 2 * np.pi, int(jumps.sum()))
    reach = rng.uniform(2000, 8000, int(jumps.sum()))
    x[jumps] += reach * np.cos(angle)
    y[jumps] += reach * np.sin(angle)
    lon, lat = pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
    order = np.arange(n)
    dups = np.flatnonzero(rng.random(n) < 0.001)
    order = np.sort(np.concatenate([order, dups]), kind="stable")
    swaps = np.flatnonzero(rng.random(len(order) - 1) < 0.0005)
    order[swaps], order[swaps + 1] = order[swaps + 1], order[swaps].copy()
    frame = pd.DataFrame(
        {"device": device[order], "t": t[order], "lat": np.asarray(lat)[order], "lon": np.asarray(lon)[order]}
    )
    truth = {
        "workers": len(codes),
        "fixes": n,
        "rows_written": len(frame),
        "jumps": int(jumps.sum()),
        "duplicates": len(dups),
        "swapped_pairs": len(swaps),
        "workers_with_a_short_patrol": short,
    }
    return frame, truth


def _phones(n: int) -> np.ndarray:
    return np.array([f"phone-{i + 1:04d}" for i in range(n)])


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """device, time (ISO 8601 with +08:00), lat, lon: as a fleet export would be."""
    local = np.datetime64(f"{DAY.isoformat()}T00:00:00") + frame["t"].to_numpy().astype("timedelta64[s]")
    stamps = np.char.add(np.datetime_as_string(local, unit="s"), "+08:00")
    table = pa.table(
        {
            "device": pa.array(_phones(int(frame["device"].max()) + 1)[frame["device"].to_numpy()]),
            "time": pa.array(stamps),
            "lat": pa.array(np.round(frame["lat"].to_numpy(), 7)),
            "lon": pa.array(np.round(frame["lon"].to_numpy(), 7)),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))


# -- timing -------------------------------------------------------------------------------------


class Stages:
    """Wall time of named calls, by wrapping module attributes for the run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, module: Any, name: str, label: str | None = None) -> None:
        original = getattr(module, name)
        label = label or name

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        setattr(module, name, timed)
        self._undo.append(lambda: setattr(module, name, original))

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


def others_running() -> list[str]:
    found = subprocess.run(["pgrep", "-af", OTHERS], capture_output=True, text=True).stdout.splitlines()
    return [line for line in found if str(os.getpid()) not in line.split()[0] and "pgrep" not in line]


def wait_for_quiet(max_minutes: float) -> dict[str, Any]:
    waited, seen = 0.0, others_running()
    first = list(seen)
    while seen and waited < max_minutes * 60:
        print(f"waiting for other benchmarks to finish: {len(seen)} processes ({seen[0][:80]}…)", flush=True)
        time.sleep(30)
        waited += 30
        seen = others_running()
    return {"waited_s": waited, "seen_at_start": first[:5], "still_running": seen[:5]}


def machine() -> dict[str, Any]:
    return benchkit.machine(("numpy", "pandas", "shapely", "scipy", "pyproj", "psycopg", "movingpandas"))


# -- the run ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    import gis.patrols.analysis as analysis_module
    import gis.patrols.store as store_module
    from gis.patrols.readers import read_tracks
    from gis.patrols.reports import read_compliance

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    quiet = wait_for_quiet(args.wait_minutes)
    t0 = time.perf_counter()
    plan, district = build_plan(work, args.seed, args.households, args.communities)
    setup_plan_s = time.perf_counter() - t0
    cluster = EmbeddedCluster(work / "cluster")
    if (work / "cluster").exists():
        cluster.remove()
        shutil.rmtree(work / "cluster", ignore_errors=True)
        cluster = EmbeddedCluster(work / "cluster")
    cluster.start()
    engine = None
    try:
        url = cluster.url()
        migrations.upgrade(url)
        engine = create_engine(url)
        stored = store_district(engine, plan, district, args.workers)
        t0 = time.perf_counter()
        frame, truth = generate_tracks(
            args.seed, stored["grids"], stored["codes"], district.communities, district.working_crs.to_string()
        )
        csv = work / "fixes.csv"
        write_csv(frame, csv)
        generate_s = time.perf_counter() - t0
        del frame
        print(f"{truth['rows_written']:,} rows in {csv} ({csv.stat().st_size / 2**20:.0f} MiB)", flush=True)
        if others_running():  # the setup took a while: wait again for a quiet machine
            quiet["second_wait"] = wait_for_quiet(args.wait_minutes)
        state_before = machine()

        # ingest: read, match, clean, COPY, commit
        ingest = Stages()
        ingest.wrap(store_module, "resolve_workers", "match devices to workers")
        ingest.wrap(store_module, "clean", "clean")
        ingest.wrap(store_module, "copy_fixes", "COPY into patrol_point")
        start = time.perf_counter()
        fixes = read_tracks(csv)
        read_s = time.perf_counter() - start
        with begin(engine) as conn:
            result = store_module.import_fixes(conn, fixes, file=str(csv), analyse_days_after=False)
            commit_start = time.perf_counter()
        commit_s = time.perf_counter() - commit_start
        ingest_s = time.perf_counter() - start
        ingest.restore()
        quiet["during_ingest"] = others_running()[:5]
        del fixes
        print(f"ingest {ingest_s:.1f} s: {result.report.summary()}", flush=True)

        # compliance of the day
        judge = Stages()
        judge.wrap(store_module, "read_fixes", "read fixes (COPY out)")
        judge.wrap(store_module, "_write_analysis", "write tracks, visits, results")
        judge.wrap(analysis_module, "split_patrols", "sessions, stops, patrols")
        judge.wrap(analysis_module, "visits", "visits")
        judge.wrap(analysis_module, "_coverage_rows", "coverage and longest unvisited")
        start = time.perf_counter()
        with begin(engine) as conn:
            rows = store_module.analyse_days(conn, district_id=stored["district_id"], days=[DAY])
            commit_start = time.perf_counter()
        judge.seconds["commit"] = time.perf_counter() - commit_start
        compliance_s = time.perf_counter() - start
        judge.restore()
        quiet["during_compliance"] = others_running()[:5]
        print(f"compliance {compliance_s:.1f} s: {int(rows['compliant'].sum())} of {len(rows)} kept", flush=True)

        with engine.connect() as conn:
            sizes = dict(
                conn.execute(
                    text(
                        "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                        "WHERE relname IN ('patrol_point', 'patrol_track', 'patrol_visit', 'patrol_compliance')"
                    )
                ).all()
            )
            counts = {
                t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("patrol_point", "patrol_track", "patrol_visit", "patrol_compliance")
            }
            table = read_compliance(conn, district_id=stored["district_id"], day=DAY)
        state_after = machine()
    finally:
        if engine is not None:
            engine.dispose()
        if not args.keep:
            cluster.remove()
            shutil.rmtree(work / "cluster", ignore_errors=True)

    return {
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine_before": state_before,
        "machine_after": state_after,
        "other_benchmarks": quiet,
        "setup": {"plan_s": round(setup_plan_s, 1), "generate_and_write_csv_s": round(generate_s, 1)},
        "truth": truth,
        "csv_mib": round(csv.stat().st_size / 2**20, 1),
        "ingest": {
            "total_s": round(ingest_s, 1),
            "stages_s": {
                "read CSV": round(read_s, 1),
                **{k: round(v, 1) for k, v in ingest.seconds.items()},
                "commit": round(commit_s, 1),
            },
            "report": result.report.to_dict(),
            "stored": result.stored,
            "fixes_per_s": round(result.report.read / ingest_s),
        },
        "compliance": {
            "total_s": round(compliance_s, 1),
            "stages_s": {k: round(v, 1) for k, v in judge.seconds.items()},
            "workers": len(rows),
            "compliant": int(rows["compliant"].sum()),
            "mean_coverage": round(float(table["coverage"].astype(float).mean()), 3),
            "coverage_basis": sorted(table["coverage_basis"].dropna().unique().tolist()),
        },
        "rows": counts,
        "table_mib": {k: round(v / 2**20, 1) for k, v in sizes.items()},
    }


def _others_text(others: dict[str, Any]) -> str:
    waited = others["waited_s"] + others.get("second_wait", {}).get("waited_s", 0.0)
    text_ = f"waited {waited:.0f} s for them to finish; " if waited else ""
    during = others.get("during_ingest", []) + others.get("during_compliance", [])
    if during:
        return text_ + f"STILL RUNNING at the end of a timed step ({during[0][:60]}…): timings are disturbed."
    return text_ + "none running at the end of either timed step."


def markdown(r: dict[str, Any]) -> str:
    ing, com, truth = r["ingest"], r["compliance"], r["truth"]
    before, others = r["machine_before"], r["other_benchmarks"]

    def verdict(value: float, target: float) -> str:
        return f"{'met' if value <= target else 'MISSED'} (target ≤ {target:g} s)"

    lines = [
        "# Patrol tracks: ingest and compliance of one day of 1,000 workers",
        "",
        f"Run {before['date']} on {before['cpus']} CPUs, {before['memory_gb']} GB, Python {before['python']}, "
        f"{before['postgres']}; embedded cluster with default settings (fsync on). Load average before the timed "
        f"runs: {before['load_average']}; after: {r['machine_after']['load_average']}. Other benchmarks: "
        + _others_text(others),
        "",
        f"Input: {truth['rows_written']:,} CSV rows ({r['csv_mib']} MiB) = {truth['fixes']:,} fixes of "
        f"{truth['workers']:,} workers every 10 s for a day, plus {truth['duplicates']:,} duplicates; "
        f"{truth['jumps']:,} wild jumps, {truth['swapped_pairs']:,} swapped pairs; "
        f"{truth['workers_with_a_short_patrol']} workers made a patrol shorter than an hour.",
        "",
        "| step | seconds | result |",
        "|---|---:|---|",
        f"| **ingest** (read CSV → match → clean → COPY → commit) | **{ing['total_s']}** | "
        f"{verdict(ing['total_s'], TARGETS['ingest_s'])}; {ing['fixes_per_s']:,} fixes/s |",
    ]
    lines += [f"| &nbsp;&nbsp;{k} | {v} | |" for k, v in ing["stages_s"].items()]
    lines += [
        f"| **compliance of the day** (read → analyse → write → commit) | **{com['total_s']}** | "
        f"{verdict(com['total_s'], TARGETS['compliance_s'])}; {com['compliant']} of {com['workers']} workers kept "
        f"the rule ({truth['workers'] - truth['workers_with_a_short_patrol']} walked two patrols of an hour or more) |",
    ]
    lines += [f"| &nbsp;&nbsp;{k} | {v} | |" for k, v in com["stages_s"].items()]
    rep = ing["report"]
    lines += [
        "",
        f"Cleaning report: {rep['read']:,} read, {rep['duplicates']:,} duplicates and {rep['too_fast']:,} impossible "
        f"jumps dropped, {rep['out_of_order']:,} out-of-order fixes sorted, {rep['outside']:,} far outside flagged, "
        f"{rep['kept']:,} stored.",
        f"Stored rows: {r['rows']}; table sizes (MiB, with indexes): {r['table_mib']}.",
        f"Coverage basis: {com['coverage_basis']}; mean coverage {com['mean_coverage']}.",
        f"Untimed setup: district and plan {r['setup']['plan_s']} s (cached after the first run), "
        f"tracks generated and written {r['setup']['generate_and_write_csv_s']} s.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--households", type=int, default=440_000)
    parser.add_argument("--communities", type=int, default=60)
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--work", default=str(WORK), help="folder for the district, the CSV and the cluster")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--wait-minutes", type=float, default=20.0, help="longest wait for other benchmarks")
    parser.add_argument("--keep", action="store_true", help="keep the cluster afterwards")
    args = parser.parse_args()
    result = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "patrols.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    (out / "patrols.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
