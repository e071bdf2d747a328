"""Incident routes and the import command: intake, workflow (409s), access, COPY import."""

from __future__ import annotations

from collections.abc import Callable

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
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer
from tests.gis.incidents.vancouver import CATEGORIES, FOLDER, MAPPING, store_vancouver
from tests.gis.patrols import tiny

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def incidents(create_database: Callable[..., URL]) -> tuple[TestClient, URL, dict]:
    """The tiny district (grids A and B) in a database of its own; users analyst, planner and grid workers gw1, gw2."""
    url = create_database("incidents_api", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    with begin(engine) as conn:
        tiny.make_district(conn)
        headers = {role: bearer(add_user(conn, role, role=role)) for role in ("analyst", "planner")}
        headers |= {name: bearer(add_user(conn, name, role="grid_worker")) for name in ("gw1", "gw2")}
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as client:
        yield client, url, headers


def body(xy=(100, 100), **extra):
    lon, lat = tiny.lonlat([xy])[0]
    return {"category": "fire_hazard.blocked_exit", "lon": lon, "lat": lat, "reporter_phone": "138", **extra}


def test_an_analyst_reports_and_the_grid_is_found(incidents):
    client, _, headers = incidents
    made = client.post("/incidents", json=body(description="楼道堆物"), headers=headers["analyst"])
    assert made.status_code == 201, made.text
    got = made.json()
    assert (got["grid_code"], got["handling_class"], got["status"]) == ("A", "on_site", "reported")
    assert made.headers["location"] == f"/incidents/{got['id']}"
    assert made.headers["cache-control"] == "private, no-store"
    again = client.get(made.headers["location"], headers=headers["analyst"]).json()
    assert again["reporter"]["phone"] == "138" and again["events"][0]["actor"] == "analyst"


def test_the_public_neither_reports_nor_reads_but_sees_the_taxonomy(incidents):
    client = incidents[0]
    assert client.post("/incidents", json=body()).status_code == 401
    assert client.get("/incidents/1").status_code == 401
    tax = client.get("/incidents/taxonomy").json()
    assert {"code": "sanitation", "parent": None, "level": 1, "zh": "环境卫生", "en": "Sanitation"}.items() <= tax[
        [t["code"] for t in tax].index("sanitation")
    ].items()


def test_the_workflow_answers_409_for_moves_it_does_not_allow(incidents):
    client, _, headers = incidents
    new = client.post("/incidents", json=body(category="dispute.family"), headers=headers["analyst"]).json()["id"]
    url = f"/incidents/{new}/transitions"
    moved = client.post(url, json={"to": "accepted", "note": "已受理"}, headers=headers["analyst"])
    assert moved.status_code == 200 and moved.json()["status"] == "accepted"
    refused = client.post(url, json={"to": "closed"}, headers=headers["analyst"])
    assert refused.status_code == 409
    assert "cannot move to 'closed'; it may move to ['filed', 'returned', 'parked'" in refused.json()["description"]
    assert client.post(url, json={"to": "done"}, headers=headers["analyst"]).status_code == 400
    assert client.post("/incidents/0/transitions", json={"to": "filed"}, headers=headers["analyst"]).status_code == 404
    events = client.get(f"/incidents/{new}", headers=headers["analyst"]).json()["events"]
    assert [(e["to_status"], e["note"]) for e in events] == [("reported", None), ("accepted", "已受理")]


def test_bad_reports_say_what_is_wrong(incidents):
    client, _, headers = incidents
    outside = client.post("/incidents", json=body(xy=(5000, 5000)), headers=headers["analyst"])
    assert outside.status_code == 400 and "lies in no stored district" in outside.json()["description"]
    unknown = client.post("/incidents", json=body(category="rubbish"), headers=headers["analyst"])
    assert unknown.status_code == 400 and "unknown category 'rubbish'" in unknown.json()["description"]
    assert client.post("/incidents", json=body(lat=99), headers=headers["analyst"]).status_code == 422


def test_the_incidents_collection_still_serves_reported_points(incidents):
    client, _, headers = incidents
    client.post("/incidents", json=body(), headers=headers["analyst"])
    items = client.get("/collections/incidents/items", headers=headers["analyst"]).json()
    assert items["features"] and "reporter_phone" not in items["features"][0]["properties"]


def test_the_import_command_copies_vancouver_crimes(incidents, shared_data):
    _, url, _ = incidents
    engine = create_engine(url)
    with begin(engine) as conn:
        store_vancouver(conn, shared_data)
    args = ["incidents", "import", str(shared_data / FOLDER / "vancouver_crimes_2020.csv")]
    args += [f"--map={field}={column}" for field, column in MAPPING.items()]
    args += [f"--category={value}={code}" for value, code in CATEGORIES.items()]
    args += ["--crs", "EPSG:26910", "--timezone", "America/Vancouver"]
    db = ["--db", url.render_as_string(hide_password=False)]
    result = runner.invoke(cli, [*args, *db])
    assert result.exit_code == 0, result.output
    assert "37512 rows read; 1 without coordinates left out" in result.output
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM incident WHERE source LIKE 'import:%'")).scalar_one()
    engine.dispose()
    assert f"{stored} incidents stored" in result.output and stored > 33_000
    assert "marked as possible duplicates" in result.output
    bad = runner.invoke(cli, [*args[:3], "--map", "category", *db])
    assert bad.exit_code == 2 and "--map 'category': write it as FIELD=COLUMN" in bad.output


def test_a_grid_worker_reports_and_takes_the_on_site_steps_of_their_own_incidents(incidents):
    client, _, headers = incidents
    made = client.post("/incidents", json=body(), headers=headers["gw1"])  # a blocked fire exit: on site
    assert made.status_code == 201, made.text
    url = made.headers["location"]
    assert client.get(url, headers=headers["gw1"]).json()["reporter"]["phone"] == "138"
    moves = f"{url}/transitions"
    handled = client.post(moves, json={"to": "verifying", "note": "当场处置"}, headers=headers["gw1"])
    assert handled.status_code == 200 and handled.json()["status"] == "verifying"
    closing = client.post(moves, json={"to": "closed"}, headers=headers["gw1"])
    assert closing.status_code == 403 and "the move to 'closed' is the centre's" in closing.json()["description"]
    assert client.post(moves, json={"to": "rework"}, headers=headers["analyst"]).status_code == 200
    for step in ("handling", "verifying"):
        assert client.post(moves, json={"to": step}, headers=headers["gw1"]).status_code == 200
    assert client.post(moves, json={"to": "closed"}, headers=headers["analyst"]).json()["status"] == "closed"
    events = client.get(url, headers=headers["analyst"]).json()["events"]
    assert [(e["actor"], e["to_status"]) for e in events][-3:] == [
        ("gw1", "handling"), ("gw1", "verifying"), ("analyst", "closed")
    ]  # fmt: skip


def test_a_grid_worker_gets_no_analyst_data(incidents):
    client, _, headers = incidents
    theirs = client.post("/incidents", json=body(reporter_name="李先生"), headers=headers["gw1"]).json()["id"]
    other = client.get(f"/incidents/{theirs}", headers=headers["gw2"])
    assert other.status_code == 403 and "李先生" not in other.text and "gw1" not in other.text
    assert "outside your scope" in other.json()["description"]
    assert (
        client.post(f"/incidents/{theirs}/transitions", json={"to": "verifying"}, headers=headers["gw2"]).status_code
        == 403
    )
    coordinated = client.post("/incidents", json=body(category="dispute.family"), headers=headers["gw1"]).json()
    refused = client.post(
        f"/incidents/{coordinated['id']}/transitions", json={"to": "verifying"}, headers=headers["gw1"]
    )
    assert refused.status_code == 403 and "is coordinated" in refused.json()["description"]
    for path in (
        "/collections/incidents/items",
        "/analytics/hotspots",
        "/analytics/grids",
    ):
        assert client.get(path, headers=headers["gw1"]).status_code == 403, path
    # their list holds their own reports only (this account has no worker record, so no grid of its own)
    listed = client.get("/incidents", headers=headers["gw2"]).json()["incidents"]
    assert theirs not in [r["id"] for r in listed]
    mine = client.get("/incidents", headers=headers["gw1"]).json()["incidents"]
    assert {theirs, coordinated["id"]} <= {r["id"] for r in mine}
    tile = client.get("/collections/incident-density/tiles/WebMercatorQuad/14/0/0", headers=headers["gw1"])
    assert tile.status_code in (200, 204) and tile.headers["cache-control"] == "public, no-cache"  # the public view


def test_analysts_list_overdue_incidents(incidents):
    client, _, headers = incidents
    old = body(category="fire_hazard.equipment", reported_at="2026-01-01T00:00:00Z")  # 24 hours allowed
    late = client.post("/incidents", json=old, headers=headers["analyst"]).json()["id"]
    listed = client.get("/incidents", params={"overdue": "red", "district": "tiny"}, headers=headers["analyst"])
    assert listed.status_code == 200 and listed.headers["cache-control"] == "private, no-store"
    row = next(r for r in listed.json()["incidents"] if r["id"] == late)
    assert (row["flag"], row["grid_code"], row["due_at"]) == ("red", "A", "2026-01-02T00:00:00Z")
    assert set(row) >= {"category", "status", "reported_at"} and "reporter_phone" not in row
    assert client.get("/incidents", params={"overdue": "orange"}, headers=headers["analyst"]).status_code == 422
    everything = client.get("/incidents", headers=headers["analyst"]).json()  # no level: every incident, newest first
    assert late in [r["id"] for r in everything["incidents"]] and everything["overdue"] is None
    assert client.get("/incidents", params={"overdue": "red"}).status_code == 401
