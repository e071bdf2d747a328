"""Patrols in the store: COPY import, analysis of stored days, devices, rules, purge, reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from gis.errors import InputError, NotFoundError
from gis.patrols.readers import read_tracks
from gis.patrols.reports import (
    add_supervisor,
    list_supervisors,
    read_calendar,
    read_compliance,
    remove_supervisor,
    supervised_grids,
    weekly_report,
)
from gis.patrols.reports import (
    read_tracks as read_track_features,
)
from gis.patrols.store import (
    add_device,
    analyse_days,
    import_fixes,
    list_devices,
    purge,
    read_fixes,
    read_rule,
    set_rule,
)
from gis.store.users import add_user
from tests.gis.patrols import tiny
from tests.gis.patrols.conftest import TAINAN

DAY = date(2026, 11, 2)


def count(conn, table: str) -> int:
    return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.fixture
def district(db_conn):
    return tiny.make_district(db_conn)


def test_import_stores_fixes_and_the_days_analysis(db_conn, district):
    before = db_conn.execute(text("SELECT version FROM data_version WHERE layer = 'patrols'")).scalar_one()
    result = import_fixes(db_conn, tiny.a_day(district), file="day.csv")
    assert result.stored == result.report.kept == count(db_conn, "patrol_point") == 1294
    assert result.days == ["2026-11-02"] and (result.analysed, result.compliant) == (2, 1)
    assert count(db_conn, "patrol_track") == 3 and count(db_conn, "patrol_visit") == 3
    after = db_conn.execute(text("SELECT version FROM data_version WHERE layer = 'patrols'")).scalar_one()
    assert after > before  # tiles of the patrols layer are cut again
    stored = read_fixes(db_conn, [district["worker_a"]], tiny.at(0), tiny.at(23))
    assert len(stored) == 1294 - 241 and stored["recorded_at"].min() == pd.Timestamp("2026-11-02T01:00:00Z")


def test_a_second_import_of_the_day_replaces_its_analysis(db_conn, district):
    a = district["worker_a"]
    import_fixes(db_conn, tiny.walk(tiny.ring(100, 100), tiny.at(9), 70, worker=a))
    assert (
        not read_compliance(db_conn, district_id=district["district"], day=DAY)
        .set_index("worker_id")
        .loc[a, "compliant"]
    )
    import_fixes(db_conn, tiny.walk(tiny.ring(100, 100), tiny.at(15), 65, worker=a))
    rows = read_compliance(db_conn, district_id=district["district"], day=DAY).set_index("worker_id")
    assert rows.loc[a, "compliant"] and rows.loc[a, "long_visits"] == 2
    assert count(db_conn, "patrol_compliance") == 1 and count(db_conn, "patrol_track") == 2


def test_devices_name_the_worker(db_conn, district):
    fixes = tiny.walk(tiny.ring(500, 100), tiny.at(9), 10, worker=None, device="phone-b")
    with pytest.raises(InputError, match=r"feature 0, id phone-b, field 'device': .*devices add DEVICE --worker"):
        import_fixes(db_conn, fixes, file="b.csv")
    assert count(db_conn, "patrol_point") == 0  # nothing written
    add_device(db_conn, "phone-b", district["worker_b"])
    assert list_devices(db_conn) == [("phone-b", district["worker_b"])]
    assert import_fixes(db_conn, fixes, file="b.csv").workers == [district["worker_b"]]


def test_unknown_workers_and_missing_rules_refuse_the_import(db_conn, district):
    with pytest.raises(InputError, match=r"feature 0, id 999, field 'worker_id': worker id\(s\) \[999\]"):
        import_fixes(db_conn, tiny.walk(tiny.ring(0, 0), tiny.at(9), 5, worker=999))
    other = tiny.make_district(db_conn, name="no-rule", timezone=None)
    with pytest.raises(InputError, match=r"district 'no-rule' has no patrol rule yet.*--timezone"):
        import_fixes(db_conn, tiny.walk(tiny.ring(0, 0), tiny.at(9), 5, worker=other["worker_a"]))
    assert count(db_conn, "patrol_point") == 0


def test_rules_are_stored_and_used(db_conn, district):
    did = district["district"]
    import_fixes(db_conn, tiny.a_day(district))
    rule = set_rule(db_conn, did, min_visits=1, min_visit_minutes=30)
    assert rule.timezone == "Asia/Shanghai" and rule.rule.min_visits == 1
    analyse_days(db_conn, district_id=did, days=[DAY])
    rows = read_compliance(db_conn, district_id=did, day=DAY).set_index("worker_id")
    assert rows.loc[district["worker_b"], "compliant"]  # one visit of 40 min now keeps it
    with pytest.raises(InputError, match="unknown patrol rule setting"):
        set_rule(db_conn, did, visits=3)
    with pytest.raises(InputError, match="unknown time zone 'Asia/Atlantis'"):
        set_rule(db_conn, did, timezone="Asia/Atlantis")
    assert read_rule(db_conn, did).rule.min_visit_minutes == 30


def test_purge_keeps_compliance_and_visits(db_conn, district):
    import_fixes(db_conn, tiny.a_day(district))
    kept = purge(db_conn, now=datetime(2026, 11, 20, tzinfo=UTC))
    assert (kept.points, kept.tracks) == (0, 0)
    done = purge(db_conn, now=datetime(2027, 5, 2, tzinfo=UTC))
    assert (done.points, done.tracks) == (1294, 3)
    assert count(db_conn, "patrol_compliance") == 2 and count(db_conn, "patrol_visit") == 3
    with pytest.raises(InputError, match="at least a day"):
        purge(db_conn, older_than_days=0)


def test_compliance_lists_workers_without_tracks(db_conn, district):
    did = district["district"]
    import_fixes(db_conn, tiny.walk(tiny.ring(100, 100), tiny.at(9), 70, worker=district["worker_a"]))
    rows = read_compliance(db_conn, district_id=did, day=DAY, community="C1")
    assert list(rows["grid_code"]) == ["A", "B"]  # worker 3 has no grid, so no community
    assert list(rows["analysed"]) == [True, False] and not rows["compliant"].any()
    with pytest.raises(NotFoundError, match=r"no community 'C9'.*\['C1'\]"):
        read_compliance(db_conn, district_id=did, day=DAY, community="C9")
    only_b = read_compliance(db_conn, district_id=did, day=DAY, scope=frozenset({(did, "B")}))
    assert list(only_b["worker_id"]) == [district["worker_b"]]


def test_supervisors_see_their_grids_only(db_conn, district):
    did = district["district"]
    add_user(db_conn, "office-b", role="grid_leader", district_id=did, grids=["A"])
    assert remove_supervisor(db_conn, "office-b", district_id=did, grid_codes=["A"]) == 1
    assert add_supervisor(db_conn, "office-b", district_id=did, grid_codes=["B"]) == 1
    assert supervised_grids(db_conn, "office-b") == frozenset({(did, "B")})
    assert list_supervisors(db_conn, district_id=did) == [("office-b", did, "B")]
    add_user(db_conn, "office-analyst", role="analyst")
    with pytest.raises(InputError, match=r"only a grid_leader leads grids.*--role grid_leader"):
        add_supervisor(db_conn, "office-analyst", district_id=did, grid_codes=["B"])
    with pytest.raises(NotFoundError, match=r"no grid \['Z'\]"):
        add_supervisor(db_conn, "office-b", district_id=did, grid_codes=["Z"])
    import_fixes(db_conn, tiny.a_day(district))
    tracks = read_track_features(db_conn, district_id=did, day=DAY, scope=supervised_grids(db_conn, "office-b"))
    assert {f["properties"]["grid_code"] for f in tracks["features"]} == {"B"}
    with pytest.raises(NotFoundError, match="among those you may see"):
        read_calendar(db_conn, worker_id=district["worker_a"], start=DAY, end=DAY, scope=frozenset({(did, "B")}))
    assert remove_supervisor(db_conn, "office-b", district_id=did) == 1


def test_tracks_simplify_and_calendar_days(db_conn, district):
    did = district["district"]
    import_fixes(db_conn, tiny.a_day(district))
    full = read_track_features(db_conn, district_id=did, day=DAY, worker_ids=[district["worker_a"]])
    coarse = read_track_features(db_conn, district_id=did, day=DAY, worker_ids=[district["worker_a"]], simplify_m=50)
    assert full["numberReturned"] == 2
    assert len(coarse["features"][0]["geometry"]["coordinates"]) < len(full["features"][0]["geometry"]["coordinates"])
    days = read_calendar(db_conn, worker_id=district["worker_a"], start=DAY - timedelta(days=1), end=DAY)
    assert list(days["analysed"]) == [False, True] and list(days["compliant"]) == [False, True]
    assert days.attrs["grid_code"] == "A"


def test_weekly_report_counts_patrols_and_incidents(db_conn, district):
    did = district["district"]
    import_fixes(db_conn, tiny.a_day(district))
    grid_a = db_conn.execute(text("SELECT id FROM grid WHERE code = 'A'")).scalar_one()
    for status, when in (
        ("closed", "2026-11-03T10:00:00+08:00"),
        ("open", "2026-11-04T10:00:00+08:00"),
        ("closed", "2026-11-09T10:00:00+08:00"),
    ):  # the last one is next week
        db_conn.execute(
            text(
                "INSERT INTO incident (district_id, category, handling_class, status, reported_at, grid_id, geom) "
                # a point inside grid A: an incident's grid is where its point lies
                "VALUES (:d, 'sanitation', 'street', :s, :t, :g, "
                "(SELECT ST_PointOnSurface(geom) FROM grid WHERE id = :g))"
            ),
            {"d": did, "s": status, "t": when, "g": grid_a},
        )
    report = weekly_report(db_conn, week="2026-W45", district_id=did, community="C1")
    rows = report.rows.set_index("grid_code")
    assert (report.start, report.end, report.community_name) == (DAY, date(2026, 11, 8), "一社区")
    assert rows.loc["A", "days_compliant"] == 1 and rows.loc["A", "long_visits"] == 2
    assert (rows.loc["A", "incidents_reported"], rows.loc["A", "incidents_handled"]) == (2, 1)
    assert rows.loc["B", "days_compliant"] == 0 and rows.loc["B", "days_with_tracks"] == 1
    with pytest.raises(InputError, match="week '2026-45' is not an ISO week"):
        weekly_report(db_conn, week="2026-45", district_id=did)


def test_real_tainan_log_through_the_store(db_conn, tainan_csv):
    fixes = read_tracks(tainan_csv, timezone="Asia/Taipei")
    did = db_conn.execute(
        text(
            "INSERT INTO district (name, working_crs, boundary) "
            "VALUES ('tainan', 'EPSG:3826', ST_Multi(ST_GeomFromText(:b, 4326))) RETURNING id"
        ),
        {"b": TAINAN.wkt},
    ).scalar_one()
    db_conn.execute(text("INSERT INTO patrol_rule (district_id, timezone) VALUES (:d, 'Asia/Taipei')"), {"d": did})
    for team in sorted(fixes["device"].unique()):
        worker = db_conn.execute(
            text("INSERT INTO grid_worker (district_id, name) VALUES (:d, :n) RETURNING id"),
            {"d": did, "n": team[-4:]},
        ).scalar_one()
        add_device(db_conn, team, worker)
    result = import_fixes(db_conn, fixes, file=str(tainan_csv))
    assert result.report.outside == 4 and result.report.read == 6502
    assert result.stored == count(db_conn, "patrol_point") == result.report.kept
    assert len(result.workers) == 16 and result.days[0] == "2015-10-16" and result.days[-1] == "2015-10-30"
    assert result.analysed > 30 and result.compliant == 0  # no plan, so no grids to keep the rule in
    assert count(db_conn, "patrol_track") > 100
