"""One rule decides which community a grid (and the worker posted to it) belongs to.

The reach of a community's staff (:func:`gis.store.scope.community_grids`), a worker's home
(:func:`gis.worklog.store.worker_home`) and the patrol reports (:func:`gis.patrols.reports.read_compliance`)
must agree, also when two plans hold the code equally (neither published, no validity): the
newest plan decides.
"""

from __future__ import annotations

from datetime import date

import shapely
from sqlalchemy import text

from gis.patrols.reports import read_compliance
from gis.store.scope import community_grids
from gis.worklog.store import worker_home
from tests.gis.patrols import tiny


def _plan_with_grid(conn, district_id: int, name: str, community_pk: int) -> int:
    plan = conn.execute(
        text("INSERT INTO grid_plan (district_id, name, status) VALUES (:d, :n, 'archived') RETURNING id"),
        {"d": district_id, "n": name},
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO grid (plan_id, code, community_id, households, population, n_units, status, geom) "
            "VALUES (:p, 'Z', :c, 400, 1200, 1, 'ok', ST_Multi(ST_GeomFromText(:g, 4326)))"
        ),
        {"p": plan, "c": community_pk, "g": tiny.geometry(shapely.box(0, 0, 400, 400)).wkt},
    )
    return plan


def test_a_tie_between_plans_goes_to_the_newest_everywhere(db_conn):
    ids = tiny.make_district(db_conn)
    did = ids["district"]
    other = tiny.second_community(db_conn, ids)
    # grid Z is in no published plan; two archived plans without validity hold it: the older
    # in community C1, the newer in C2
    older = _plan_with_grid(db_conn, did, "tiny-old", ids["community"])
    newer = _plan_with_grid(db_conn, did, "tiny-new", other)
    assert newer > older
    db_conn.execute(text("UPDATE grid_worker SET grid_code = 'Z' WHERE id = :w"), {"w": ids["worker_none"]})

    assert worker_home(db_conn, ids["worker_none"]).community == "C2"
    assert (did, "Z") in community_grids(db_conn, {(did, "C2")})
    assert (did, "Z") not in community_grids(db_conn, {(did, "C1")})
    rows = read_compliance(db_conn, district_id=did, day=date(2026, 11, 2)).set_index("worker_id")
    assert rows.loc[ids["worker_none"], "community"] == "C2"
    assert list(read_compliance(db_conn, district_id=did, day=date(2026, 11, 2), community="C2")["grid_code"]) == ["Z"]
