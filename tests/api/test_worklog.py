"""The work log: a linked worker writes their day; the station master reads and reviews the community's.

On the tiny district (community C1 with grids A and B, days in Asia/Shanghai) with a second
community C2; the suite's clock (tests/now.py) is 2026-11-18 20:30 UTC, which is already
2026-11-19 in Shanghai: that is the workers' today.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL

from api.app import create_app
from api.settings import Settings
from gis import migrations
from gis.cluster import DATABASE
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer
from tests.gis.patrols import tiny

TODAY = "2026-11-19"  # tests/now.py's instant, in Shanghai
YESTERDAY = "2026-11-18"
WEEK = "2026-W47"


@pytest.fixture(scope="module")
def team(create_database: Callable[..., URL]):
    """Workers of grids A and B with accounts, C1's and C2's station masters, C1's director, a planner."""
    url = create_database("worklog_api", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    with begin(engine) as conn:
        ids = tiny.make_district(conn)
        tiny.second_community(conn, ids)
        did = ids["district"]
        headers = {
            "worker_a": bearer(add_user(conn, "wl-a", role="grid_worker", worker_id=ids["worker_a"])),
            "worker_b": bearer(add_user(conn, "wl-b", role="grid_worker", worker_id=ids["worker_b"])),
            "master": bearer(add_user(conn, "wl-master", role="station_master", district_id=did, community="C1")),
            "master_c2": bearer(add_user(conn, "wl-master-2", role="station_master", district_id=did, community="C2")),
            "director": bearer(
                add_user(conn, "wl-director", role="community_director", district_id=did, community="C1")
            ),
            "leader": bearer(add_user(conn, "wl-leader", role="grid_leader", district_id=did, grids=["A", "B"])),
            "leader_b": bearer(add_user(conn, "wl-leader-b", role="grid_leader", district_id=did, grids=["B"])),
            "unlinked": bearer(add_user(conn, "wl-unlinked", role="grid_worker")),
            "planner": bearer(add_user(conn, "wl-planner", role="planner")),
        }
        ids["master_user"] = conn.execute(text("SELECT id FROM app_user WHERE name = 'wl-master'")).scalar_one()
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as client:
        yield client, headers, ids


def post_entry(client: TestClient, headers: dict, day: str = TODAY, kind: str = "patrol", **extra):
    return client.post("/worklog", json={"date": day, "kind": kind, "text": "巡查 A 区一遍", **extra}, headers=headers)


def test_a_worker_writes_and_lists_their_own_log(team):
    client, headers, ids = team
    made = post_entry(client, headers["worker_a"], kind="household_visit", text="走访 3 户 visited three homes")
    assert made.status_code == 201, made.text
    entry = made.json()
    assert (entry["worker_id"], entry["day"], entry["kind"], entry["reviewed"]) == (
        ids["worker_a"],
        TODAY,
        "household_visit",
        False,
    )
    assert made.headers["cache-control"] == "private, no-store"
    own = client.get("/worklog", headers=headers["worker_a"]).json()
    assert entry["id"] in [e["id"] for e in own["entries"]] and own["end"] == TODAY
    # the other worker's list holds none of it
    other = client.get("/worklog", headers=headers["worker_b"]).json()
    assert all(e["worker_id"] == ids["worker_b"] for e in other["entries"])
    assert entry["id"] not in [e["id"] for e in other["entries"]]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"date": "2026-11-20"}, 400, "date"),  # tomorrow in Shanghai, though already the 20th nowhere
        ({"kind": "gossip"}, 422, "kind"),
        ({"text": "x" * 2001}, 422, "text"),
        ({"text": ""}, 422, "text"),
        ({"incident_ids": [999999]}, 400, "incident_ids"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_field_and_nothing_is_stored(team, body, status, field):
    client, headers, _ = team
    before = len(client.get("/worklog", headers=headers["worker_a"]).json()["entries"])
    got = client.post(
        "/worklog", json={"date": TODAY, "kind": "patrol", "text": "ok", **body}, headers=headers["worker_a"]
    )
    assert got.status_code == status, got.text
    assert field in got.text
    assert len(client.get("/worklog", headers=headers["worker_a"]).json()["entries"]) == before


def test_only_linked_workers_write_a_log(team):
    client, headers, _ = team
    assert post_entry(client, {}).status_code == 401
    for who in ("master", "planner", "leader"):
        refused = post_entry(client, headers[who])
        assert refused.status_code == 403 and "linked to their worker record" in refused.json()["description"]


def test_incident_links_are_the_workers_own_grid(team):
    client, headers, _ = team
    lon, lat = tiny.lonlat([[200, 200]])[0]  # inside grid A
    incident = client.post(
        "/incidents", json={"category": "sanitation.garbage", "lon": lon, "lat": lat}, headers=headers["worker_a"]
    )
    assert incident.status_code == 201, incident.text
    number = incident.json()["id"]
    linked = post_entry(client, headers["worker_a"], kind="dispute", incident_ids=[number])
    assert linked.status_code == 201 and linked.json()["incident_ids"] == [number]
    foreign = post_entry(client, headers["worker_b"], incident_ids=[number])
    assert foreign.status_code == 400 and "nor in your grid B" in foreign.json()["description"]
    # one they reported themselves counts wherever it is: A reports in grid B, and may link it
    lon, lat = tiny.lonlat([[600, 200]])[0]
    in_b = client.post(
        "/incidents", json={"category": "sanitation.garbage", "lon": lon, "lat": lat}, headers=headers["worker_a"]
    ).json()["id"]
    assert post_entry(client, headers["worker_a"], incident_ids=[number, in_b]).status_code == 201


def test_the_station_master_reads_and_reviews_the_community_day_and_others_cannot(team):
    client, headers, ids = team
    a = post_entry(client, headers["worker_a"], day=YESTERDAY, text="A 的日志").json()
    b = post_entry(client, headers["worker_b"], day=YESTERDAY, kind="information_update", text="B 的日志").json()
    params = {"day": YESTERDAY, "community": "C1"}
    day = client.get("/worklog", params=params, headers=headers["master"])
    assert day.status_code == 200, day.text
    assert {e["id"] for e in day.json()["entries"]} >= {a["id"], b["id"]}
    assert {e["worker_id"] for e in day.json()["entries"]} == {ids["worker_a"], ids["worker_b"]}
    # the director and the office read it too; the worker's own list without community stays their own
    for who in ("director", "planner"):
        assert client.get("/worklog", params=params, headers=headers[who]).status_code == 200
    # another worker, a grid leader and another community's station master read nothing of it
    for who in ("worker_b", "leader", "master_c2"):
        refused = client.get("/worklog", params=params, headers=headers[who])
        assert refused.status_code == 403, (who, refused.text)
        assert "A 的日志" not in refused.text
    assert client.get("/worklog", params=params).status_code == 401

    reviewed = client.post(f"/worklog/{a['id']}/review", json={"comment": "写得清楚 clear"}, headers=headers["master"])
    assert reviewed.status_code == 200, reviewed.text
    body = reviewed.json()
    assert body["reviewed"] and body["reviewed_by"] == ids["master_user"] and body["review_comment"] == "写得清楚 clear"
    assert body["reviewed_at"].startswith("2026-11-18T20:")  # the suite's clock, not the wall's
    summary = client.get("/worklog", params=params, headers=headers["master"]).json()["summary"]
    assert summary["reviewed"] >= 1
    # only the community's station master reviews: not the other worker, the other master, the director
    for who in ("worker_b", "master_c2", "director", "planner"):
        refused = client.post(f"/worklog/{b['id']}/review", json={"comment": "x"}, headers=headers[who])
        assert refused.status_code == 403, (who, refused.text)
    assert client.get("/worklog", params=params, headers=headers["master"]).json()["entries"][-1]["reviewed"] is False


def test_an_entry_changes_until_it_is_reviewed_and_only_by_its_worker(team):
    client, headers, _ = team
    entry = post_entry(client, headers["worker_a"], text="草稿 draft").json()
    assert client.patch(f"/worklog/{entry['id']}", json={"text": "x"}, headers=headers["worker_b"]).status_code == 403
    changed = client.patch(f"/worklog/{entry['id']}", json={"text": "改好 fixed"}, headers=headers["worker_a"])
    assert changed.status_code == 200 and changed.json()["text"] == "改好 fixed" and changed.json()["updated_at"]
    assert client.post(f"/worklog/{entry['id']}/review", json={}, headers=headers["master"]).status_code == 200
    frozen = client.patch(f"/worklog/{entry['id']}", json={"text": "later"}, headers=headers["worker_a"])
    assert frozen.status_code == 409 and "reviewed" in frozen.json()["description"]
    assert client.patch("/worklog/999999", json={"text": "x"}, headers=headers["worker_a"]).status_code == 404


def test_the_weekly_report_shows_each_workers_log_summary(team):
    client, headers, ids = team
    b_before = client.get("/worklog", params={"day": YESTERDAY}, headers=headers["worker_b"]).json()["entries"]
    post_entry(client, headers["worker_b"], day=TODAY, kind="other", text="本周第二天")
    mine = client.get("/worklog", params={"day": TODAY}, headers=headers["worker_b"]).json()["entries"]
    got = client.get("/patrols/weekly", params={"week": WEEK, "f": "json"}, headers=headers["planner"])
    assert got.status_code == 200, got.text
    rows = {r["worker_id"]: r for r in got.json()["rows"]}
    b = rows[ids["worker_b"]]
    kinds = [e["kind"] for e in b_before + mine]
    assert b["log_information_update"] == kinds.count("information_update")
    assert b["log_other"] == kinds.count("other") and b["log_days"] == 2
    assert b["log_reviewed"] == sum(e["reviewed"] for e in b_before + mine)
    a = rows[ids["worker_a"]]
    assert a["log_reviewed"] >= 1 and a["log_household_visit"] >= 1 and a["log_days"] == 2
    assert rows[ids["worker_none"]]["log_days"] == 0
    table = list(csv.DictReader(io.StringIO(client.get(
        "/patrols/weekly", params={"week": WEEK, "f": "csv"}, headers=headers["planner"]).text)))  # fmt: skip
    row_b = next(r for r in table if r["worker_id"] == str(ids["worker_b"]))
    assert row_b["log_days"] == "2" and row_b["log_other"] == str(kinds.count("other"))
    # a week without entries counts none
    earlier = client.get("/patrols/weekly", params={"week": "2026-W40", "f": "json"}, headers=headers["planner"])
    assert all(r["log_days"] == 0 for r in earlier.json()["rows"])


def test_without_a_community_each_reads_what_is_theirs(team):
    """No ?community=: a leader the led grids' day, a station master their community's today, the office 400."""
    client, headers, ids = team
    a = post_entry(client, headers["worker_a"], text="A 今天").json()
    b = post_entry(client, headers["worker_b"], text="B 今天").json()
    led_b = client.get("/worklog", headers=headers["leader_b"]).json()
    assert b["id"] in [e["id"] for e in led_b["entries"]]
    assert {e["worker_id"] for e in led_b["entries"]} == {ids["worker_b"]}
    assert led_b["days"] == {str(ids["district"]): TODAY}
    both = client.get("/worklog", headers=headers["leader"]).json()
    assert {a["id"], b["id"]} <= {e["id"] for e in both["entries"]}
    station = client.get("/worklog", headers=headers["master"]).json()
    assert station["community"] == "C1" and station["day"] == TODAY
    assert {a["id"], b["id"]} <= {e["id"] for e in station["entries"]}
    assert client.get("/worklog", headers=headers["master_c2"]).json()["entries"] == []
    assert client.get("/worklog", headers=headers["unlinked"]).json() == {"worker_id": None, "entries": []}
    office = client.get("/worklog", headers=headers["planner"])
    assert office.status_code == 400 and "?community=" in office.json()["description"]
