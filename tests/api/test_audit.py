"""The audit log through the API and the CLI: personal reads, publishes, edits, and who may read the log.

Entries are written here, so these tests use a database of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import shapely.geometry
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from api.app import create_app
from api.audit import PERSONAL_READS
from api.cli import app as cli
from api.settings import Settings
from gis.store import begin, create_engine
from gis.store.audit import cli_actor
from gis.store.users import add_user
from tests.api.conftest import bearer, database_with_plans

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def store(create_database: Callable[..., URL], sample_plan) -> URL:
    return database_with_plans(create_database, "audit", sample_plan.gpkg, {"a1": True, "a2": False, "a3": False})


@pytest.fixture(scope="module")
def users(store: URL) -> dict[str, dict[str, str]]:
    engine = create_engine(store)
    with begin(engine) as conn:
        out = {role: bearer(add_user(conn, f"audit-{role}", role=role)) for role in ("analyst", "planner", "admin")}
    engine.dispose()
    return out


@pytest.fixture(scope="module")
def client(store: URL, users) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=store.render_as_string(hide_password=False)))) as c:
        yield c


def entries(client: TestClient, users, **query) -> list[dict]:
    r = client.get("/audit", params=query, headers=users["admin"])
    assert r.status_code == 200, r.text
    return r.json()


def sql(store: URL, statement: str) -> None:
    engine = create_engine(store)
    with begin(engine) as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_a_read_of_personal_data_is_recorded_with_who_what_and_when(client, users):
    r = client.get("/workers", params={"active": "true"}, headers=users["planner"])
    assert r.status_code == 200
    (entry, *_) = entries(client, users, action="personal.read", actor="audit-planner")
    assert entry["target"] == "/workers" and entry["at"]
    assert entry["detail"] == {"operation": "workers_list", "method": "GET", "query": "active=true", "status": 200}


def test_reading_the_audit_log_is_itself_recorded(client, users):
    entries(client, users, limit=1)
    (entry,) = entries(client, users, action="personal.read", actor="audit-admin", limit=1)
    assert entry["detail"]["operation"] == "audit_list" and entry["detail"]["query"] == "limit=1"


def test_an_incident_with_its_reporter_is_a_personal_read_but_a_miss_is_not(client, users):
    grid = shapely.geometry.shape(
        client.get("/collections/grids/items", params={"limit": 1}).json()["features"][0]["geometry"]
    )
    inside = grid.representative_point()  # a vertex may lie on the district's edge, which is no place to report from
    lon, lat = inside.x, inside.y
    created = client.post(
        "/incidents",
        json={"category": "dispute.neighbour", "lon": lon, "lat": lat, "reporter_name": "张三"},
        headers=users["analyst"],
    )
    assert created.status_code == 201, created.text
    incident = created.json()["id"]
    assert client.get(f"/incidents/{incident}", headers=users["analyst"]).status_code == 200
    assert client.get("/incidents/987654321", headers=users["analyst"]).status_code == 404
    targets = [e["target"] for e in entries(client, users, action="personal.read", actor="audit-analyst")]
    assert f"/incidents/{incident}" in targets and "/incidents/987654321" not in targets


def test_only_administrators_read_the_audit_log(client, users):
    assert client.get("/audit").status_code == 401
    assert client.get("/audit", headers=users["planner"]).status_code == 403


def test_personal_data_is_not_sent_when_its_read_cannot_be_recorded(client, users, store):
    sql(
        store,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'audit log is read-only'; END $$;"
        "CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse()",
    )
    try:
        r = client.get("/workers", headers=users["planner"])
    finally:
        sql(store, "DROP TRIGGER refuse ON audit_log; DROP FUNCTION refuse()")
    assert r.status_code == 503 and r.headers["retry-after"]
    assert r.json() == {"code": "DatabaseUnavailableError", "description": "The service cannot answer right now."}


def test_publishes_and_edits_through_the_api_name_the_planner(client, users, store):
    plan = client.get("/plans/a2", headers=users["planner"])
    unit, grid = _a_move(store, "a2")
    edit = client.patch(
        "/plans/a2/assignment",
        json={"units": [unit], "grid": grid, "version": int(plan.headers["etag"].strip('"'))},
        headers=users["planner"],
    )
    assert edit.status_code == 200, edit.text
    dry = client.patch(
        "/plans/a2/assignment",
        json={"units": [unit], "grid": grid, "version": 2, "dry_run": True},
        headers=users["planner"],
    )
    assert dry.status_code in (200, 409)
    assert client.post("/plans/a2/publish", headers=users["planner"]).status_code == 200
    (edited,) = entries(client, users, action="plan.edit")  # the dry run left none
    assert edited["actor"] == "audit-planner" and edited["detail"]["units"] == [unit]
    assert edited["detail"]["grid"] == grid and edited["detail"]["moved"] == 1
    published = entries(client, users, action="plan.publish")[0]
    assert published["actor"] == "audit-planner"
    assert published["detail"]["plan"] == "a2" and published["detail"]["archived"] == ["a1"]


def test_the_cli_records_a_publish_for_the_shell_user_and_lists_the_log(store):
    db = store.render_as_string(hide_password=False)
    assert runner.invoke(cli, ["plans", "publish", "a3", "--db", db]).exit_code == 0
    listed = runner.invoke(cli, ["audit", "list", "--action", "plan.publish", "--db", db])
    assert listed.exit_code == 0, listed.output
    assert cli_actor() in listed.output and "plan.publish" in listed.output and '"plan": "a3"' in listed.output
    as_json = runner.invoke(cli, ["audit", "list", "--action", "personal.read", "--limit", "1", "--json", "--db", db])
    assert as_json.exit_code == 0 and '"action": "personal.read"' in as_json.output


def test_every_personal_route_exists_and_needs_a_role(client):
    from api.access import ROUTE_ROLES, Role, api_routes

    ids = {r.operation_id for r in api_routes(client.app.routes)}
    assert set(PERSONAL_READS) <= ids
    assert all(ROUTE_ROLES[op] > Role.PUBLIC for op in PERSONAL_READS)


def _a_move(store: URL, plan: str) -> tuple[str, str]:
    """A unit of the plan and another grid of its community it shares an edge with (edits keep grids whole)."""
    from tests.api.test_plans import boundary_move

    unit, _, to_code, _ = boundary_move(store, plan)
    return unit, to_code
