"""Benchmark incidents at Taipei scale: a bulk import of 1,000,000, density tiles uncached, Gi* hot spots.

One PostGIS cluster of its own (under ``--work``) holds the Taipei plan of the partition
engine (``commgrid partition`` of ``../shared/data/taipei_min_stat_areas``, 2,384 grids,
then ``commgrid load --publish``). The incidents are generated with a fixed seed: a year
of reports ending at the start of the run's hour, placed in grids in proportion to their
residents (70 %) or around 40 hot spots (30 %, 150 m spread), in the default taxonomy's
leaf categories (Zipf-like weights), closed, invalid or duplicate when older than two
weeks, on their way through the workflow when newer. They are written to one CSV file
(category, lon, lat, reported_at, status), as an export of another system would be.

Timed, in this order:

* **import** (target 60 s): what ``commgrid incidents import`` does, in one transaction:
  read the CSV, map the fields, place the points in districts and grids, ``COPY`` into
  staging, mark near-duplicates (50 m, 24 h), insert the incidents (the density bins
  follow by trigger) and their first events, commit. Stages are timed by wrapping the
  functions and statements they call.
* **density tiles** (target p50 50 ms at z10-z15): a ``commgrid serve`` process with its
  tile cache off (``COMMGRID_TILE_CACHE_MB=0``), so every request renders; one request at
  a time over up to ``--tiles`` seeded tiles per zoom touching Taipei, after one untimed
  pass over the same list (PostgreSQL's buffers warm, as in a running service). Only
  tiles with bins (200) count; 204s are reported apart. Variants: an analyst's
  unfiltered view (the target), the public view (anonymous: public categories, bins of
  at least 3, reported a day ago or more), and an analyst's view by category, by open
  states and of the last 30 days.
* **hot spots** (target 10 s): Getis-Ord Gi* over every Taipei grid, ``incident_hotspots``
  in process (counts per grid in SQL, queen weights, esda, FDR), and the HTTP route.

``VACUUM ANALYZE`` runs (untimed) between the import and the tiles, as autovacuum would
after a bulk load. Results: ``bench/results/incidents.md`` and ``incidents.json``. Other
work on the machine distorts timings: the script notes what runs beside it.

Run ``.venv/bin/python bench/incidents_bench.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import benchkit  # bench/benchkit.py: the script's folder is on sys.path
import morecantile
import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gis import migrations  # noqa: E402
from gis.cluster import EmbeddedCluster  # noqa: E402
from gis.store import begin, create_engine  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "taipei_min_stat_areas"
OUT = REPO / "bench" / "results"
WORK = Path(tempfile.gettempdir()) / "commgrid-incidents-bench"
BIN = Path(sys.executable).parent
TMS = morecantile.tms.get("WebMercatorQuad")
ZOOMS = (10, 11, 12, 13, 14, 15)
TARGETS = {"import_s": 60.0, "tile_p50_ms": 50.0, "hotspots_s": 10.0}
OTHERS = "pytest|_bench.py|wrk"
OPEN = "reported,accepted,filed,dispatched,handling,verifying,returned,rework,parked"


# -- the store ----------------------------------------------------------------------------------


def commgrid(args: list[str], *, log: Path, env: dict[str, str] | None = None) -> None:
    """Run this environment's ``commgrid``, its output to ``log``; raise when it fails."""
    with log.open("a") as out:
        done = subprocess.run([str(BIN / "commgrid"), *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"commgrid {args[0]} failed with exit code {done.returncode}; see {log}")


def plan_file(data: Path, work: Path) -> Path:
    """The Taipei plan GeoPackage (the README's command), made once per work folder."""
    gpkg = work / "taipei.gpkg"
    if not gpkg.is_file():
        commgrid(
            [
                "partition",
                str(data / "taipei_min_stat_areas_2017.geojson"),
                *("--id", "CODEBASE", "--households", "H_CNT", "--population", "P_CNT", "--missing-counts", "zero"),
                *("--communities", str(data / "taipei_villages.geojson"), "--community-id", "CPTVID"),
                *("--community-name", "VNAME", "--crs", "EPSG:3826", "--out", str(gpkg)),
            ],
            log=work / "partition.log",
        )
    return gpkg


def generate(grids: pd.DataFrame, n: int, seed: int, end: pd.Timestamp) -> pd.DataFrame:
    """``n`` incidents over the year before ``end`` (see the module docstring)."""
    import geopandas as gpd

    from gis.incidents import DEFAULT

    rng = np.random.default_rng(seed)
    metric = grids.to_crs(3826)
    weight = metric["population"].to_numpy(float) + 50  # grids without residents still see some
    pick = rng.choice(len(metric), size=n, p=weight / weight.sum())
    bounds, shapes = metric.geometry.bounds.to_numpy(), metric.geometry.to_numpy()
    x, y, todo = np.empty(n), np.empty(n), np.arange(n)
    while len(todo):
        b = bounds[pick[todo]]
        tx, ty = rng.uniform(b[:, 0], b[:, 2]), rng.uniform(b[:, 1], b[:, 3])
        inside = shapely.contains_xy(shapes[pick[todo]], tx, ty)
        x[todo[inside]], y[todo[inside]] = tx[inside], ty[inside]
        todo = todo[~inside]
    hot = rng.random(n) < 0.3
    centres = rng.choice(n, 40, replace=False)[rng.integers(0, 40, int(hot.sum()))]
    x[hot] = x[centres] + rng.normal(0, 150, int(hot.sum()))
    y[hot] = y[centres] + rng.normal(0, 150, int(hot.sum()))
    points = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=3826).to_crs(4326)
    leaves = [c for c in DEFAULT if not any(o.parent == c.code for o in DEFAULT)]
    weights = rng.permutation(1.0 / np.arange(1, len(leaves) + 1) ** 0.8)
    category = np.array([c.code for c in leaves])[rng.choice(len(leaves), size=n, p=weights / weights.sum())]
    age = rng.uniform(0, 365 * 86_400, n)
    ended = np.where(rng.random(n) < 0.92, "closed", np.where(rng.random(n) < 0.6, "invalid", "duplicate"))
    steps = np.array(["reported", "accepted", "filed", "dispatched", "handling", "verifying", "closed"])
    status = np.where(age < 14 * 86_400, steps[np.minimum((age / (2 * 86_400)).astype(int), 6)], ended)
    return pd.DataFrame(
        {
            "category": category,
            "lon": np.round(points.x.to_numpy(), 7),
            "lat": np.round(points.y.to_numpy(), 7),
            "reported_at": end - pd.to_timedelta(np.round(age), unit="s"),
            "status": status,
        }
    )


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    stamps = frame["reported_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    table = pa.table({**{c: frame[c].to_numpy() for c in ("category", "lon", "lat", "status")}, "reported_at": stamps})
    pacsv.write_csv(table, path)


# -- timing -------------------------------------------------------------------------------------


class Stages:
    """Wall time of named calls, by wrapping module attributes for the run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, module: Any, name: str, label: str) -> None:
        original = getattr(module, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        setattr(module, name, timed)
        self._undo.append(lambda: setattr(module, name, original))

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()


# statement prefixes of copy_incidents → stage names
STATEMENTS = {
    "COPY incident_staging": "COPY into staging",
    "CREATE TEMP TABLE incident_dup": "near-duplicates",
    "ANALYZE incident_dup": "near-duplicates",
    "WITH nearest AS": "near-duplicates",
    "INSERT INTO incident (": "insert incidents (with the bins trigger)",
    "INSERT INTO incident_event": "insert first events",
}


def import_csv(engine, csv: Path) -> tuple[Any, Any, Stages, float]:
    """The import as ``commgrid incidents import`` runs it; its result, the mapping, the stages, seconds."""
    import sqlalchemy as sa

    import gis.incidents.store as store
    from gis.incidents.imports import map_incidents, read_incident_table

    stages = Stages()
    stages.wrap(store, "_places", "place in districts and grids")
    stages.wrap(store, "_csv", "format for COPY")
    start = time.perf_counter()
    t = time.perf_counter()
    table, _ = read_incident_table(csv)
    stages.add("read CSV", time.perf_counter() - t)
    t = time.perf_counter()
    mapping = {"category": "category", "x": "lon", "y": "lat", "reported_at": "reported_at", "status": "status"}
    mapped = map_incidents(table, mapping, file=str(csv), crs="EPSG:4326")
    stages.add("map fields", time.perf_counter() - t)
    del table
    with begin(engine) as conn:

        @sa.event.listens_for(conn, "before_cursor_execute")
        def _before(c, cursor, statement, *args):
            c.info["started"] = time.perf_counter()

        @sa.event.listens_for(conn, "after_cursor_execute")
        def _after(c, cursor, statement, *args):
            text_ = " ".join(statement.split())
            for prefix, label in STATEMENTS.items():
                if text_.startswith(prefix):
                    stages.add(label, time.perf_counter() - c.info["started"])

        copy_started = time.perf_counter()
        result = store.copy_incidents(conn, mapped.frame, actor="bench", source=f"import:{csv.name}")
        stages.add("copy_incidents (all)", time.perf_counter() - copy_started)
        commit = time.perf_counter()
    stages.add("commit", time.perf_counter() - commit)
    seconds = time.perf_counter() - start
    stages.restore()
    return result, mapped, stages, seconds


# -- the server ---------------------------------------------------------------------------------


@contextlib.contextmanager
def server(url: str, work: Path) -> Iterator[str]:
    """``commgrid serve`` on ``url`` with the tile cache off; yields its base URL."""
    port = benchkit.free_port()
    env = {
        **os.environ,
        "COMMGRID_HOME": str(work / "home"),
        "COMMGRID_TILE_CACHE_MB": "0",
        "COMMGRID_RATE_LIMIT_PER_SECOND": "0",  # no 429s: the benchmark asks one tile at a time, fast
    }
    argv = [str(BIN / "commgrid"), "serve", "--db", url, "--port", str(port)]
    with (work / "serve.log").open("a") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"commgrid serve exited with code {process.returncode}; see {work / 'serve.log'}")
            with contextlib.suppress(OSError), urllib.request.urlopen(base + "/conformance", timeout=2) as r:
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("commgrid serve did not answer within 90 s")
            time.sleep(0.3)
        yield base
    finally:
        benchkit.stop(process)


def get(url: str, headers: dict[str, str]) -> tuple[int, float, int]:
    """Status, milliseconds and body size of one GET."""
    request = urllib.request.Request(url, headers=headers)
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as err:
        body, status = err.read(), err.code
    return status, (time.perf_counter() - start) * 1000, len(body)


def tile_list(area: shapely.Geometry, z: int, limit: int, rng: np.random.Generator) -> list[morecantile.Tile]:
    """Up to ``limit`` tiles of zoom ``z`` touching ``area``, in a seeded random order."""
    shapely.prepare(area)
    tiles = [t for t in TMS.tiles(*area.bounds, zooms=[z]) if shapely.intersects(area, shapely.box(*TMS.bounds(t)))]
    order = rng.permutation(len(tiles))
    return [tiles[i] for i in order[:limit]]


def time_tiles(base: str, tiles: dict[int, list], query: str, headers: dict[str, str]) -> dict[str, Any]:
    """Per zoom: p50, p95 and max of the tiles with bins, and how many answered 200 and 204."""
    out = {}
    for z, listed in tiles.items():
        ms, empty, other = [], 0, 0
        for t in listed:
            status, took, _ = get(f"{base}/collections/incident-density/tiles/WebMercatorQuad/{z}/{t.y}/{t.x}{query}",
                                  headers)  # fmt: skip
            if status == 200:
                ms.append(took)
            elif status == 204:
                empty += 1
            else:
                other += 1
        out[str(z)] = {
            "tiles_200": len(ms),
            "tiles_204": empty,
            "errors": other,
            "p50_ms": round(statistics.median(ms), 1) if ms else None,
            "p95_ms": round(float(np.percentile(ms, 95)), 1) if ms else None,
            "max_ms": round(max(ms), 1) if ms else None,
        }
    return out


# -- the machine --------------------------------------------------------------------------------


OURS: set[int] = set()  # the benchmark's own database server: not "other work"


def others_running() -> list[str]:
    """Benchmarks and test runs by their names, and any other process busy over a one-second look."""
    found = subprocess.run(["pgrep", "-af", OTHERS], capture_output=True, text=True).stdout.splitlines()
    named = [line[:120] for line in found if "incidents_bench" not in line and "pgrep" not in line]
    mine = {os.getpid(), *(c.pid for c in psutil.Process().children(recursive=True)), *OURS}
    for pid in list(OURS):
        with contextlib.suppress(psutil.Error):
            mine |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
    procs = [p for p in psutil.process_iter(["pid", "cmdline"]) if p.pid not in mine]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(1.0)
    busy = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            share = p.cpu_percent(None)
            if share >= 20:
                busy.append(f"{p.pid} {share:.0f}% CPU " + " ".join(p.info["cmdline"] or [])[:100])
    return named + [b for b in busy if not any(b.split()[0] == n.split()[0] for n in named)]


def machine() -> dict[str, Any]:
    return benchkit.machine(("numpy", "pandas", "shapely", "psycopg", "esda", "libpysal", "pyarrow"))


# -- the run ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    import geopandas as gpd
    from sqlalchemy import text

    from gis.incidents.hotspots import incident_hotspots
    from gis.store.users import add_user
    from tiles.density import DensityQuery, WindowCounts, plan_parts

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    seen: dict[str, Any] = {"at_start": others_running()}
    t0 = time.perf_counter()
    gpkg = Path(args.plan) if args.plan else plan_file(Path(args.data), work)
    setup = {"plan_s": round(time.perf_counter() - t0, 1)}
    cluster = EmbeddedCluster(work / "home", throwaway=not args.fsync)
    cluster.remove()  # every run starts from an empty store
    OURS.add(cluster.start().pid)
    engine = None
    try:
        url = cluster.url()
        sa_url = url.render_as_string(hide_password=False)
        migrations.upgrade(url)
        t0 = time.perf_counter()
        commgrid(["load", str(gpkg), "--plan", "taipei", "--district", "taipei", "--publish", "--db", sa_url],
                 log=work / "load.log")  # fmt: skip
        setup["load_s"] = round(time.perf_counter() - t0, 1)
        engine = create_engine(url)
        with engine.connect() as conn:
            grids = gpd.read_postgis(text("SELECT population, geom FROM grid"), conn, geom_col="geom")
        area = shapely.union_all(grids.geometry.to_numpy())
        end = pd.Timestamp.now(tz="UTC").floor("h")
        t0 = time.perf_counter()
        frame = generate(grids, args.incidents, args.seed, end)
        csv = work / "incidents.csv"
        write_csv(frame, csv)
        setup["generate_and_write_csv_s"] = round(time.perf_counter() - t0, 1)
        del frame
        print(f"{args.incidents:,} incidents in {csv} ({csv.stat().st_size / 2**20:.0f} MiB)", flush=True)

        before = machine()
        seen["before_import"] = others_running()
        result, mapped, stages, import_s = import_csv(engine, csv)
        seen["after_import"] = others_running()
        print(f"import {import_s:.1f} s: {mapped.summary()}; {result.summary()}", flush=True)

        t0 = time.perf_counter()
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
            sizes = {
                name: round(conn.execute(text(f"SELECT pg_total_relation_size('{name}')")).scalar_one() / 2**20, 1)
                for name in ("incident", "incident_event", "incident_bin", "incident_day")
            }
            rows = {
                name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
                for name in ("incident", "incident_event", "incident_bin", "incident_day")
            }
            total, last30, last_day = conn.execute(
                text(
                    "SELECT sum(n), sum(n) FILTER (WHERE day >= :d), sum(n) FILTER (WHERE day >= :y) FROM incident_day"
                ),
                {"d": (end - pd.Timedelta(days=30)).date(), "y": (end - pd.Timedelta(days=1)).date()},
            ).one()
        with begin(engine) as conn:
            token = add_user(conn, "bench-analyst", role="analyst")
        setup["vacuum_analyze_s"] = round(time.perf_counter() - t0, 1)

        rng = np.random.default_rng(args.seed)
        tiles = {z: tile_list(area, z, args.tiles, rng) for z in ZOOMS}
        analyst = {"Authorization": f"Bearer {token}"}
        since = (end - pd.Timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        variants = {
            "analyst, everything (target)": ("", analyst, DensityQuery()),
            "public view": ("", {}, DensityQuery(end=end.to_pydatetime(), public=("x",))),
            "analyst, category public_security": ("?category=public_security", analyst, DensityQuery()),
            "analyst, open states": (f"?status={OPEN}", analyst, DensityQuery()),
            "analyst, last 30 days": (
                f"?from={since}",
                analyst,
                DensityQuery(start=(end - pd.Timedelta(days=30)).to_pydatetime()),
            ),
        }
        density: dict[str, Any] = {}
        with server(sa_url, work) as base:
            warm = time_tiles(base, tiles, "", analyst)  # untimed: PostgreSQL's buffers, the server's pools
            seen["before_tiles"] = others_running()
            for name, (query, headers, plan_query) in variants.items():
                timed = time_tiles(base, tiles, query, headers)
                for z in ZOOMS:
                    counts = None
                    if plan_query.start is not None:
                        counts = WindowCounts(total - last30, last30, 0)
                    elif plan_query.end is not None:
                        counts = WindowCounts(0, total - last_day, last_day)
                    parts = plan_parts(plan_query, z, counts)
                    timed[str(z)]["counted_from"] = " ".join(
                        ("+" if p.sign > 0 else "-") + p.source + (" by time" if p.by_time else "") for p in parts
                    )
                density[name] = timed
                p50s = [timed[str(z)]["p50_ms"] for z in ZOOMS]
                print(f"tiles, {name}: p50 ms per zoom {dict(zip(ZOOMS, p50s, strict=True))}", flush=True)
            seen["after_tiles"] = others_running()
            hot = {"http_ms": []}
            for _ in range(2):  # the first also warms the server's modules
                status, took, size = get(f"{base}/analytics/hotspots?unit=grid", analyst)
                hot["http_ms"].append(round(took))
            hot["http_status"], hot["http_bytes"] = status, size
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            with engine.connect() as conn:
                spots = incident_hotspots(conn, unit="grid", district="taipei")
            runs.append(round(time.perf_counter() - start, 2))
        hot |= {
            "in_process_s": runs,
            "grids": len(spots),
            "hot": int((spots["hotspot"] == "hot").sum()),
            "cold": int((spots["hotspot"] == "cold").sum()),
        }
        print(f"hot spots over {len(spots)} grids: {runs} s in process, {hot['http_ms']} ms over HTTP", flush=True)
        seen["at_end"] = others_running()
        after = machine()
    finally:
        if engine is not None:
            engine.dispose()
        if not args.keep:
            cluster.remove()
    return {
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine_before": before,
        "machine_after": after,
        "others_running": seen,
        "cluster": "fsync on (as commgrid serve runs it)" if args.fsync else "throwaway: fsync off",
        "setup": setup,
        "import": {
            "total_s": round(import_s, 1),
            "stages_s": {k: round(v, 1) for k, v in stages.seconds.items()},
            "read": mapped.read,
            "stored": result.stored,
            "outside": result.outside,
            "duplicates": result.duplicates,
            "incidents_per_s": round(result.stored / import_s),
        },
        "tables": {"rows": rows, "mib": sizes},
        "density": density,
        "warm_pass": warm,
        "hotspots": hot,
    }


def _others_text(seen: dict[str, Any]) -> str:
    during = {k: v for k, v in seen.items() if v}
    if not during:
        return "none seen at any check."
    first = next(iter(during.values()))[0]
    return f"SEEN at {', '.join(during)} (e.g. `{first[:70]}`): timings are disturbed."


def markdown(r: dict[str, Any]) -> str:
    imp, before, hot = r["import"], r["machine_before"], r["hotspots"]

    def verdict(value: float | None, target: float) -> str:
        return "—" if value is None else ("met" if value <= target else "MISSED")

    lines = [
        f"# Incidents: bulk import, density tiles, hot spots (Taipei, {imp['read']:,} incidents)",
        "",
        f"Run {before['date']} on {before['cpus']} CPUs, {before['memory_gb']} GB, Python {before['python']}, "
        f"{before['postgres']}; own cluster, {r['cluster']}. Load average before: {before['load_average']}; "
        f"after: {r['machine_after']['load_average']}. Other work on the machine: {_others_text(r['others_running'])}",
        "",
        "## Import",
        "",
        f"**{imp['total_s']} s** for {imp['read']:,} CSV rows ({verdict(imp['total_s'], TARGETS['import_s'])}, "
        f"target ≤ {TARGETS['import_s']:g} s): {imp['stored']:,} stored, {imp['outside']:,} outside Taipei, "
        f"{imp['duplicates']:,} marked as possible duplicates (50 m, 24 h); {imp['incidents_per_s']:,} incidents/s.",
        "",
        "| stage | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v} |" for k, v in imp["stages_s"].items()]
    lines += [
        "",
        f"Rows after: {r['tables']['rows']}; sizes in MiB with indexes: {r['tables']['mib']}.",
        "",
        "## Density tiles, cache off (ms per tile with bins, one request at a time)",
        "",
        f"Target: p50 ≤ {TARGETS['tile_p50_ms']:g} ms at every zoom for the analyst's unfiltered view. "
        "`counted from`: `+bins` sums the stored bins, `+incidents` counts incidents in and around the tile, "
        "`-incidents` takes those outside the time window off the bins.",
        "",
        "| view | zoom | tiles (200 / 204) | p50 | p95 | max | counted from | p50 target |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, zooms in r["density"].items():
        for z, f in zooms.items():
            target = verdict(f["p50_ms"], TARGETS["tile_p50_ms"]) if "target" in name else ""
            lines.append(
                f"| {name} | {z} | {f['tiles_200']} / {f['tiles_204']} | {f['p50_ms']} | {f['p95_ms']} | "
                f"{f['max_ms']} | {f['counted_from']} | {target} |"
            )
    best = min(hot["in_process_s"])
    lines += [
        "",
        "## Hot spots",
        "",
        f"Gi* over all {hot['grids']:,} Taipei grids (queen contiguity, FDR): **{best} s** at best of "
        f"{hot['in_process_s']} in process ({verdict(best, TARGETS['hotspots_s'])}, target ≤ "
        f"{TARGETS['hotspots_s']:g} s); {hot['hot']} hot and {hot['cold']} cold grids. Over HTTP "
        f"(`/analytics/hotspots?unit=grid`, GeoJSON of {hot['http_bytes'] / 2**20:.1f} MiB): {hot['http_ms']} ms "
        "(the first run also loads the modules).",
        "",
        f"Untimed setup: {r['setup']}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiles", type=int, default=150, help="most tiles timed per zoom")
    parser.add_argument("--data", default=str(DATA), help="the Taipei small areas folder")
    parser.add_argument("--plan", default=None, help="a Taipei plan GeoPackage to use instead of partitioning")
    parser.add_argument("--fsync", action="store_true", help="a durable cluster (fsync on) instead of a throwaway one")
    parser.add_argument("--work", default=str(WORK), help="folder for the plan, the CSV and the cluster")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--keep", action="store_true", help="keep the cluster afterwards")
    args = parser.parse_args()
    if not args.plan and not (Path(args.data) / "taipei_min_stat_areas_2017.geojson").is_file():
        print(f"the Taipei data is missing in {args.data}; pass --data FOLDER or --plan FILE", file=sys.stderr)
        raise SystemExit(2)
    result = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "incidents" if args.incidents == 1_000_000 else f"incidents_{args.incidents}"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    (out / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))
    if shutil.which("pgrep") is None:
        print("note: pgrep is missing, so other work on the machine was not checked", file=sys.stderr)


if __name__ == "__main__":
    main()
