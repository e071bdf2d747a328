"""The stored density bins: kept exact by the triggers, the same cells as the tile code, the same tiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
from sqlalchemy import text

from gis.errors import InputError
from gis.hexagons import hex_cells
from gis.incidents.store import create_incident, transition
from tests.gis.patrols import tiny
from tiles.density import LEVELS, WORLD, DensityQuery, Part, WindowCounts, plan_parts, tile_params, tile_sql

TMS = morecantile.tms.get("WebMercatorQuad")
NOW = datetime(2026, 11, 20, tzinfo=UTC)
CATEGORIES = np.array(["sanitation.garbage", "sanitation.pests", "dispute.family", "street_order.parking"])
STATUSES = np.array(["reported", "accepted", "closed"])


@pytest.fixture
def scattered(db_conn):
    """300 incidents of the tiny district written straight into the table, around it and across the world.

    Straight INSERTs, as any writer might make them: the triggers, not the store code, keep the bins.
    """
    district = tiny.make_district(db_conn)["district"]
    rng = np.random.default_rng(4)
    near = tiny.lonlat(rng.uniform(-2000, 3000, (240, 2)))
    far = np.c_[rng.uniform(-179, 179, 60), rng.uniform(-80, 80, 60)]  # both signs of every coordinate
    lonlat = np.vstack([near, far])
    rows = [
        {
            "d": district,
            "c": str(CATEGORIES[k % 4]),
            "s": str(STATUSES[k % 3]),
            "p": bool(k % 2),
            "t": NOW - timedelta(hours=float(rng.uniform(0, 24 * 40))),
            "x": float(lon),
            "y": float(lat),
        }
        for k, (lon, lat) in enumerate(lonlat)
    ]
    db_conn.execute(
        text(
            "INSERT INTO incident (district_id, category, handling_class, status, reported_at, public, geom) "
            "VALUES (:d, :c, 'on_site', :s, :t, :p, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
        ),
        rows,
    )
    return district


def stored_bins(conn) -> dict[tuple, int]:
    rows = conn.execute(text("SELECT shape, level, i, j, category, status, public, n FROM incident_bin")).all()
    return {tuple(r[:7]): r[7] for r in rows}


def expected_bins(conn) -> dict[tuple, int]:
    """The bins computed here, with numpy, from the incidents' Web Mercator points."""
    rows = conn.execute(text("SELECT ST_X(geom_3857), ST_Y(geom_3857), category, status, public FROM incident")).all()
    x, y = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    out: dict[tuple, int] = {}
    for level in LEVELS:
        size = WORLD / 2**level
        q, r = hex_cells(x, y, size=size)  # the cube rounding of gis.hexagons: the same lattice
        squares = np.floor(x / size).astype(int), np.floor(y / size).astype(int)
        for shape, (i, j) in (("hex", (q, r)), ("square", squares)):
            for k, row in enumerate(rows):
                key = (shape, level, int(i[k]), int(j[k]), row[2], row[3], row[4])
                out[key] = out.get(key, 0) + 1
    return out


def test_the_triggers_count_every_incident_in_its_cell_of_every_level(db_conn, scattered):
    assert stored_bins(db_conn) == expected_bins(db_conn)
    levels = db_conn.execute(text("SELECT DISTINCT level FROM incident_bin ORDER BY 1")).scalars().all()
    assert levels == list(LEVELS)  # tiles.density.LEVELS is what migration 0007 keeps
    days = dict(db_conn.execute(text("SELECT day, n FROM incident_day")).all())
    assert sum(days.values()) == 300 and min(days) >= (NOW - timedelta(days=41)).date()


def test_updates_deletes_and_truncates_follow(db_conn, scattered):
    db_conn.execute(text("UPDATE incident SET status = 'closed' WHERE status = 'reported'"))
    db_conn.execute(text("UPDATE incident SET duplicate_of = NULL"))  # no field the bins hold: nothing moves
    db_conn.execute(text("UPDATE incident SET geom = ST_Translate(geom, 0.01, 0) WHERE category = 'dispute.family'"))
    db_conn.execute(text("DELETE FROM incident WHERE category = 'sanitation.pests'"))
    assert stored_bins(db_conn) == expected_bins(db_conn)
    assert db_conn.execute(text("SELECT count(*) FROM incident_bin WHERE n <= 0")).scalar_one() == 0
    assert db_conn.execute(text("SELECT sum(n) FROM incident_day")).scalar_one() == 225
    db_conn.execute(text("TRUNCATE incident CASCADE"))
    assert db_conn.execute(text("SELECT count(*) FROM incident_bin")).scalar_one() == 0


def test_a_transition_moves_the_incident_to_its_new_status_bins(db_conn):
    tiny.make_district(db_conn)
    lon, lat = tiny.lonlat([(100, 100)])[0]
    new = create_incident(db_conn, category="dispute.family", lon=lon, lat=lat, actor="clerk")
    transition(db_conn, new, to="accepted", actor="chief")
    statuses = db_conn.execute(text("SELECT DISTINCT status, n FROM incident_bin")).all()
    assert statuses == [("accepted", 1)]


