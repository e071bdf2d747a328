"""Incidents in the store: grid by spatial join, transitions with their history, COPY imports."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from gis.errors import ConflictError, InputError, NotFoundError, OutsideBoundaryError
from gis.incidents.imports import map_incidents, read_incident_table
from gis.incidents.store import copy_incidents, create_incident, read_incident, transition
from tests.gis.incidents.vancouver import CATEGORIES, FOLDER, MAPPING, store_vancouver
from tests.gis.patrols import tiny


@pytest.fixture
def district(db_conn):
    """The tiny district of the patrol tests: grid A (x 0-400 m) and B (x 400-800 m), published."""
    return tiny.make_district(db_conn)


def report(conn, xy, category="sanitation.garbage", **kw):
    lon, lat = tiny.lonlat([xy])[0]
    return create_incident(conn, category=category, lon=lon, lat=lat, actor="clerk", **kw)


def test_the_grid_comes_from_the_point_and_the_class_from_the_category(db_conn, district):
    incident = read_incident(db_conn, report(db_conn, (600, 100), reporter_name="王女士"))
    assert (incident["district"], incident["grid_code"], incident["status"]) == ("tiny", "B", "reported")
    assert (incident["handling_class"], incident["public"], incident["source"]) == ("on_site", True, "api")
    assert incident["category_label"] == {"zh": "垃圾堆放", "en": "Piled garbage"}
    assert incident["reporter"] == {"name": "王女士", "phone": None}
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in incident["events"]] == [(None, "reported", "clerk")]
    assert incident["next"] == ["accepted", "verifying", "returned", "invalid", "duplicate"]


def test_points_outside_every_district_and_unknown_categories_are_refused(db_conn, district):
    with pytest.raises(OutsideBoundaryError, match=r"lies in no stored district"):
        report(db_conn, (5000, 5000))
    with pytest.raises(InputError, match="unknown category 'litter'"):
        report(db_conn, (100, 100), category="litter")


def test_transitions_are_stored_with_actor_time_and_note(db_conn, district):
    new = report(db_conn, (100, 100), category="dispute.neighbour")
    for state in ("accepted", "filed", "parked"):
        transition(db_conn, new, to=state, actor="chief", note=f"to {state}")
    with pytest.raises(ConflictError, match=r"may move to \['filed'\]"):
        transition(db_conn, new, to="dispatched", actor="chief")
    assert transition(db_conn, new, to="filed", actor="chief") == "parked"
    incident = read_incident(db_conn, new)
    assert [e["to_status"] for e in incident["events"]] == ["reported", "accepted", "filed", "parked", "filed"]
    assert incident["events"][1]["note"] == "to accepted" and incident["events"][1]["actor"] == "chief"
    assert set(incident["timestamps"]) == {"reported", "accepted", "filed", "parked"}
    assert incident["status_at"] == incident["events"][-1]["at"]
    with pytest.raises(NotFoundError, match="no incident 0"):
        transition(db_conn, 0, to="accepted", actor="chief")


def test_vancouver_crimes_are_copied_into_their_neighbourhoods(db_conn, shared_data):
    store_vancouver(db_conn, shared_data)
    table, _ = read_incident_table(shared_data / FOLDER / "vancouver_crimes_2020.csv")
    mapped = map_incidents(
        table, MAPPING, file="v.csv", crs="EPSG:26910", timezone="America/Vancouver", categories=CATEGORIES
    )
    result = copy_incidents(db_conn, mapped.frame, actor="import", source="import:v.csv")
    # the rows at X = Y = 0 (offences against a person, by design) lie outside the city
    zeros = int(((table["X"] == 0) & (table["Y"] == 0)).sum())
    assert result.outside >= zeros and result.stored + result.outside == len(mapped.frame)
    assert result.stored > 33_000
    grids = db_conn.execute(
        text("SELECT count(DISTINCT grid_id), count(*) FILTER (WHERE grid_id IS NULL) FROM incident")
    ).one()
    assert tuple(grids) == (22, 0)  # the neighbourhoods tile the city
    events = db_conn.execute(text("SELECT count(*) FROM incident_event WHERE note = 'imported (import:v.csv)'"))
    assert events.scalar_one() == result.stored


def test_near_duplicates_are_marked_not_decided(db_conn, district):
    from datetime import UTC, datetime, timedelta

    noon = datetime(2026, 11, 2, 4, tzinfo=UTC)
    first = report(db_conn, (100, 100), reported_at=noon)
    near = report(db_conn, (130, 100), reported_at=noon + timedelta(hours=2))  # 30 m away
    far = report(db_conn, (200, 100), reported_at=noon + timedelta(hours=2))  # 100 m away
    later = report(db_conn, (100, 100), reported_at=noon + timedelta(hours=30))
    other = report(db_conn, (100, 100), category="sanitation.pests", reported_at=noon)
    off = report(db_conn, (100, 100), reported_at=noon, duplicate_metres=0)
    marks = {i: read_incident(db_conn, i)["duplicate_of"] for i in (first, near, far, later, other, off)}
    assert marks == {first: None, near: first, far: None, later: None, other: None, off: None}
    assert read_incident(db_conn, near)["status"] == "reported"


def test_an_incident_carries_its_time_limit_and_flag(db_conn, district):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    friday = datetime(2026, 11, 20, 17, tzinfo=ZoneInfo("Asia/Shanghai"))
    new = report(db_conn, (100, 100), reported_at=friday)  # sanitation: 8 working hours
    tuesday = datetime(2026, 11, 24, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
    incident = read_incident(db_conn, new, now=tuesday)
    assert incident["limit"] == {"working_hours": 8} and incident["flag"] == "yellow"
    assert incident["due_at"] == datetime(2026, 11, 23, 16, tzinfo=ZoneInfo("Asia/Shanghai"))
    transition(db_conn, new, to="invalid", actor="chief")
    assert read_incident(db_conn, new, now=tuesday)["flag"] == "none"


def test_a_transition_writes_its_audit_entry_in_the_same_transaction(db_conn, district):
    from gis.store.audit import list_entries

    new = report(db_conn, (100, 100), category="dispute.family")
    transition(db_conn, new, to="accepted", actor="chief")
    entry = list_entries(db_conn, action="incident.transition")[0]
    assert (entry.actor, entry.target, entry.detail) == (
        "chief",
        f"incident:{new}",
        {"from": "reported", "to": "accepted"},
    )
    with db_conn.begin_nested() as refused:  # a move the workflow refuses leaves no entry
        with pytest.raises(ConflictError):
            transition(db_conn, new, to="closed", actor="chief")
        refused.rollback()
    assert len(list_entries(db_conn, action="incident.transition")) == 1


def test_a_role_may_be_held_to_some_starting_states(db_conn, district):
    from gis.incidents.store import reporter_of

    new = report(db_conn, (100, 100))  # sanitation: on site
    assert reporter_of(db_conn, new) == "clerk"
    with pytest.raises(ConflictError, match=r"is reported: this move to 'accepted' may be made only from \['rework'\]"):
        transition(db_conn, new, to="accepted", actor="worker", allowed_from={"rework"})
    assert transition(db_conn, new, to="verifying", actor="worker", allowed_from={"reported", "handling"}) == "reported"
    with pytest.raises(NotFoundError, match="no incident 0"):
        reporter_of(db_conn, 0)


def test_overdue_incidents_are_listed_yellow_then_red(db_conn, district):
    from datetime import UTC, datetime, timedelta

    from gis.incidents.store import IncidentFilter, list_overdue

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    fire = report(db_conn, (100, 100), category="fire_hazard.equipment", reported_at=now - timedelta(hours=30))
    fresh = report(db_conn, (150, 100), category="fire_hazard.equipment", reported_at=now - timedelta(hours=3))
    old = report(db_conn, (200, 100), category="fire_hazard.equipment", reported_at=now - timedelta(hours=60))
    done = report(db_conn, (250, 100), category="fire_hazard.equipment", reported_at=now - timedelta(hours=60))
    transition(db_conn, done, to="invalid", actor="chief")
    yellow = list_overdue(db_conn, level="yellow", now=now)
    assert [(r["id"], r["flag"]) for r in yellow] == [(old, "red"), (fire, "yellow")]  # the longest overdue first
    assert yellow[0]["due_at"] == now - timedelta(hours=36) and "reporter_name" not in yellow[0]
    assert [r["id"] for r in list_overdue(db_conn, level="red", now=now)] == [old]
    assert fresh not in {r["id"] for r in yellow}
    with pytest.raises(InputError, match="unknown overdue level 'orange'"):
        list_overdue(db_conn, level="orange")
    # a state narrows the list before its limit: the longest overdue (still reported) does not crowd it out
    transition(db_conn, fire, to="accepted", actor="chief")
    assert [
        r["id"] for r in list_overdue(db_conn, IncidentFilter(status="accepted"), level="yellow", now=now, limit=1)
    ] == [fire]
