"""Benchmark our vector-tile endpoint beside tipg, cache cold and warm, with wrk.

One throwaway PostGIS cluster (its own home under ``--work``) holds the Taipei plan of the
partition engine (``commgrid partition`` of ``../shared/data/taipei_min_stat_areas``, then
``commgrid load --publish``) and 1,000,000 seeded random incident points inside its grids,
written with ``COPY``. Our server (``commgrid serve --workers 1``) and tipg (``uvicorn
tipg.main:app``, one worker) run as separate processes on the same tables with the same pool
size, and wrk (from apt) drives each over a seeded shuffled list of the z12–z15 (or z14) tiles
that touch Taipei, with a Lua script that cycles through the list.

Per scenario (grids or incidents; z12–z15 or z14 only):

* **tipg**: one untimed pass over the list (it also warms PostgreSQL's buffers), then a timed
  run. tipg keeps no tiles, so this is its only state.
* **ours, cold**: a server started with ``COMMGRID_TILE_CACHE_MB=0``, so every request renders
  in PostGIS, as every tile does right after a data change; timed run.
* **ours, first pass**: a freshly started server with its cache (its pool opened first by an
  uncounted pass over other cache keys), each tile of the list asked once (wrk stops after
  as many answers as the list has tiles; requests beyond it go to tiles of the next zoom,
  also uncached, so every counted answer is a miss).
* **ours, warm**: the same server right after, every tile cached; timed run.

Results: ``bench/results/tiles.md`` and ``tiles.json`` (``tiles_quick.*`` with ``--quick``).
Everything started is stopped at the end and the cluster is deleted (``--keep`` keeps it).

Run ``.venv/bin/python bench/tiles_bench.py`` (``--help`` for options; ``--quick`` for a short
run of about three minutes). Needs wrk (``apt-get install wrk``) and tipg
(``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import benchkit  # bench/benchkit.py: the script's folder is on sys.path
import morecantile
import numpy as np
import pandas as pd
import psutil
import psycopg
import shapely

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "taipei_min_stat_areas"
OUT = REPO / "bench" / "results"
WORK = Path(tempfile.gettempdir()) / "commgrid-tiles-bench"
BIN = Path(sys.executable).parent
PLAN = "taipei-2017"
TMS = morecantile.tms.get("WebMercatorQuad")

# Incident attributes: a few values each, as a district's reports would have.
CATEGORIES = np.array(["noise", "sanitation", "road", "safety", "dispute", "facility"])
HANDLING = np.array(["on_site", "referral", "hotline"])
STATUSES = np.array(["reported", "assigned", "closed"])
YEAR_S = 365 * 86_400
START_S = 1_700_000_000  # 2023-11-14: reports spread over the year after it

# tipg reads the same tables through their WGS 84 column, as a deployment of it would, and
# returns the attributes our layers carry (grid: those of the table itself; ours also joins
# the community and the grid worker). Its tile buffer is set to ours (64 of 4096; its
# default is 256) so both cut the same tiles.
TIPG_PROPERTIES = {
    "grid": ["code", "name", "households", "population", "status", "geom"],
    "incident": ["id", "category", "handling_class", "status", "reported_at", "geom"],
}


@dataclass(frozen=True)
class Scenario:
    """One tile list, asked of both servers."""

    layer: str  # our collection id
    table: str  # the table tipg serves
    zooms: tuple[int, ...]
    private: bool  # needs the analyst role at ours

    @property
    def name(self) -> str:
        return (
            f"{self.layer} z{self.zooms[0]}–{self.zooms[-1]}"
            if len(self.zooms) > 1
            else f"{self.layer} z{self.zooms[0]}"
        )


SCENARIOS = (
    Scenario("grids", "grid", (12, 13, 14, 15), private=False),
    Scenario("grids", "grid", (14,), private=False),
    Scenario("incidents", "incident", (14,), private=True),
    Scenario("incidents", "incident", (12, 13, 14, 15), private=True),
)


@dataclass
class Run:
    """One wrk run against one server."""

    scenario: str
    server: str  # "tipg" | "ours"
    cache: str  # "none" (tipg) | "cold" | "first pass" | "warm"
    tiles: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # connect, read, write and timeout errors
    non_2xx: int
    mb_per_s: float
    background_cpu: float  # cores used by processes outside the benchmark during the run
    note: str = ""


@dataclass
class Setup:
    """What the benchmark's store holds."""

    url: str  # libpq URL with password
    sqlalchemy_url: str
    token: str  # an analyst's bearer token
    area: shapely.Geometry  # union of the plan's grids, WGS 84
    grids: int
    incidents: int
    postmaster: int | None
    seconds: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- prerequisites


