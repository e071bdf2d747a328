"""Migration 0008 upgrades a store of revision 0007: a stored single-district plan keeps working."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import pool, text
from sqlalchemy.engine import URL

from gis import migrations
from gis.cluster import DATABASE
from gis.incidents.store import IncidentWindow, grid_counts
from gis.plans import read_grids
from gis.plans.edits import check_plan
from gis.store import lookup
from gis.store.engine import create_engine

SQUARE = "ST_GeomFromText('MULTIPOLYGON((({x} 0, {x2} 0, {x2} 1, {x} 1, {x} 0)))', 4326)"


def _store_of_0007(url: URL) -> None:
    """A district with two units, one published plan of one grid, and an incident, as 0007 stored them."""
    engine = create_engine(url, poolclass=pool.NullPool)
    both = SQUARE.format(x=0, x2=2)
    with engine.begin() as conn:
        conn.execute(
            text(
                f"""
                INSERT INTO district (id, name, working_crs, boundary) OVERRIDING SYSTEM VALUE
                VALUES (1, 'old', 'EPSG:3857', {both});
                INSERT INTO community (id, district_id, community_id, name, geom) OVERRIDING SYSTEM VALUE
                VALUES (1, 1, 'c1', 'c1', {both});
                INSERT INTO unit (id, district_id, unit_id, community_id, households, population, geom)
                OVERRIDING SYSTEM VALUE VALUES
                    (1, 1, 'u1', 1, 150, 400, {SQUARE.format(x=0, x2=1)}),
                    (2, 1, 'u2', 1, 200, 700, {SQUARE.format(x=1, x2=2)});
                INSERT INTO grid_plan (id, district_id, name, status, valid_from) OVERRIDING SYSTEM VALUE
                VALUES (1, 1, 'p1', 'published', '2026-01-01T00:00:00Z');
                INSERT INTO grid (id, plan_id, code, community_id, households, population, n_units, status, geom)
                OVERRIDING SYSTEM VALUE VALUES (1, 1, 'G1', 1, 350, 1100, 2, 'ok', {both});
                INSERT INTO grid_assignment (plan_id, unit_id, grid_id) VALUES (1, 1, 1), (1, 2, 1);
                INSERT INTO incident (district_id, grid_id, category, handling_class, status, geom)
                VALUES (1, NULL, 'sanitation.garbage', 'general', 'new', ST_SetSRID(ST_MakePoint(0.5, 0.5), 4326));
                """
            )
        )
    engine.dispose()


def test_a_store_of_0007_upgrades_and_its_plan_keeps_working(create_database: Callable[..., URL]) -> None:
    url = create_database("city_upgrade", template=DATABASE)
    migrations.upgrade(url, "0007")
    _store_of_0007(url)
    migrations.upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        counts = conn.execute(
            text("SELECT unit_id, households, population FROM grid_assignment ORDER BY unit_id")
        ).all()
        assert [tuple(r) for r in counts] == [(1, 150, 400), (2, 200, 700)]
        assert [p.name for p in lookup.plans(conn)] == ["p1"]
        assert read_grids(conn).attrs["plan"] == "p1"
        assert check_plan(conn, 1)["valid"] is True
        # the incident stored without a grid finds it where its point lies
        assert grid_counts(conn, IncidentWindow(1))["incidents"].tolist() == [1]
    engine.dispose()
    migrations.downgrade(url, "0007")
    migrations.upgrade(url)
