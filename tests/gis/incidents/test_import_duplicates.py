"""Bulk imports mark near-duplicates set-wise, by the very rule of a single intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import text

from gis.incidents.store import copy_incidents, create_incident
from tests.gis.patrols import tiny

NOON = datetime(2026, 11, 2, 4, tzinfo=UTC)


def batch(n: int = 240, seed: int = 5) -> pd.DataFrame:
    """``n`` incidents crowded into 150 m x 120 m over three days: many within 50 m and 24 h of another."""
    rng = np.random.default_rng(seed)
    lonlat = tiny.lonlat(np.c_[rng.uniform(100, 250, n), rng.uniform(100, 220, n)])
    category = np.where(rng.random(n) < 0.7, "sanitation.garbage", "sanitation.pests")
    hours = np.round(rng.uniform(0, 72, n), 1)  # tenths of an hour: some incidents share their time
    return pd.DataFrame(
        {
            "category": category,
            "handling_class": "on_site",
            "status": np.where(rng.random(n) < 0.1, "invalid", "reported"),
            "reported_at": [NOON + timedelta(hours=float(h)) for h in hours],
            "lon": lonlat[:, 0],
            "lat": lonlat[:, 1],
            "description": None,
            "public": True,
        }
    )


def marks(conn) -> dict[tuple, tuple | None]:
    """Incident (time, category, point) -> the one it may repeat, as (time, category, point)."""
    rows = conn.execute(
        text(
            "SELECT i.reported_at, i.category, round(ST_X(i.geom)::numeric, 9), round(ST_Y(i.geom)::numeric, 9), "
            "o.reported_at, o.category, round(ST_X(o.geom)::numeric, 9), round(ST_Y(o.geom)::numeric, 9) "
            "FROM incident AS i LEFT JOIN incident AS o ON o.id = i.duplicate_of WHERE i.source <> 'earlier'"
        )
    ).all()
    return {tuple(r[:4]): (None if r[4] is None else tuple(r[4:])) for r in rows}


def test_an_import_marks_what_intake_one_by_one_would(db_conn):
    tiny.make_district(db_conn)
    lon, lat = tiny.lonlat([(120, 120)])[0]
    # an incident stored before the import: the batch's first ones may repeat it
    create_incident(db_conn, category="sanitation.garbage", lon=lon, lat=lat, actor="x", source="earlier",
                    reported_at=NOON - timedelta(hours=1))  # fmt: skip
    frame = batch()
    with db_conn.begin_nested() as one_by_one:
        ordered = frame.sort_values("reported_at", kind="stable")
        for row in ordered.itertuples():
            new = create_incident(db_conn, category=row.category, lon=row.lon, lat=row.lat, actor="x",
                                  reported_at=row.reported_at, source="api")  # fmt: skip
            db_conn.execute(text("UPDATE incident SET status = :s WHERE id = :i"), {"s": row.status, "i": new})
        expected = marks(db_conn)
        one_by_one.rollback()
    result = copy_incidents(db_conn, frame, actor="import", source="import:t.csv")
    got = marks(db_conn)
    assert sum(v is not None for v in expected.values()) > 50  # the case is not vacuous
    assert got == expected
    assert result.duplicates == sum(v is not None for v in got.values())
    assert f"{result.duplicates} marked as possible duplicates" in result.summary()


def test_a_zero_window_marks_nothing(db_conn):
    tiny.make_district(db_conn)
    result = copy_incidents(db_conn, batch(40), actor="import", source="import:t.csv", duplicate_metres=0)
    assert result.duplicates == 0 and result.stored == 40
    assert db_conn.execute(text("SELECT count(duplicate_of) FROM incident")).scalar_one() == 0
