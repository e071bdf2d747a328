"""A tiny hand-drawn district with two grids and walks through them, for patrol tests.

Metres in UTM 50N (EPSG:32650), from an origin near Shenzhen; everything is stored in
EPSG:4326::

    y=400 +-----------+-----------+
          |  grid A   |  grid B   |     streets: every 100 m both ways (minor)
          |  worker 1 |  worker 2 |     river:   along y = 390 (hard, not a street)
    y=0   +-----------+-----------+
         x=0        x=400       x=800

Worker 1 walks A's inner block ring (x, y in 100..300) and worker 2 B's; worker 3 has
no grid. Days are counted in Asia/Shanghai.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyproj
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis import clock

CRS = "EPSG:32650"
ORIGIN = (200_000.0, 2_495_000.0)  # UTM 50N metres, about 114.08 E 22.55 N
ZONE = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 11, 2, tzinfo=ZONE)
_to_4326 = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)


def lonlat(xy: np.ndarray) -> np.ndarray:
    """Local metres → (lon, lat)."""
    xy = np.atleast_2d(np.asarray(xy, dtype=float))
    lon, lat = _to_4326.transform(xy[:, 0] + ORIGIN[0], xy[:, 1] + ORIGIN[1])
    return np.c_[lon, lat]


def geometry(geom: shapely.Geometry) -> shapely.Geometry:
    """A geometry in local metres → EPSG:4326."""
    return shapely.transform(geom, lambda xy: lonlat(xy))


def ring(x0: float, y0: float, size: float = 200.0) -> np.ndarray:
    """A closed square walk with its lower left corner at (x0, y0)."""
    return np.array([[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]])


def walk(
    route: np.ndarray,
    start: datetime,
    minutes: float,
    *,
    worker: int | str | None = 1,
    speed: float = 1.2,
    every_s: float = 10.0,
    device: str | None = None,
) -> pd.DataFrame:
    """Fixes every ``every_s`` seconds walking ``route`` (repeated) at ``speed`` m/s for ``minutes``."""
    line = shapely.LineString(route)
    t = np.arange(0.0, minutes * 60.0 + 1e-9, every_s)
    along = (t * speed) % line.length
    xy = shapely.get_coordinates(shapely.line_interpolate_point(line, along))
    ll = lonlat(xy)
    return pd.DataFrame(
        {
            "worker": None if worker is None else str(worker),
            "device": device,
            "recorded_at": pd.Timestamp(start).tz_convert("UTC") + pd.to_timedelta(t, unit="s"),
            "lon": ll[:, 0],
            "lat": ll[:, 1],
        }
    )


def stay(xy: tuple[float, float], start: datetime, minutes: float, *, worker: int | str = 1) -> pd.DataFrame:
    """Fixes every 10 s standing at ``xy`` with a metre or two of jitter."""
    n = int(minutes * 6) + 1
    jitter = np.random.default_rng(0).normal(0.0, 1.5, (n, 2))
    ll = lonlat(np.asarray(xy) + jitter)
    return pd.DataFrame(
        {
            "worker": str(worker),
            "device": None,
            "recorded_at": pd.Timestamp(start).tz_convert("UTC") + pd.to_timedelta(np.arange(n) * 10.0, unit="s"),
            "lon": ll[:, 0],
            "lat": ll[:, 1],
        }
    )


def at(hour: float, day: datetime = DAY) -> datetime:
    """A local time on ``day``."""
    return day.replace(hour=int(hour), minute=round((hour % 1) * 60))


def make_district(conn: Connection, *, name: str = "tiny", timezone: str | None = "Asia/Shanghai") -> dict[str, int]:
    """Store the district, a published plan with grids A and B, streets, a river, workers 1-3 and the rule.

    Returns ids: ``district``, ``community``, ``worker_a``, ``worker_b``, ``worker_none``.
    """
    boundary = geometry(shapely.box(0, 0, 800, 400))
    did = conn.execute(
        text(
            "INSERT INTO district (name, working_crs, boundary) "
            "VALUES (:n, :c, ST_Multi(ST_GeomFromText(:b, 4326))) RETURNING id"
        ),
        {"n": name, "c": CRS, "b": boundary.wkt},
    ).scalar_one()
    cid = conn.execute(
        text(
            "INSERT INTO community (district_id, community_id, name, geom) "
            "VALUES (:d, 'C1', '一社区', ST_Multi(ST_GeomFromText(:g, 4326))) RETURNING id"
        ),
        {"d": did, "g": boundary.wkt},
    ).scalar_one()
    plan = conn.execute(
        text(
            "INSERT INTO grid_plan (district_id, name, status, valid_from) "
            "VALUES (:d, :n, 'published', :t) RETURNING id"
        ),
        {"d": did, "n": f"{name}-v1", "t": clock.now()},
    ).scalar_one()
    for code, x0 in (("A", 0), ("B", 400)):
        conn.execute(
            text(
                "INSERT INTO grid (plan_id, code, community_id, households, population, n_units, status, geom) "
                "VALUES (:p, :c, :cid, 400, 1200, 1, 'ok', ST_Multi(ST_GeomFromText(:g, 4326)))"
            ),
            {"p": plan, "c": code, "cid": cid, "g": geometry(shapely.box(x0, 0, x0 + 400, 400)).wkt},
        )
    lines = [shapely.LineString([(x, 0), (x, 400)]) for x in range(0, 801, 100)]
    lines += [shapely.LineString([(0, y), (800, y)]) for y in range(0, 401, 100)]
    for line in lines:
        conn.execute(
            text(
                "INSERT INTO barrier (district_id, barrier_class, hard, geom) "
                "VALUES (:d, 'minor', false, ST_GeomFromText(:g, 4326))"
            ),
            {"d": did, "g": geometry(line).wkt},
        )
    conn.execute(
        text(
            "INSERT INTO barrier (district_id, barrier_class, hard, geom) "
            "VALUES (:d, 'river', true, ST_GeomFromText(:g, 4326))"
        ),
        {"d": did, "g": geometry(shapely.LineString([(0, 390), (800, 390)])).wkt},
    )
    ids = {"district": did, "community": cid}
    for key, code, person in (("worker_a", "A", "甲"), ("worker_b", "B", "乙"), ("worker_none", None, "丙")):
        ids[key] = conn.execute(
            text(
                "INSERT INTO grid_worker (district_id, grid_code, name, work_phone) "
                "VALUES (:d, :c, :n, '0755-1234 5678') RETURNING id"
            ),
            {"d": did, "c": code, "n": person},
        ).scalar_one()
    if timezone is not None:
        conn.execute(text("INSERT INTO patrol_rule (district_id, timezone) VALUES (:d, :z)"), {"d": did, "z": timezone})
    return ids


def second_community(conn: Connection, ids: dict[str, int]) -> int:
    """Add community C2 (二社区) over the same area as C1, holding no grid; return its row id."""
    return conn.execute(
        text(
            "INSERT INTO community (district_id, community_id, name, geom) "
            "SELECT district_id, 'C2', '二社区', geom FROM community WHERE id = :c RETURNING id"
        ),
        {"c": ids["community"]},
    ).scalar_one()


def a_day(ids: dict[str, int]) -> pd.DataFrame:
    """Worker A keeps the rule (two walks of 70 and 65 min, a 40 min stop in between); B walks once."""
    a, b = ids["worker_a"], ids["worker_b"]
    return pd.concat(
        [
            walk(ring(100, 100), at(9), 70, worker=a),
            stay((150, 150), at(11), 40, worker=a),
            walk(ring(100, 100), at(14), 65, worker=a),
            walk(ring(500, 100), at(9), 40, worker=b),
        ],
        ignore_index=True,
    ).assign(row=lambda f: np.arange(len(f)))