def tile_counts(conn, query: DensityQuery, tile, parts: list[Part]) -> list[int]:
    sql = tile_sql(query.shape, query.level(tile.z), parts)
    body = conn.exec_driver_sql(sql, tile_params(query, tile, parts)).scalar_one()
    features = mapbox_vector_tile.decode(bytes(body)).get("incident_density", {}).get("features", []) if body else []
    return sorted(f["properties"]["count"] for f in features)


@pytest.mark.parametrize("shape", ["hex", "square"])
@pytest.mark.parametrize("cells", [4, 16])
def test_tiles_from_the_bins_equal_tiles_counted_point_by_point(db_conn, scattered, shape, cells):
    centre = tiny.lonlat([(400, 200)])[0]
    for z in (11, 12, 13):
        tile = TMS.tile(*centre, z)
        query = DensityQuery(shape=shape, cells=cells)
        assert plan_parts(query, z) == [Part("bins")]
        counted = tile_counts(db_conn, query, tile, [Part("incidents")])
        assert sum(counted) > 0 and tile_counts(db_conn, query, tile, [Part("bins")]) == counted
    filtered = DensityQuery(shape=shape, cells=cells, category="sanitation", statuses=("closed", "reported"))
    tile = TMS.tile(*centre, 12)
    assert tile_counts(db_conn, filtered, tile, [Part("bins")]) == tile_counts(
        db_conn, filtered, tile, [Part("incidents")]
    )


def test_a_window_is_the_bins_minus_the_incidents_outside_it(db_conn, scattered):
    tile = TMS.tile(*tiny.lonlat([(400, 200)])[0], 12)
    cutoff = NOW - timedelta(days=3)
    public = DensityQuery(cells=4, end=cutoff, public=("sanitation.garbage", "street_order.parking"), min_count=3)
    parts = plan_parts(public, 12, WindowCounts(before=0, inside=280, after=20))
    assert parts == [Part("bins"), Part("incidents", -1, cutoff, None, by_time=True)]
    shown = tile_counts(db_conn, public, tile, parts)
    assert shown and min(shown) >= 3
    assert shown == tile_counts(db_conn, public, tile, [Part("incidents", 1, None, cutoff)])
    window = DensityQuery(cells=4, start=NOW - timedelta(days=30), end=NOW - timedelta(days=2))
    subtracted = plan_parts(window, 12, WindowCounts(before=10, inside=260, after=30))
    assert len(subtracted) == 3
    expected = tile_counts(db_conn, window, tile, [Part("incidents", 1, window.start, window.end)])
    assert tile_counts(db_conn, window, tile, subtracted) == expected
    by_box = [Part("bins"), *(Part(p.source, p.sign, p.start, p.end, by_time=False) for p in subtracted[1:])]
    assert tile_counts(db_conn, window, tile, by_box) == expected


def test_small_windows_and_fine_levels_count_the_incidents():
    week = DensityQuery(start=NOW - timedelta(days=7))
    assert plan_parts(week, 12, WindowCounts(290, 10, 0)) == [Part("incidents", 1, week.start, None, by_time=True)]
    assert plan_parts(DensityQuery(cells=64), 12) == [Part("incidents")]  # level 18 is not stored
    # a long window at a fine level: all incidents of the tile, found by its box
    year = DensityQuery(start=NOW - timedelta(days=365))
    assert plan_parts(year, 15, WindowCounts(0, 900_000, 0)) == [Part("incidents", 1, year.start, None)]


def test_bad_queries_say_what_is_expected():
    with pytest.raises(InputError, match=r"cells=10: expected one of \[4, 8, 16, 32, 64\]"):
        DensityQuery(cells=10)
    with pytest.raises(InputError, match="unknown bin shape 'round'"):
        DensityQuery(shape="round")
    with pytest.raises(InputError, match=r"ends .* before it starts"):
        DensityQuery(start=NOW, end=NOW - timedelta(days=1))


def test_concurrent_writers_keep_the_bins_exact(create_database):
    """Two sessions report and move incidents in the same cells at once: no deadlock, no lost count."""
    from concurrent.futures import ThreadPoolExecutor

    from gis import migrations
    from gis.cluster import DATABASE
    from gis.store import begin, create_engine

    url = create_database("bins_concurrency", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    with begin(engine) as conn:
        tiny.make_district(conn)
    spots = tiny.lonlat([(100, 100), (120, 110), (600, 300)])

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(15):
            with begin(engine) as conn:  # one transaction each: report two, move one, in varying order
                made = [
                    create_incident(conn, category=str(rng.choice(CATEGORIES[:2])), lon=lon, lat=lat, actor="w")
                    for lon, lat in spots[rng.permutation(3)[:2]]
                ]
                transition(conn, made[0], to="invalid", actor="w")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(work, [1, 2]))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == 60
        assert stored_bins(conn) == expected_bins(conn)
    engine.dispose()