def check_prerequisites(data: Path) -> str | None:
    """The first missing prerequisite, said with its fix, or ``None``."""
    if shutil.which("wrk") is None:
        return "wrk is not installed: apt-get install wrk"
    try:
        version("tipg")
    except PackageNotFoundError:
        return "tipg is not installed: .venv/bin/pip install -e '.[bench]'"
    if not (data / "taipei_min_stat_areas_2017.geojson").is_file():
        return f"the Taipei data is missing: no {data / 'taipei_min_stat_areas_2017.geojson'}; pass --data FOLDER"
    return None


# ---------------------------------------------------------------- the store


def commgrid(args: list[str], *, env: dict[str, str], log: Path) -> None:
    """Run the ``commgrid`` CLI of this environment, its output to ``log``; raise when it fails."""
    with log.open("a") as out:
        done = subprocess.run([str(BIN / "commgrid"), *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"commgrid {args[0]} failed with exit code {done.returncode}; see {log}")


def plan_file(data: Path, work: Path, env: dict[str, str]) -> tuple[Path, bool]:
    """The Taipei plan GeoPackage (the README's command), made once per work folder."""
    gpkg = work / "taipei.gpkg"
    if gpkg.is_file():
        return gpkg, True
    commgrid(
        [
            "partition",
            str(data / "taipei_min_stat_areas_2017.geojson"),
            *("--id", "CODEBASE", "--households", "H_CNT", "--population", "P_CNT", "--missing-counts", "zero"),
            *("--communities", str(data / "taipei_villages.geojson"), "--community-id", "CPTVID"),
            *("--community-name", "VNAME", "--crs", "EPSG:3826", "--out", str(gpkg)),
        ],
        env=env,
        log=work / "partition.log",
    )
    return gpkg, False


def random_points(area: shapely.Geometry, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniformly inside ``area`` (rejection sampling in its bounding box)."""
    shapely.prepare(area)
    minx, miny, maxx, maxy = area.bounds
    xs, ys, got = [], [], 0
    while got < n:
        x = rng.uniform(minx, maxx, n)
        y = rng.uniform(miny, maxy, n)
        inside = shapely.contains_xy(area, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        got += int(inside.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def incident_frame(area: shapely.Geometry, n: int, district_id: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` incidents at random points of ``area``, in the column order of the ``COPY``."""
    x, y = random_points(area, n, rng)
    return pd.DataFrame(
        {
            "district_id": district_id,
            "category": CATEGORIES[rng.integers(0, len(CATEGORIES), n)],
            "handling_class": HANDLING[rng.integers(0, len(HANDLING), n)],
            "status": STATUSES[rng.integers(0, len(STATUSES), n)],
            "reported_at": pd.to_datetime(START_S + rng.integers(0, YEAR_S, n), unit="s", utc=True),
            # the column is geometry(Point, 4326): PostGIS gives SRID-less input the column's SRID
            "geom": shapely.to_wkb(shapely.points(x, y), hex=True),
        }
    )


def copy_incidents(url: str, frame: pd.DataFrame) -> None:
    """Append ``frame`` to ``incident`` with one ``COPY`` (CSV in 1 MiB chunks)."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False)
    data = buf.getvalue().encode()
    columns = ", ".join(frame.columns)
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        cur.copy(f"COPY incident ({columns}) FROM STDIN (FORMAT csv)") as copy,
    ):
        for start in range(0, len(data), 1 << 20):
            copy.write(data[start : start + (1 << 20)])


def build_store(data: Path, work: Path, *, points: int, seed: int, log) -> tuple[Setup, object]:
    """Start a throwaway cluster under ``work`` and fill it; return what it holds and the cluster."""
    from gis.cluster import EmbeddedCluster
    from gis.store import begin, create_engine
    from gis.store.users import add_user

    home = work / "home"
    cluster = EmbeddedCluster(home, throwaway=True)
    cluster.remove()  # a previous run's data, if any: every run starts from the same state
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    cluster.start()
    sa_url = cluster.url()
    url = sa_url.set(drivername="postgresql").render_as_string(hide_password=False)
    sa = sa_url.render_as_string(hide_password=False)
    seconds["cluster"] = time.perf_counter() - t
    env = {**os.environ, "COMMGRID_HOME": str(home)}

    t = time.perf_counter()
    gpkg, reused = plan_file(data, work, env)
    seconds["partition"] = time.perf_counter() - t
    log(f"plan file {gpkg}" + (" (reused from an earlier run)" if reused else f" ({seconds['partition']:.0f} s)"))
    t = time.perf_counter()
    commgrid(
        ["load", str(gpkg), "--plan", PLAN, "--district", "taipei", "--publish", "--db", sa],
        env=env,
        log=work / "load.log",
    )
    seconds["load"] = time.perf_counter() - t

    with psycopg.connect(url) as conn:
        district_id, plan_id = conn.execute("SELECT district_id, id FROM grid_plan WHERE name = %s", (PLAN,)).fetchone()
        wkb, grids = conn.execute(
            "SELECT ST_AsBinary(ST_Union(geom)), count(*) FROM grid WHERE plan_id = %s", (plan_id,)
        ).fetchone()
    area = shapely.from_wkb(bytes(wkb))
    t = time.perf_counter()
    copy_incidents(url, incident_frame(area, points, district_id, np.random.default_rng(seed)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        incidents = conn.execute("SELECT count(*) FROM incident").fetchone()[0]
    seconds["incidents"] = time.perf_counter() - t
    log(f"{grids:,} grids and {incidents:,} incidents stored ({seconds['incidents']:.0f} s for the incidents)")

    engine = create_engine(sa)
    try:
        with begin(engine) as conn:
            token = add_user(conn, "bench-analyst", role="analyst")
    finally:
        engine.dispose()
    setup = Setup(url, sa, token, area, grids, incidents, cluster.status().pid, seconds)
    return setup, cluster


# ---------------------------------------------------------------- tile lists


def tile_list(area: shapely.Geometry, zooms: tuple[int, ...], rng: np.random.Generator) -> list[morecantile.Tile]:
    """The tiles at ``zooms`` that touch ``area``, in a seeded random order."""
    tiles = [
        t for t in TMS.tiles(*area.bounds, zooms=list(zooms)) if shapely.intersects(area, shapely.box(*TMS.bounds(t)))
    ]
    return [tiles[i] for i in rng.permutation(len(tiles))]


def our_path(layer: str, t: morecantile.Tile) -> str:
    return f"/collections/{layer}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"


def tipg_path(table: str, t: morecantile.Tile) -> str:
    # tipg orders the address {z}/{x}/{y}
    return f"/collections/public.{table}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}"


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    """A server process of the benchmark."""

    name: str
    port: int
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def wait_until_up(server: Server, path: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with code {server.process.returncode} while starting")
        with contextlib.suppress(OSError), urllib.request.urlopen(server.base + path, timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{server.name} did not answer {path} within {timeout:.0f} s")


@contextlib.contextmanager
def running(name: str, argv: list[str], env: dict[str, str], port: int, log: Path, ready: str) -> Iterator[Server]:
    """Start a server process and stop it (SIGTERM, then SIGKILL after 15 s) on leaving."""
    with log.open("a") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, port, process)
    try:
        wait_until_up(server, ready)
        yield server
    finally:
        benchkit.stop(process)


def ours(setup: Setup, work: Path, *, pool_size: int, cache_mb: int | None) -> contextlib.AbstractContextManager:
    port = benchkit.free_port()
    env = {
        **os.environ,
        "COMMGRID_HOME": str(work / "home"),
        "COMMGRID_POOL_SIZE": str(pool_size),
        # wrk sends every request from one address; the public rate limit would answer 429s
        "COMMGRID_RATE_LIMIT_PER_SECOND": "0",
    }
    if cache_mb is not None:
        env["COMMGRID_TILE_CACHE_MB"] = str(cache_mb)
    argv = [str(BIN / "commgrid"), "serve", "--db", setup.sqlalchemy_url, "--port", str(port), "--workers", "1"]
    name = "ours (cache off)" if cache_mb == 0 else "ours"
    return running(name, argv, env, port, work / "ours.log", "/conformance")


def tipg(setup: Setup, work: Path, *, pool_size: int, max_features: int) -> contextlib.AbstractContextManager:
    port = benchkit.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": setup.url,
        "TIPG_DEBUG": "false",
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": json.dumps([f"public.{t}" for t in TIPG_PROPERTIES]),
        "TIPG_DB_FUNCTIONS": "[]",
        "TIPG_DB_MIN_CONN_SIZE": "1",  # as our pool
        "TIPG_DB_MAX_CONN_SIZE": str(pool_size),
        "TIPG_MAX_FEATURES_PER_TILE": str(max_features),
        "TIPG_TILE_BUFFER": "64",
    }
    for table, props in TIPG_PROPERTIES.items():
        env[f"TIPG_TABLE_CONFIG__public_{table}__geomcol"] = "geom"
        env[f"TIPG_TABLE_CONFIG__public_{table}__properties"] = json.dumps(props)
    argv = [str(BIN / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    return running("tipg", argv, env, port, work / "tipg.log", "/healthz")


# ---------------------------------------------------------------- wrk

LUA_COMMON = """
-- written by bench/tiles_bench.py: cycle through a list of paths, report as JSON
local paths, reserve = {}, {}
local i = 0
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  if args[2] then for line in io.lines(args[2]) do reserve[#reserve + 1] = line end end
  marker = args[3]
  start_pass()
end

function start_pass() end

function request()
  i = i + 1
  if i > #paths and #reserve > 0 then
    return wrk.format("GET", reserve[(i - #paths - 1) % #reserve + 1])
  end
  return wrk.format("GET", paths[(i - 1) % #paths + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  local pass = threads[1]:get("pass_seconds") or -1
  io.write(string.format(
    'WRKJSON {"requests": %.0f, "duration_us": %.0f, "bytes": %.0f, "connect": %.0f, "read": %.0f, '
    .. '"write": %.0f, "status": %.0f, "timeout": %.0f, "p50": %.0f, "p90": %.0f, "p99": %.0f, "max": %.0f, '
    .. '"pass_seconds": %.6f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, pass))
end
"""

# One pass: stop at the answer that completes the list, time the pass with a monotonic clock
# (wrk's own duration runs until the benchmark interrupts it), and leave a marker file that
# tells the benchmark to interrupt wrk. Only this script reads answers: wrk copies every
# body into Lua when a response() exists, which would slow the timed runs.
LUA_ONE_PASS = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *out);
]]
local clock = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end
local answered, started = 0, nil

function start_pass()
  started = now()
end

function response(status, headers, body)
  answered = answered + 1
  if answered == #paths then
    pass_seconds = now() - started
    wrk.thread:stop()
    io.open(marker, "w"):close()
  end
end
"""


def _busy_cpu_seconds() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def _tree_cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            for q in [p, *p.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    c = q.cpu_times()
                    total += c.user + c.system
    return total


def background_cpu(pids: list[int], seconds: float = 1.0) -> float:
    """Cores used by processes other than ``pids`` (and their children) over ``seconds``."""
    busy, own = _busy_cpu_seconds(), _tree_cpu_seconds(pids)
    time.sleep(seconds)
    return max(0.0, (_busy_cpu_seconds() - busy) - (_tree_cpu_seconds(pids) - own)) / seconds


def wait_for_quiet(pids: list[int], *, limit: float, patience: float, log) -> float:
    """Wait (up to ``patience`` s) until other processes use under ``limit`` cores; return their use."""
    deadline = time.monotonic() + patience
    load = background_cpu(pids)
    while load > limit and time.monotonic() < deadline:
        log(f"  other processes use {load:.2f} cores; waiting for a quiet machine")
        time.sleep(5)
        load = background_cpu(pids)
    return load


@dataclass(frozen=True)
class Load:
    """How wrk drives a server."""

    connections: int
    duration: float
    work: Path
    own_pids: list[int]  # the cluster's postmaster: its backends are part of the benchmark
    quiet_limit: float
    patience: float


def wrk(
    server: Server,
    paths: list[str],
    load: Load,
    *,
    header: str | None,
    one_pass: bool = False,
    reserve: list[str] | None = None,
    log,
) -> dict:
    """Run wrk against ``server`` over ``paths``; its figures, plus the background CPU during the run.

    A timed run during which other processes took more than ``load.quiet_limit`` cores on
    average is run again (twice at most) once the machine is quiet; a pass cannot be
    repeated (it fills the cache), so its background is only recorded.
    """
    for attempt in range(3):
        figures = _wrk_once(server, paths, load, header=header, one_pass=one_pass, reserve=reserve, log=log)
        figures["attempts"] = attempt + 1
        if one_pass or figures["background_cpu"] <= load.quiet_limit:
            break
        log(f"  other processes took {figures['background_cpu']:.2f} cores during the run; running it again")
    return figures


def _wrk_once(
    server: Server,
    paths: list[str],
    load: Load,
    *,
    header: str | None,
    one_pass: bool,
    reserve: list[str] | None,
    log,
) -> dict:
    paths_file, reserve_file, marker = load.work / "paths.txt", load.work / "reserve.txt", load.work / "pass.done"
    paths_file.write_text("\n".join(paths) + "\n")
    reserve_file.write_text("\n".join(reserve or []) + "\n" if reserve else "")
    marker.unlink(missing_ok=True)
    script = load.work / ("one_pass.lua" if one_pass else "cycle.lua")
    script.write_text(LUA_COMMON + (LUA_ONE_PASS if one_pass else ""))
    # a pass ends when the benchmark interrupts wrk; its duration is only a cap
    duration = PASS_CAP_S if one_pass else load.duration
    argv = ["wrk", "-t1", f"-c{load.connections}", f"-d{duration:.0f}s", "--timeout", "30s", "-s", str(script)]
    if header:
        argv += ["-H", header]
    argv += [server.base, "--", str(paths_file), str(reserve_file), str(marker)]
    pids = [server.process.pid, *load.own_pids]
    quiet = wait_for_quiet(pids, limit=load.quiet_limit, patience=load.patience, log=log)
    busy, own = _busy_cpu_seconds(), _tree_cpu_seconds(pids)
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = _run_wrk(argv, marker if one_pass else None)
    child_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (child_after.ru_utime + child_after.ru_stime) - (child.ru_utime + child.ru_stime)
    used = (_busy_cpu_seconds() - busy) - (_tree_cpu_seconds(pids) - own) - wrk_cpu
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    figures = json.loads(line.removeprefix("WRKJSON "))
    seconds = figures["duration_us"] / 1e6
    if one_pass:
        if figures["pass_seconds"] < 0:
            raise RuntimeError(f"wrk did not finish the pass of {len(paths)} tiles within {PASS_CAP_S} s")
        # the pass: the list's answers over the time they took (wrk may count a few more
        # answers that arrived in the same event-loop turn; they are tiles of the reserve)
        seconds = figures["pass_seconds"]
        figures["requests"] = len(paths)
    figures["seconds"] = seconds
    figures["background_cpu"] = max(0.0, used) / seconds if seconds else 0.0
    figures["quiet_before"] = quiet
    return figures


PASS_CAP_S = 600


def _run_wrk(argv: list[str], marker: Path | None) -> subprocess.CompletedProcess:
    """Run wrk; with a ``marker``, interrupt it (SIGINT: it reports and exits) once the file appears."""
    if marker is None:
        return subprocess.run(argv, capture_output=True, text=True)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        while process.poll() is None and not marker.exists():
            time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def as_run(scenario: Scenario, server: str, cache: str, tiles: int, f: dict, note: str = "") -> Run:
    seconds = f["seconds"]
    return Run(
        scenario=scenario.name,
        server=server,
        cache=cache,
        tiles=tiles,
        requests=int(f["requests"]),
        seconds=round(seconds, 2),
        rps=round(f["requests"] / seconds, 1),
        p50_ms=round(f["p50"] / 1000, 2),
        p90_ms=round(f["p90"] / 1000, 2),
        p99_ms=round(f["p99"] / 1000, 2),
        max_ms=round(f["max"] / 1000, 2),
        errors=int(f["connect"] + f["read"] + f["write"] + f["timeout"]),
        non_2xx=int(f["status"]),
        mb_per_s=round(f["bytes"] / seconds / 2**20, 1),
        background_cpu=round(f["background_cpu"], 2),
        note=note + (f"; run {f['attempts']} times for a quiet machine" if f["attempts"] > 1 else ""),
    )


# ---------------------------------------------------------------- checks of the answers


def feature_count(server: Server, path: str, header: str | None) -> int | None:
    """Features in one tile (all layers), or ``None`` when mapbox-vector-tile is not installed."""
    try:
        import mapbox_vector_tile
    except ImportError:
        return None
    request = urllib.request.Request(server.base + path)
    if header:
        name, _, value = header.partition(": ")
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=60) as r:
        body = r.read()
    return sum(len(layer["features"]) for layer in mapbox_vector_tile.decode(body).values()) if body else 0


# ---------------------------------------------------------------- the scenarios


def run_scenario(
    scenario: Scenario,
    setup: Setup,
    servers: dict[str, Server],
    fresh_ours,
    load: Load,
    seed: int,
    log,
) -> tuple[list[Run], dict]:
    """Every run of one scenario: tipg, ours cold, ours first pass and warm (on a fresh server)."""
    rng = np.random.default_rng(seed)
    tiles = tile_list(setup.area, scenario.zooms, rng)
    # for the first pass: uncached tiles of the next zoom, asked only by requests past the list's end
    reserve = tile_list(setup.area, (scenario.zooms[-1] + 1,), rng)
    header = f"Authorization: Bearer {setup.token}" if scenario.private else None
    mine = [our_path(scenario.layer, t) for t in tiles]
    theirs = [tipg_path(scenario.table, t) for t in tiles]
    n = len(tiles)
    runs: list[Run] = []
    log(f"{scenario.name}: {n} tiles")

    # the z14 tile at the middle of the city: full of features in both layers
    middle = setup.area.representative_point()
    sample = TMS.tile(middle.x, middle.y, 14)
    check = {
        "tile": f"{sample.z}/{sample.y}/{sample.x}",
        "features_ours": feature_count(servers["cold"], our_path(scenario.layer, sample), header),
        "features_tipg": feature_count(servers["tipg"], tipg_path(scenario.table, sample), None),
    }

    log("  tipg: one pass untimed (warms PostgreSQL), then the timed run")
    wrk(servers["tipg"], theirs, load, header=None, one_pass=True, log=log)
    runs.append(as_run(scenario, "tipg", "none", n, wrk(servers["tipg"], theirs, load, header=None, log=log)))
    log(f"  tipg: {runs[-1].rps:,.0f} req/s, p99 {runs[-1].p99_ms:.0f} ms")

    f = wrk(servers["cold"], mine, load, header=header, log=log)
    runs.append(as_run(scenario, "ours", "cold", n, f, "cache off: every request renders"))
    log(f"  ours cold: {runs[-1].rps:,.0f} req/s, p99 {runs[-1].p99_ms:.0f} ms")

    with fresh_ours() as server:
        # Open the pool's connections first, as a running server has them: a pass over other
        # cache keys (the same tiles of the plan named explicitly), not counted.
        warmup = [f"{path}?plan={PLAN}" for path in mine[: 2 * load.connections]]
        wrk(server, warmup, load, header=header, one_pass=True, log=log)
        reserved = [our_path(scenario.layer, t) for t in reserve]
        f = wrk(server, mine, load, header=header, one_pass=True, reserve=reserved, log=log)
        runs.append(as_run(scenario, "ours", "first pass", n, f, "fresh server: each tile once"))
        log(f"  ours first pass: {runs[-1].rps:,.0f} req/s, p99 {runs[-1].p99_ms:.0f} ms")
        f = wrk(server, mine, load, header=header, log=log)
        runs.append(as_run(scenario, "ours", "warm", n, f, "every tile cached"))
        log(f"  ours warm: {runs[-1].rps:,.0f} req/s, p99 {runs[-1].p99_ms:.0f} ms")
    return runs, check


WARM_RPS = 3000
WARM_P99_MS = 20


def targets(runs: list[Run]) -> list[dict]:
    """The issue's targets per scenario: cold at least tipg's req/s; warm ≥ 3,000 req/s, p99 < 20 ms."""
    out = []
    for name in dict.fromkeys(r.scenario for r in runs):
        by = {(r.server, r.cache): r for r in runs if r.scenario == name}
        their, cold, warm = by[("tipg", "none")], by[("ours", "cold")], by[("ours", "warm")]
        out.append(
            {
                "scenario": name,
                "cold_vs_tipg": round(cold.rps / their.rps, 2),
                "cold_met": cold.rps >= their.rps,
                "warm_rps": warm.rps,
                "warm_p99_ms": warm.p99_ms,
                "warm_met": warm.rps >= WARM_RPS and warm.p99_ms < WARM_P99_MS,
            }
        )
    return out


# ---------------------------------------------------------------- output


def machine_info(args: argparse.Namespace, setup: Setup) -> dict:
    libs = {}
    for pkg in ("tipg", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "psycopg", "asyncpg"):
        try:
            libs[pkg] = version(pkg)
        except PackageNotFoundError:
            libs[pkg] = None
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
    with psycopg.connect(setup.url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        postgis = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit.stdout.strip() or None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "postgresql": pg,
        "postgis": postgis,
        "wrk": wrk_version[0] if wrk_version else None,
        "libraries": libs,
        "quick": args.quick,
        "seed": args.seed,
        "connections": args.connections,
        "duration_s": args.duration,
        "pool_size": args.pool_size,
        "max_features": args.max_features,
        "grids": setup.grids,
        "incidents": setup.incidents,
        "setup_seconds": {k: round(v, 1) for k, v in setup.seconds.items()},
    }


def to_markdown(info: dict, runs: list[Run], checks: list[dict], samples: dict) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in info["libraries"].items() if v)
    lines = [
        "# Tile benchmark" + (" (quick run)" if info["quick"] else ""),
        "",
        f"Run {info['date']} (commit {info['commit']}) on {info['platform']}, {info['cpu_count']} CPUs, "
        f"Python {info['python']}, PostgreSQL {info['postgresql']}, PostGIS {info['postgis']}, {info['wrk']}; "
        f"{libs}.",
        "",
        f"Store: {info['grids']:,} grid polygons of the Taipei plan and {info['incidents']:,} incident points. "
        f"Both servers: one worker process, a pool of {info['pool_size']} connections, at most "
        f"{info['max_features']:,} features per tile, access log on (uvicorn's default). wrk: one thread, "
        f"{info['connections']} connections, {info['duration_s']:g} s per timed run, cycling a seeded shuffled "
        "list of the tiles touching Taipei. *bg CPU*: cores used by other processes during the run.",
        "",
        "| scenario | tiles | server | cache | req/s | p50 ms | p99 ms | max ms | MB/s | errors | non-2xx | "
        "bg CPU | requests |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.scenario} | {r.tiles} | {r.server} | {r.cache} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
            f"{r.max_ms:.0f} | {r.mb_per_s:,.0f} | {r.errors} | {r.non_2xx} | {r.background_cpu:.2f} | "
            f"{r.requests:,} |"
        )
    lines += [
        "",
        "## Targets",
        "",
        f"Cold: our req/s at least tipg's on the same tiles. Warm: at least {WARM_RPS:,} req/s with p99 under "
        f"{WARM_P99_MS} ms.",
        "",
        "| scenario | cold ÷ tipg | cold met | warm req/s | warm p99 ms | warm met |",
        "|---|---|---|---|---|---|",
    ]
    for c in checks:
        lines.append(
            f"| {c['scenario']} | {c['cold_vs_tipg']:.2f} | {'yes' if c['cold_met'] else 'NO'} | "
            f"{c['warm_rps']:,.0f} | {c['warm_p99_ms']:.1f} | {'yes' if c['warm_met'] else 'NO'} |"
        )
    lines += [
        "",
        "## Same tile, both servers",
        "",
        "Features in the z14 tile at the middle of the city, as each server cuts it. Ours reads a buffer of "
        "64/4096 around the tile, tipg selects by the tile's own bounds; both stop at the feature limit.",
        "",
        "| layer | tile z/y/x | features ours | features tipg |",
        "|---|---|---|---|",
    ]
    for name, s in samples.items():
        lines.append(f"| {name} | {s['tile']} | {s['features_ours']} | {s['features_tipg']} |")
    return "\n".join(lines) + "\n"


def write_results(out: Path, stem: str, info: dict, runs: list[Run], checks: list[dict], samples: dict) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"{stem}.md", out / f"{stem}.json"
    md.write_text(to_markdown(info, runs, checks, samples), encoding="utf-8")
    payload = {**info, "runs": [asdict(r) for r in runs], "targets": checks, "same_tile": samples}
    js.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [md, js]


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Build the store, run every scenario against both servers, write the results, tear down."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"folder of the Taipei files (default {DATA})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"results folder (default {OUT})")
    parser.add_argument("--work", type=Path, default=WORK, help=f"scratch folder: cluster, logs (default {WORK})")
    parser.add_argument("--quick", action="store_true", help="5 s runs and 200,000 incidents (about 3 min)")
    parser.add_argument("--points", type=int, default=None, help="incident points (default 1,000,000)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per timed run (default 20)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--pool-size", type=int, default=10, help="database pool of each server (default 10)")
    parser.add_argument("--max-features", type=int, default=10_000, help="feature limit per tile (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the incidents and the tile order")
    parser.add_argument("--quiet-limit", type=float, default=0.25, help="wait while others use more cores than this")
    parser.add_argument("--patience", type=float, default=300, help="longest wait for a quiet machine, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the cluster and its data afterwards")
    args = parser.parse_args(argv)
    args.points = args.points or (200_000 if args.quick else 1_000_000)
    args.duration = args.duration or (5.0 if args.quick else 20.0)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    # a SIGTERM unwinds like an error, so the servers stop and the cluster goes
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    problem = check_prerequisites(args.data)
    if problem:
        print(f"tiles_bench: {problem}", file=sys.stderr)
        return 2
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    for name in ("ours.log", "tipg.log"):
        (work / name).unlink(missing_ok=True)

    setup, cluster = build_store(args.data, work, points=args.points, seed=args.seed, log=log)
    try:
        if args.max_features != 10_000:
            os.environ["COMMGRID_TILE_MAX_FEATURES"] = str(args.max_features)
        info = machine_info(args, setup)
        load = Load(args.connections, args.duration, work, [setup.postmaster or 0], args.quiet_limit, args.patience)
        runs: list[Run] = []
        samples: dict[str, dict] = {}
        with (
            tipg(setup, work, pool_size=args.pool_size, max_features=args.max_features) as their,
            ours(setup, work, pool_size=args.pool_size, cache_mb=0) as cold,
        ):
            servers = {"tipg": their, "cold": cold}
            for scenario in SCENARIOS:
                more, sample = run_scenario(
                    scenario,
                    setup,
                    servers,
                    lambda: ours(setup, work, pool_size=args.pool_size, cache_mb=None),
                    load,
                    args.seed,
                    log,
                )
                runs += more
                samples[scenario.layer] = sample
        checks = targets(runs)
        paths = write_results(args.out, "tiles_quick" if args.quick else "tiles", info, runs, checks, samples)
        print(to_markdown(info, runs, checks, samples))
        log("wrote " + " and ".join(str(p) for p in paths))
    finally:
        if args.keep:
            log(f"kept the cluster of {work / 'home'} (running)")
        else:
            cluster.remove()
            log("stopped and removed the benchmark cluster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
