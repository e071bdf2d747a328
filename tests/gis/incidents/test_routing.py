"""Handling classes that route, in the store: continuous emergency timers, approval steps, hand-offs, queued notices."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from gis import clock
from gis.errors import ConflictError, InputError
from gis.incidents.approval import community_of, take_step
from gis.incidents.departments import Department, add_feedback, find_department, hand_off, work_sheet
from gis.incidents.notify import Contacts, queue
from gis.incidents.store import Acting, create_incident, list_overdue, read_incident, transition
from tests.gis.patrols import tiny

SH = ZoneInfo("Asia/Shanghai")
DEPARTMENTS = [Department("housing", "住建局"), Department("fire", "消防救援大队")]


@pytest.fixture
def district(db_conn):
    return tiny.make_district(db_conn)


def report(conn, category="sanitation.garbage", **kw):
    lon, lat = tiny.lonlat([(100, 100)])[0]
    return create_incident(conn, category=category, lon=lon, lat=lat, actor="clerk", reporter_phone="13800000000", **kw)


def test_an_emergency_runs_on_the_clock_where_others_wait_for_working_hours(db_conn, district):
    # Friday 17:00 in Shanghai: eight working hours end on Monday 16:00, eight hours on the clock at 01:00
    friday = datetime(2026, 11, 20, 17, tzinfo=SH)
    garbage = report(db_conn, reported_at=friday)
    emergency = report(db_conn, reported_at=friday, handling_class="emergency")
    saturday = datetime(2026, 11, 21, 2, tzinfo=SH)
    assert read_incident(db_conn, garbage, now=saturday)["flag"] == "none"
    assert read_incident(db_conn, garbage, now=saturday)["due_at"] == datetime(2026, 11, 23, 16, tzinfo=SH)
    late = read_incident(db_conn, emergency, now=saturday)
    assert (late["flag"], late["due_at"]) == ("yellow", datetime(2026, 11, 21, 1, tzinfo=SH))
    overdue = list_overdue(db_conn, now=saturday)
    assert [(r["id"], r["flag"]) for r in overdue] == [(emergency, "yellow")]


def test_on_the_suite_clock_an_emergency_of_last_evening_is_overdue(db_conn, district):
    # the suite's clock (tests/now.py) stands at 04:30 in Shanghai: nine hours back is 19:30, after work
    evening = clock.now() - timedelta(hours=9)
    on_site, emergency = report(db_conn, reported_at=evening), report(db_conn, reported_at=evening,
                                                                      handling_class="emergency")  # fmt: skip
    assert read_incident(db_conn, on_site)["flag"] == "none"
    assert read_incident(db_conn, emergency)["flag"] == "yellow"


def test_approval_steps_go_in_order_and_are_recorded(db_conn, district):
    new = report(db_conn, category="street_order.construction")  # an approval category
    assert community_of(db_conn, new) == (district["district"], "C1")
    with pytest.raises(ConflictError, match=r"reported \(approval\) cannot move to 'director_reviewed'"):
        take_step(db_conn, new, "director_reviewed", Acting("director", None))
    with pytest.raises(InputError, match="no approval step"):
        take_step(db_conn, new, "accepted", Acting("clerk", None))
    at = clock.now()
    for step, who in (("line_checked", "master"), ("director_reviewed", "director"), ("approved", "office")):
        take_step(db_conn, new, step, Acting(who, None, at), comment=f"{step} ok")
    with pytest.raises(ConflictError, match=r"approved \(approval\) cannot move to 'approved'"):
        take_step(db_conn, new, "approved", Acting("office", None))
    incident = read_incident(db_conn, new)
    steps = [(a["step"], a["comment"]) for a in incident["routing"]["approvals"]]
    assert steps == [("line_checked", "line_checked ok"), ("director_reviewed", "director_reviewed ok"),
                     ("approved", "approved ok")]  # fmt: skip
    assert [e["actor"] for e in incident["events"]][1:] == ["master", "director", "office"]
    audit = db_conn.execute(
        text("SELECT count(*) FROM audit_log WHERE action = 'incident.transition' AND target = :t"),
        {"t": f"incident:{new}"},
    ).scalar_one()
    assert audit == 3 and incident["next"] == ["dispatched", "parked"]


def test_a_coordinated_incident_goes_to_a_department_and_its_answer_is_kept(db_conn, district):
    with pytest.raises(InputError, match=r"unknown department 'zoo': expected one of \['housing', 'fire'\]") as err:
        find_department(DEPARTMENTS, "zoo")
    assert err.value.field == "department"
    on_site = report(db_conn)
    with pytest.raises(ConflictError, match="only coordinated incidents"):
        hand_off(db_conn, on_site, DEPARTMENTS[0], Acting("clerk", None))
    new = report(db_conn, category="dispute.neighbour", description="楼上漏水", reporter_name="李先生")
    with pytest.raises(ConflictError, match=r"cannot move to 'dispatched'"):
        hand_off(db_conn, new, DEPARTMENTS[0], Acting("clerk", None))  # not filed yet
    with pytest.raises(ConflictError, match="never handed to a department"):
        add_feedback(db_conn, new, "done", Acting("clerk", None))
    for step in ("accepted", "filed"):
        transition(db_conn, new, to=step, actor="clerk")
    hand_off(db_conn, new, DEPARTMENTS[0], Acting("clerk", None), note="请核查")
    hand_off(db_conn, new, DEPARTMENTS[1], Acting("clerk", None))  # handed on: still dispatched
    add_feedback(db_conn, new, "已派员处理", Acting("clerk", None))
    incident = read_incident(db_conn, new)
    assert incident["status"] == "dispatched"
    handoffs = incident["routing"]["handoffs"]
    assert [(h["department_id"], [f["text"] for f in h["feedback"]]) for h in handoffs] == [
        ("housing", []), ("fire", ["已派员处理"])
    ]  # fmt: skip
    sheet = work_sheet(db_conn, new)
    assert sheet["department"] == {"id": "fire", "name": "消防救援大队"}
    assert sheet["incident"]["description"] == "楼上漏水" and sheet["incident"]["due_at"] is not None
    assert "13800000000" not in str(sheet) and "李先生" not in str(sheet)


def test_notifications_are_queued_per_channel_for_emergencies_only(db_conn, district):
    both = Contacts(webhook_url="http://127.0.0.1:9/hook", smtp_host="127.0.0.1", smtp_from="grid@example.org",
                    email_to=("duty@example.org", "chief@example.org"))  # fmt: skip
    assert queue(db_conn, report(db_conn), both) == []
    new = report(db_conn, category="emergency.fire")
    assert len(queue(db_conn, new, both)) == 2
    assert queue(db_conn, report(db_conn, category="emergency.fire"), Contacts()) == []  # nobody to tell
    rows = db_conn.execute(
        text("SELECT channel, target, status FROM incident_notification WHERE incident_id = :i ORDER BY id"),
        {"i": new},
    ).all()
    assert [tuple(r) for r in rows] == [
        ("webhook", "http://127.0.0.1:9/hook", "pending"),
        ("email", "duty@example.org, chief@example.org", "pending"),
    ]
    shown = read_incident(db_conn, new)["routing"]["notifications"]
    assert [n["channel"] for n in shown] == ["webhook", "email"] and "target" not in shown[0]
