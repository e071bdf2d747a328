"""The grid team route by route: each role reads only its scope, a worker uploads and reads their own.

The tiny district (grids A and B of community C1; worker 甲 posted to A, 乙 to B, 丙 to
no grid) in a database of its own, with a day of walks, incidents in both grids and
users of every team role. Ownership is by ids: a user whose name equals an incident's
recorded actor gains nothing from it, and the service's own identities are reserved.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from gis import migrations
from gis.cluster import DATABASE
from gis.errors import InputError
from gis.incidents.store import create_incident
from gis.patrols.store import add_device, import_fixes
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer
from tests.gis.patrols import tiny

DAY = "2026-11-02"
UPLOAD_DAY = tiny.DAY.replace(day=5)


def points(frame: pd.DataFrame) -> list[dict]:
    """Fixes of :mod:`tests.gis.patrols.tiny` as the JSON points of ``POST /patrols``."""
    return [
        {"time": t.isoformat(), "lat": float(lat), "lon": float(lon)}
        for t, lat, lon in zip(frame["recorded_at"], frame["lat"], frame["lon"], strict=True)
    ]


def a_kept_day(day) -> pd.DataFrame:
    """Two walks of A's ring with a long stop between: the twice-a-day rule kept (no worker named)."""
    return pd.concat(
        [
            tiny.walk(tiny.ring(100, 100), tiny.at(9, day), 70, worker=None),
            tiny.stay((150, 150), tiny.at(11, day), 40, worker=None).assign(worker=None),
            tiny.walk(tiny.ring(100, 100), tiny.at(14, day), 65, worker=None),
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def team(create_database: Callable[..., URL]) -> dict:
    """The app on the tiny district, headers per user, worker ids and incident ids per grid."""
    url = create_database("team_scope", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    with begin(engine) as conn:
        ids = tiny.make_district(conn)
        import_fixes(conn, tiny.a_day(ids), file="day")
        did = ids["district"]
        tokens = {
            "worker_a": add_user(conn, "w-jia", role="grid_worker", worker_id=ids["worker_a"]),
            "unlinked": add_user(conn, "w-unlinked", role="grid_worker"),
            "leader_a": add_user(conn, "lead-a", role="grid_leader", district_id=did, grids=["A"]),
            "station_master": add_user(conn, "master-c1", role="station_master", district_id=did, community="C1"),
            "community_director": add_user(
                conn, "director-c1", role="community_director", district_id=did, community="C1"
            ),
            "analyst": add_user(conn, "t-analyst", role="analyst"),
            "planner": add_user(conn, "t-planner", role="planner"),
            # named like the actor of an incident below, and like no one's reports by id
            "zhao": add_user(conn, "zhao", role="grid_worker"),
        }
        add_device(conn, "phone-yi", ids["worker_b"])
        lon_a, lat_a = tiny.lonlat([[100, 100]])[0]
        lon_b, lat_b = tiny.lonlat([[500, 100]])[0]
        place = {"A": {"lon": lon_a, "lat": lat_a}, "B": {"lon": lon_b, "lat": lat_b}}
        ids["by_name_b"] = create_incident(
            conn, category="sanitation.garbage", actor="zhao", source="api", duplicate_metres=0,
            reporter_name="赵先生", reporter_phone="13800000000", **place["B"],
        )  # fmt: skip
        ids["open311_b"] = create_incident(
            conn, category="sanitation.garbage", actor="open311", source="open311", duplicate_metres=0, **place["B"]
        )
    engine.dispose()
    app = create_app(Settings(database_url=url.render_as_string(hide_password=False)))
    with TestClient(app) as client:
        headers = {who: bearer(t) for who, t in tokens.items()}
        report = {"category": "sanitation.garbage", "reporter_name": "钱女士", "reporter_phone": "13900000000"}
        for who, grid in (("analyst", "A"), ("worker_a", "B"), ("analyst", "B")):
            answer = client.post("/incidents", json={**report, **place[grid]}, headers=headers[who])
            assert answer.status_code == 201, answer.text
            ids[f"{who}_{grid}"] = answer.json()["id"]
        yield {"client": client, "headers": headers, "ids": ids, "url": url, "place": place}


def get(team: dict, who: str, path: str, **params):
    return team["client"].get(path, params=params, headers=team["headers"][who])


# who sees which workers: 甲 (A), 乙 (B), 丙 (no grid)
GRID = {"worker_a": "A", "worker_b": "B", "worker_none": None}
WORKERS = {
    "worker_a": {"worker_a"},
    "leader_a": {"worker_a"},
    "station_master": {"worker_a", "worker_b"},
    "community_director": {"worker_a", "worker_b"},
    "planner": {"worker_a", "worker_b", "worker_none"},
}


@pytest.mark.parametrize("who", WORKERS)
def test_worker_records_compliance_tracks_and_weekly_hold_only_the_callers_scope(team, who):
    ids = team["ids"]
    expected = {ids[w] for w in WORKERS[who]}
    listed = get(team, who, "/workers")
    assert listed.status_code == 200, listed.text
    assert {w["id"] for w in listed.json()} == expected
    compliance = get(team, who, "/patrols/compliance", date=DAY).json()
    assert {w["worker_id"] for w in compliance["workers"]} == expected
    tracks = get(team, who, "/patrols/tracks", date=DAY).json()
    assert {f["properties"]["worker_id"] for f in tracks["features"]} <= expected
    assert tracks["features"], "the day has walks in A and B"
    weekly = get(team, who, "/patrols/weekly", week="2026-W45", f="json").json()
    assert {r["grid_code"] for r in weekly["rows"]} - {None} == {GRID[w] for w in WORKERS[who]} - {None}
    for worker in ("worker_a", "worker_b", "worker_none"):
        one = get(team, who, f"/workers/{ids[worker]}")
        calendar = get(team, who, f"/patrols/workers/{ids[worker]}/calendar.png", month="2026-11")
        if worker in WORKERS[who]:
            assert one.status_code == 200 and calendar.status_code == 200, (worker, one.text)
        else:
            assert one.status_code == 404 and calendar.status_code == 404, (worker, one.text)
            assert "among those you may see" in one.json()["description"]


# who sees which incidents (beside any others made by other tests in this module)
INCIDENTS = {
    "worker_a": {"analyst_A", "worker_a_B"},  # their own grid, and their own report elsewhere
    "leader_a": {"analyst_A"},
    "station_master": {"analyst_A", "worker_a_B", "analyst_B", "by_name_b", "open311_b"},
    "community_director": {"analyst_A", "worker_a_B", "analyst_B", "by_name_b", "open311_b"},
    "analyst": {"analyst_A", "worker_a_B", "analyst_B", "by_name_b", "open311_b"},
    "zhao": set(),  # named like the actor of by_name_b, but nobody's reports are theirs by name
}


@pytest.mark.parametrize("who", INCIDENTS)
def test_incident_lists_and_details_hold_only_the_callers_scope(team, who):
    ids = team["ids"]
    known = {k: ids[k] for k in ("analyst_A", "worker_a_B", "analyst_B", "by_name_b", "open311_b")}
    listed = get(team, who, "/incidents")
    assert listed.status_code == 200, listed.text
    seen = {r["id"] for r in listed.json()["incidents"]}
    assert seen & set(known.values()) == {ids[k] for k in INCIDENTS[who]}
    for name, incident in known.items():
        one = get(team, who, f"/incidents/{incident}")
        if name in INCIDENTS[who]:
            assert one.status_code == 200, (name, one.text)
        else:
            assert one.status_code == 403, (name, one.text)
            assert "outside your scope" in one.json()["description"]
            assert "钱女士" not in one.text and "赵先生" not in one.text


def test_reporter_fields_reach_the_team_only_on_their_own_reports(team):
    ids = team["ids"]
    own = get(team, "worker_a", f"/incidents/{ids['worker_a_B']}").json()
    assert own["reporter"] == {"name": "钱女士", "phone": "13900000000"}
    others = get(team, "worker_a", f"/incidents/{ids['analyst_A']}").json()
    assert others["reporter"] == {"name": None, "phone": None} and "reporter_user_id" not in others
    assert get(team, "analyst", f"/incidents/{ids['analyst_A']}").json()["reporter"]["name"] == "钱女士"
    mine = get(team, "worker_a", "/incidents", mine="true").json()["incidents"]
    assert [r["id"] for r in mine] == [ids["worker_a_B"]]


def test_a_name_like_an_actor_moves_nothing(team):
    """A user named as an incident's recorded actor (or as the Open311 intake's) can neither read nor move it."""
    client, headers, ids = team["client"], team["headers"], team["ids"]
    for incident in (ids["by_name_b"], ids["open311_b"]):
        moved = client.post(f"/incidents/{incident}/transitions", json={"to": "verifying"}, headers=headers["zhao"])
        assert moved.status_code == 403, moved.text
        assert client.get(f"/incidents/{incident}", headers=headers["zhao"]).status_code == 403
    # the grid leader of A cannot move B's either; the worker of A takes the on-site step of their own report
    refused = client.post(
        f"/incidents/{ids['analyst_B']}/transitions", json={"to": "verifying"}, headers=headers["leader_a"]
    )
    assert refused.status_code == 403
    done = client.post(
        f"/incidents/{ids['worker_a_B']}/transitions", json={"to": "verifying"}, headers=headers["worker_a"]
    )
    assert done.status_code == 200 and done.json()["status"] == "verifying"


@pytest.mark.parametrize("name", ["open311", "import", "Open311", " import", "system:intake", "cli:root", "public"])
def test_the_services_identities_cannot_be_taken(team, name):
    engine = create_engine(team["url"])
    with pytest.raises(InputError, match="reserved for the service's own identities"), begin(engine) as conn:
        add_user(conn, name, role="analyst")
    engine.dispose()
    added = CliRunner().invoke(
        cli, ["users", "add", name, "--role", "analyst", "--db", team["url"].render_as_string(hide_password=False)]
    )
    assert added.exit_code == 2 and "reserved" in added.output


def test_a_linked_worker_uploads_their_own_patrol_and_it_counts(team):
    client, headers, ids = team["client"], team["headers"], team["ids"]
    body = {"points": points(a_kept_day(UPLOAD_DAY))}
    uploaded = client.post("/patrols", json=body, headers=headers["worker_a"])
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["workers"] == [ids["worker_a"]] and uploaded.json()["compliant"] == 1
    day = UPLOAD_DAY.date().isoformat()
    today = get(team, "worker_a", "/patrols/compliance", date=day).json()
    assert [(w["worker_id"], w["analysed"], w["compliant"]) for w in today["workers"]] == [
        (ids["worker_a"], True, True)
    ]
    # and a GPX file of theirs, with their own id in the query
    from tests.gis.patrols.test_readers import gpx_bytes

    gpx = gpx_bytes([f"2026-11-06T01:00:{s:02d}Z" for s in range(0, 60, 10)])
    own = client.post(
        "/patrols",
        content=gpx,
        params={"worker": ids["worker_a"], "name": "walk.gpx"},
        headers={**headers["worker_a"], "Content-Type": "application/gpx+xml"},
    )
    assert own.status_code == 201 and own.json()["workers"] == [ids["worker_a"]]


def test_a_worker_cannot_upload_for_someone_else(team):
    client, headers, ids = team["client"], team["headers"], team["ids"]
    fixes = points(tiny.walk(tiny.ring(500, 100), tiny.at(9, UPLOAD_DAY), 10, worker=None))

    def count() -> int:
        engine = create_engine(team["url"])
        with engine.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM patrol_point")).scalar_one()
        engine.dispose()
        return n

    before = count()
    named = client.post("/patrols", json={"worker_id": ids["worker_b"], "points": fixes}, headers=headers["worker_a"])
    assert named.status_code == 403 and f"names worker '{ids['worker_b']}'" in named.json()["description"]
    device = client.post("/patrols", json={"device": "phone-yi", "points": fixes}, headers=headers["worker_a"])
    assert device.status_code == 403 and "device 'phone-yi', registered to worker" in device.json()["description"]
    query = client.post(
        "/patrols", params={"worker": ids["worker_b"]}, json={"points": fixes}, headers=headers["worker_a"]
    )
    assert query.status_code == 403 and "only their own tracks" in query.json()["description"]
    unlinked = client.post("/patrols", json={"points": fixes}, headers=headers["unlinked"])
    assert unlinked.status_code == 403
    assert "not linked to a worker record" in unlinked.json()["description"]
    assert "commgrid users link w-unlinked --worker ID" in unlinked.json()["description"]
    leader = client.post("/patrols", json={"worker_id": ids["worker_a"], "points": fixes}, headers=headers["leader_a"])
    assert leader.status_code == 403 and "grid_leader" in leader.json()["description"]
    assert count() == before


def test_linking_an_account_opens_its_own_records(team):
    db = team["url"].render_as_string(hide_password=False)
    engine = create_engine(team["url"])
    with begin(engine) as conn:
        token = add_user(conn, "w-later", role="grid_worker")
    engine.dispose()
    client, ids = team["client"], team["ids"]
    assert client.get("/workers", headers=bearer(token)).status_code == 403
    linked = CliRunner().invoke(cli, ["users", "link", "w-later", "--worker", str(ids["worker_none"]), "--db", db])
    assert linked.exit_code == 0, linked.output
    assert [w["id"] for w in client.get("/workers", headers=bearer(token)).json()] == [ids["worker_none"]]
    taken = CliRunner().invoke(cli, ["users", "link", "w-later", "--worker", str(ids["worker_a"]), "--db", db])
    assert taken.exit_code != 0 and f"grid worker {ids['worker_a']} already has an account" in taken.output
    office = CliRunner().invoke(cli, ["users", "link", "t-analyst", "--worker", str(ids["worker_b"]), "--db", db])
    assert office.exit_code == 2 and "only a grid_worker account" in office.output


def test_existing_reports_are_backfilled_by_name_where_a_user_matches(create_database: Callable[..., URL]):
    """Migration 0011: a report whose recorded actor is a user's name becomes that user's; intake stays nobody's."""
    url = create_database("reporter_backfill", template=DATABASE)
    migrations.upgrade(url, "0010")
    engine = create_engine(url)
    with begin(engine) as conn:
        ids = tiny.make_district(conn)
        uid = conn.execute(
            text("INSERT INTO app_user (name, role) VALUES ('li', 'grid_worker') RETURNING id")
        ).scalar_one()
        made = {}
        for actor, source in (("li", "api"), ("open311", "open311"), ("nobody", "api"), ("li", "import:x.csv")):
            made[(actor, source)] = conn.execute(
                text(
                    "INSERT INTO incident (district_id, category, handling_class, status, source, geom) "
                    "VALUES (:d, 'sanitation.garbage', 'on_site', 'reported', :s, "
                    "ST_SetSRID(ST_MakePoint(114.08, 22.54), 4326)) RETURNING id"
                ),
                {"d": ids["district"], "s": source},
            ).scalar_one()
            conn.execute(
                text("INSERT INTO incident_event (incident_id, to_status, actor) VALUES (:i, 'reported', :a)"),
                {"i": made[(actor, source)], "a": actor},
            )
    migrations.upgrade(url)
    with engine.connect() as conn:
        owners = dict(conn.execute(text("SELECT id, reporter_user_id FROM incident")).all())
    engine.dispose()
    assert owners[made[("li", "api")]] == uid
    assert owners[made[("open311", "open311")]] is None
    assert owners[made[("nobody", "api")]] is None
    assert owners[made[("li", "import:x.csv")]] is None
