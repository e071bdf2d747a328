"""Hardening load test (issue 22): poster renders and Open311 reads that once crashed or starved the service.

A bounded attack on a running ``commgrid serve`` (one worker process, on 127.0.0.1 only,
in an embedded PostGIS cluster of its own holding the seeded sample district, partitioned
and published, with 300 public incidents):

* **posters**: 30 clients for 45 s, each fetching ``/grids/{code}/poster.png`` with a random
  dpi from 36 to 300 over five grids (before issue 22, one run in three killed the process
  in PDFium);
* **open311 over the cap**: 20 clients for 45 s of ``GET /open311/v2/requests.json`` naming
  2,000 ids (over the cap: a 400 at once);
* **open311 at the cap**: 20 clients for 45 s naming 1,000 ids (one query each);
* **outage**: PostgreSQL stopped: what a cached tile, an uncached one, ``/healthz``, items
  and a contact answer, how fast, and how soon after PostgreSQL starts again all answer.

During each phase a watcher asks what other users ask (``/healthz``, one grid's public
contact, an items page) every half second and records how long each answer took; the
service passes when it is alive after every phase, no answer is ≥ 500 but the documented
503 (with Retry-After), and every watcher answer came within 5 s. Peak memory of the server
process is sampled. Results: ``bench/results/hardening.md`` and ``hardening.json``.

Run ``.venv/bin/python bench/hardening_bench.py`` (``--seconds`` shortens the phases).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import benchkit  # bench/benchkit.py: the script's folder is on sys.path
import httpx
import numpy as np
import psutil
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from data.sample import generate_district, sample_partition_inputs, write_district  # noqa: E402
from gis import clock, migrations  # noqa: E402
from gis.cluster import EmbeddedCluster  # noqa: E402
from gis.incidents import DEFAULT  # noqa: E402
from gis.incidents.store import create_incident  # noqa: E402
from gis.partition_inputs import PartitionOutputs, run_partition  # noqa: E402
from gis.plans.files import read_plan_file  # noqa: E402
from gis.plans.load import store_plan  # noqa: E402
from gis.store import begin, create_engine  # noqa: E402

OUT = REPO / "bench" / "results"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # never anything else: this is an attack, bounded to our own machine
WATCH_EVERY_S = 0.5
WATCH_LIMIT_S = 5.0
REQUEST_TIMEOUT_S = 60.0


def prepare(work: Path) -> tuple[EmbeddedCluster, str, list[str]]:
    """A throwaway cluster holding the published sample plan and 300 public incidents; the grid codes."""
    inputs = write_district(generate_district(seed=3, households=6_000), work / "sample")
    plan_inputs = sample_partition_inputs(inputs)
    files = run_partition(plan_inputs, PartitionOutputs(work / "plan" / "grids.gpkg"))
    cluster = EmbeddedCluster(work / "home", throwaway=True)
    cluster.start()
    url = cluster.url()
    migrations.upgrade(url)
    engine = create_engine(url)
    rng = np.random.default_rng(22)
    with begin(engine) as conn:
        store_plan(conn, read_plan_file(files.gpkg), plan="bench", district="sample", publish=True)
        codes = list(conn.execute(text("SELECT code FROM grid ORDER BY code")).scalars())
        points = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid) AS s")
        ).all()
        for i in range(300):
            lon, lat = points[i % len(points)]
            create_incident(
                conn,
                category="sanitation.garbage",
                lon=lon,
                lat=lat,
                actor="bench",
                taxonomy=DEFAULT,
                reported_at=clock.now() - timedelta(days=2, hours=float(rng.uniform(0, 500))),
                duplicate_metres=0,
            )
    engine.dispose()
    return cluster, url.render_as_string(hide_password=False), codes


@contextlib.contextmanager
def serving(db: str, work: Path) -> Iterator[tuple[str, psutil.Process]]:
    port = benchkit.free_port()
    env = {**os.environ, "COMMGRID_HOME": str(work / "home"), "COMMGRID_RATE_LIMIT_PER_SECOND": "0"}
    argv = [str(BIN / "commgrid"), "serve", "--db", db, "--host", HOST, "--port", str(port), "--workers", "1"]
    with (work / "serve.log").open("a") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"commgrid serve exited with {process.returncode}; see {work / 'serve.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        yield base, psutil.Process(process.pid)
    finally:
        benchkit.stop(process)


def _rss(server: psutil.Process) -> int:
    with contextlib.suppress(psutil.Error):
        return server.memory_info().rss + sum(c.memory_info().rss for c in server.children(recursive=True))
    return 0


def phase(
    base: str,
    server: psutil.Process,
    *,
    clients: int,
    seconds: float,
    request: Callable[[httpx.Client, random.Random], httpx.Response],
    watch: list[str],
) -> dict[str, Any]:
    """``clients`` threads sending ``request`` for ``seconds``, a watcher of ``watch``; what they saw."""
    stop = time.monotonic() + seconds
    statuses: collections.Counter[int] = collections.Counter()
    retry_after_missing = 0
    errors: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    watched: list[tuple[str, int, float]] = []
    peak = [_rss(server)]
    lock = threading.Lock()

    def attacker(seed: int) -> None:
        nonlocal retry_after_missing
        rng = random.Random(seed)
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    answer = request(client, rng)
                except httpx.HTTPError as exc:
                    with lock:
                        errors[type(exc).__name__] += 1
                    time.sleep(0.2)
                    continue
                with lock:
                    statuses[answer.status_code] += 1
                    latencies.append(time.perf_counter() - started)
                    if answer.status_code == 503 and "retry-after" not in answer.headers:
                        retry_after_missing += 1

    def watcher() -> None:
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
            i = 0
            while time.monotonic() < stop:
                path = watch[i % len(watch)]
                i += 1
                started = time.perf_counter()
                try:
                    status = client.get(path).status_code
                except httpx.HTTPError as exc:
                    status = -1
                    errors[f"watcher {type(exc).__name__}"] += 1
                watched.append((path, status, time.perf_counter() - started))
                peak[0] = max(peak[0], _rss(server))
                time.sleep(WATCH_EVERY_S)

    threads = [threading.Thread(target=attacker, args=(i,)) for i in range(clients)]
    threads.append(threading.Thread(target=watcher))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    alive = server.is_running() and server.status() != psutil.STATUS_ZOMBIE
    after = None
    with contextlib.suppress(httpx.HTTPError):
        started = time.perf_counter()
        code = httpx.get(base + "/healthz", timeout=REQUEST_TIMEOUT_S).status_code
        after = (code, round(time.perf_counter() - started, 3))
    waits = [w for _, _, w in watched]
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": sum(statuses.values()),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "client_errors": dict(errors),
        "503_without_retry_after": retry_after_missing,
        "attack_p50_s": round(float(np.percentile(latencies, 50)), 3) if latencies else None,
        "attack_p95_s": round(float(np.percentile(latencies, 95)), 3) if latencies else None,
        "watcher_requests": len(watched),
        "watcher_statuses": dict(collections.Counter(str(s) for _, s, _ in watched)),
        "watcher_max_s": round(max(waits), 3) if waits else None,
        "watcher_p95_s": round(float(np.percentile(waits, 95)), 3) if waits else None,
        "watcher_over_5s": sum(w > WATCH_LIMIT_S for w in waits),
        "server_alive": alive,
        "healthz_after": after,
        "peak_rss_mb": round(peak[0] / 2**20),
    }


def outage(base: str, cluster: EmbeddedCluster, code: str) -> dict[str, Any]:
    """Stop PostgreSQL under the service: what each kind of request answers and how fast; then recovery."""
    cached_tile = "/collections/grids/tiles/WebMercatorQuad/0/0/0"
    fresh_tile = "/collections/grids/tiles/WebMercatorQuad/1/0/0"
    asks = {
        "cached_tile": cached_tile,
        "uncached_tile": fresh_tile,
        "healthz": "/healthz",
        "items": "/collections/grids/items?limit=5",
        "contact": f"/public/contacts/{code}",
    }
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        client.get(cached_tile)  # cut once while the store is up
        out: dict[str, Any] = {"down": {}}
        cluster.stop()
        try:
            for name, path in asks.items():
                started = time.perf_counter()
                answer = client.get(path)
                out["down"][name] = {
                    "status": answer.status_code,
                    "seconds": round(time.perf_counter() - started, 3),
                    "retry_after": answer.headers.get("retry-after"),
                }
        finally:
            cluster.start()
        back = time.perf_counter()
        recovered = None
        while time.perf_counter() - back < 120:
            with contextlib.suppress(httpx.HTTPError):
                answers = [client.get(path).status_code for path in ("/healthz", "/collections/grids/items?limit=1")]
                if answers == [200, 200] and client.get(fresh_tile).status_code in (200, 204):
                    recovered = round(time.perf_counter() - back, 2)
                    break
            time.sleep(0.25)
        out["recovered_after_start_s"] = recovered
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="commgrid-hardening-"))
    cluster, db, codes = prepare(work)
    results: dict[str, Any] = {"machine": benchkit.machine(["commgrid", "pypdfium2", "weasyprint", "fastapi"])}
    try:
        with serving(db, work) as (base, server):
            posters = codes[:5]
            watch = ["/healthz", f"/public/contacts/{codes[7]}", "/collections/grids/items?limit=5"]

            def poster(client: httpx.Client, rng: random.Random) -> httpx.Response:
                dpi = rng.randint(36, 300)
                return client.get(f"/grids/{rng.choice(posters)}/poster.png", params={"dpi": dpi})

            many = ",".join(str(i) for i in range(1, 2_001))
            capped = ",".join(str(i) for i in range(1, 1_001))

            def open311(ids: str) -> Callable[[httpx.Client, random.Random], httpx.Response]:
                return lambda client, rng: client.get("/open311/v2/requests.json", params={"service_request_id": ids})

            for name, clients, request in [
                ("posters", 30, poster),
                ("open311_2000_ids", 20, open311(many)),
                ("open311_1000_ids", 20, open311(capped)),
            ]:
                print(f"{name}: {clients} clients for {args.seconds:.0f} s", flush=True)
                results[name] = phase(base, server, clients=clients, seconds=args.seconds, request=request, watch=watch)
                print(json.dumps(results[name]), flush=True)
            print("outage: PostgreSQL stopped under the service", flush=True)
            results["outage"] = outage(base, cluster, codes[7])
            print(json.dumps(results["outage"]), flush=True)
    finally:
        cluster.remove()
    checks = [results[p] for p in ("posters", "open311_2000_ids", "open311_1000_ids")]
    results["passed"] = all(
        r["server_alive"]
        and r["watcher_over_5s"] == 0
        and r["503_without_retry_after"] == 0
        and not any(int(s) >= 500 and s != "503" for s in r["statuses"])
        and all(int(s) < 500 for s in r["watcher_statuses"])
        for r in checks
    )
    return results


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Hardening load test (issue 22)",
        "",
        f"{m['date']}, {m['cpus']} CPUs, {m['memory_gb']} GB, load average before {m['load_average']}, "
        f"Python {m['python']}, {m['postgres']}; one `commgrid serve` worker process on 127.0.0.1.",
        "",
        "| phase | clients × s | requests | statuses | attack p50 / p95 s | watcher max / p95 s | watcher > 5 s "
        "| alive | /healthz after | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("posters", "open311_2000_ids", "open311_1000_ids"):
        p = r[name]
        lines.append(
            f"| {name} | {p['clients']} × {p['seconds']:.0f} | {p['requests']:,} | {p['statuses']} "
            f"| {p['attack_p50_s']} / {p['attack_p95_s']} | {p['watcher_max_s']} / {p['watcher_p95_s']} "
            f"| {p['watcher_over_5s']} of {p['watcher_requests']} | {p['server_alive']} | {p['healthz_after']} "
            f"| {p['peak_rss_mb']} |"
        )
    lines += ["", f"Passed (alive, no 5xx but 503 with Retry-After, every watcher answer within 5 s): {r['passed']}."]
    down = r["outage"]["down"]
    lines += [
        "",
        "PostgreSQL stopped under the service (`COMMGRID_POOL_TIMEOUT` 10 s):",
        "",
        "| request | status | seconds | Retry-After |",
        "| --- | --- | --- | --- |",
        *(f"| {k} | {v['status']} | {v['seconds']} | {v['retry_after'] or ''} |" for k, v in down.items()),
        "",
        f"Answering again {r['outage']['recovered_after_start_s']} s after PostgreSQL started.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each phase (default 45)")
    args = parser.parse_args()
    results = run(args)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "hardening.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (OUT / "hardening.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
