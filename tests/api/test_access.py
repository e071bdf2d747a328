"""Roles: every route declares one, and each role gets exactly what its routes allow, within its scope."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.access import ROUTE_ROLES, Role, api_routes, check_routes, route_id
from api.cli import app as cli
from gis.store import begin, create_engine
from gis.store.users import add_user
from gis.workers.store import assign_worker
from tests.api.conftest import bearer

# routes of one item where a team role is enough only for items in its scope: 403 or 404 outside it
IN_SCOPE_ONLY = {
    "incident_detail",
    "incident_transition",
    "incident_photo",
    "incident_photo_add",
    "worker",
    "worker_photo",
    "patrols_calendar",
}
# workers' personal data: closed to analysts (above the team, but their work is incident statistics)
# and to a grid worker account not linked to a worker record (api/scope.py)
PERSONAL = {
    "workers_list",
    "worker",
    "worker_photo",
    "patrols_import",
    "patrols_compliance",
    "patrols_tracks",
    "patrols_tile",
    "patrols_calendar",
    "patrols_weekly",
}


# the required query parameters of routes that have some, so that their answers are more than a 422
QUERY = {
    "patrols_compliance": {"date": "2026-11-02"},
    "patrols_tracks": {"date": "2026-11-02"},
    "patrols_tile": {"date": "2026-11-02"},
    "patrols_weekly": {"week": "2026-W45", "f": "json"},
}


@pytest.fixture(scope="module")
def worker_token(api_db) -> str:
    """A grid worker's token in the API database, the account not linked to a worker record."""
    engine = create_engine(api_db)
    with begin(engine) as conn:
        token = add_user(conn, "access-grid-worker", role="grid_worker")
    engine.dispose()
    return token


@pytest.fixture(scope="module")
def linked_worker_token(api_db) -> str:
    """A grid worker's token linked to a worker record posted to the last published grid."""
    engine = create_engine(api_db)
    with begin(engine) as conn:
        code = conn.execute(
            text(
                "SELECT g.code FROM grid g JOIN grid_plan p ON p.id = g.plan_id "
                "WHERE p.status = 'published' ORDER BY g.code DESC LIMIT 1"
            )
        ).scalar_one()
        worker = assign_worker(conn, grid_code=code, name="走访员", work_phone="0755-8888 0000")
        token = add_user(conn, "access-linked-worker", role="grid_worker", worker_id=worker.id)
    engine.dispose()
    return token


def fill(path: str, code: str) -> str:
    values = {
        "collection_id": "grids",
        "feature_id": code,
        "tms_id": "WebMercatorQuad",
        "z": "0",
        "y": "0",
        "x": "0",
        "name": "v1",
        "a": "v0",
        "b": "v1",
        "code": code,
        "worker_id": "1",
        "job_id": "0",
        "incident_id": "1",
        "photo_id": "1",
        "community": "SQ01",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_every_route_declares_its_role(client):
    check_routes(client.app)  # raises when one is missing
    routes = list(api_routes(client.app.routes))
    assert len(routes) > 30
    assert all(route_id(r) in ROUTE_ROLES for r in routes)


def test_every_route_by_every_role(client, tokens, team_tokens, worker_token, linked_worker_token):
    code = client.get("/collections/grids/items", params={"limit": 1}).json()["features"][0]["id"]
    callers = {Role.PUBLIC: {}, Role.GRID_WORKER: bearer(linked_worker_token)}
    callers |= {Role[r.upper()]: bearer(t) for r, t in (tokens | team_tokens).items()}
    assert set(callers) == set(Role)
    unlinked = bearer(worker_token)
    checked = 0
    for route in api_routes(client.app.routes):
        if "GET" not in route.methods:
            continue
        op = route_id(route)
        needed = ROUTE_ROLES[op]
        path = fill(route.path, code)
        params = QUERY.get(op, {})
        for role, headers in callers.items():
            r = client.get(path, params=params, headers=headers)
            if role < needed:
                expected = 401 if role == Role.PUBLIC else 403
                assert r.status_code == expected, (path, role, r.status_code)
                assert r.json()["description"]
            elif role == Role.ANALYST and op in PERSONAL:
                assert r.status_code == 403 and "personal data" in r.json()["description"], (path, r.text)
            elif role.is_team and op in IN_SCOPE_ONLY:
                # the role suffices; the item must also be in the caller's scope (else 404 or 403)
                assert r.status_code not in (401, 500), (path, role, r.text)
            else:
                assert r.status_code not in (401, 403), (path, role, r.text)
                assert r.status_code < 500, (path, role, r.text)
            checked += 1
        if op in PERSONAL and needed == Role.GRID_WORKER:
            r = client.get(path, params=params, headers=unlinked)
            assert r.status_code == 403 and "commgrid users link" in r.json()["description"], (path, r.text)
    assert checked > 100


def test_401_says_how_to_authenticate(client):
    r = client.get("/collections/units/items")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "needs the planner role" in r.json()["description"]


def test_403_names_the_user_and_role(client, tokens):
    r = client.get("/collections/units/items", headers=bearer(tokens["analyst"]))
    assert r.status_code == 403
    assert "user 'test-analyst' is analyst" in r.json()["description"]


@pytest.mark.parametrize("header", ["Bearer nope", "Basic dXNlcjpwdw==", "Bearer "])
def test_bad_tokens_are_401_even_on_public_routes(client, header):
    r = client.get("/collections/grids/items", headers={"Authorization": header})
    assert r.status_code == 401


def test_collections_list_what_the_role_may_read(client, tokens, worker_token):
    def ids(headers):
        return [c["id"] for c in client.get("/collections", headers=headers).json()["collections"]]

    assert ids({}) == ["grids", "communities", "streets"]
    assert ids(bearer(worker_token)) == ["grids", "communities", "streets"]  # no raw incident points
    assert ids(bearer(tokens["analyst"])) == ["grids", "communities", "incidents", "streets"]
    assert ids(bearer(tokens["planner"])) == ["grids", "communities", "incidents", "streets", "units"]
    assert client.get("/collections/units").status_code == 401


def test_public_grids_carry_no_personal_fields(client):
    feature = client.get("/collections/grids/items", params={"limit": 1}).json()["features"][0]
    assert set(feature["properties"]) == {
        "code",
        "name",
        "community",
        "community_name",
        "households",
        "population",
        "status",
        "worker",
        "worker_phone",
    }


def test_users_cli_add_renew_remove(api_db, client):
    db = api_db.render_as_string(hide_password=False)
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "carol", "--role", "planner", "--db", db])
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1]
    assert token.startswith("cg_")
    assert client.get("/whoami", headers=bearer(token)).json() == {
        "user": "carol",
        "role": "planner",
        "collections": ["grids", "communities", "incidents", "streets", "units"],
        "worker_id": None,
        "grids": [],
        "communities": [],
    }
    listed = runner.invoke(cli, ["users", "list", "--db", db])
    assert "carol" in listed.output and token not in listed.output
    renewed = runner.invoke(cli, ["users", "token", "carol", "--db", db])
    new = renewed.output.strip().splitlines()[-1]
    assert client.get("/whoami", headers=bearer(token)).status_code == 401  # the old token stops at once
    assert client.get("/whoami", headers=bearer(new)).status_code == 200
    assert runner.invoke(cli, ["users", "add", "carol", "--role", "planner", "--db", db]).exit_code == 1
    bad = runner.invoke(cli, ["users", "add", "dave", "--role", "boss", "--db", db])
    assert bad.exit_code == 2 and "unknown role 'boss'" in bad.output
    assert runner.invoke(cli, ["users", "remove", "carol", "--db", db]).exit_code == 0
    assert client.get("/whoami", headers=bearer(new)).status_code == 401


def test_the_team_reads_its_scope_but_no_analyst_routes():
    """The role table: the grid team reports, lists and handles (within its scope), reads its workers' records
    and patrols; raw incident points and analytics stay with analysts."""
    team_routes = {op for op, role in ROUTE_ROLES.items() if role == Role.GRID_WORKER}
    assert team_routes == {"incident_create", "incident_detail", "incident_transition", "incident_list"} | PERSONAL | {
        "worklog_create",  # their own log, or their scope's (tests/api/test_worklog.py)
        "worklog_list",
        "worklog_change",
        "worklog_review",
        "incident_photo_add",  # photos of the incidents in their scope (tests/api/test_incident_photos.py)
        "incident_photo",
    }
    assert not any(Role.GRID_WORKER < role < Role.ANALYST for role in ROUTE_ROLES.values())
    for op in ("incidents_items", "incidents_tile", "analytics_hotspots", "analytics_grids", "analytics_heatmap"):
        assert ROUTE_ROLES[op] == Role.ANALYST, op
    for op in ("worker_assign", "worker_change", "worker_retire", "plan_edit"):
        assert ROUTE_ROLES[op] == Role.PLANNER, op


def test_users_cli_adds_a_grid_worker(api_db, client):
    db = api_db.render_as_string(hide_password=False)
    added = CliRunner().invoke(cli, ["users", "add", "wang", "--role", "grid_worker", "--db", db])
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1]
    assert client.get("/whoami", headers=bearer(token)).json() == {
        "user": "wang",
        "role": "grid_worker",
        "collections": ["grids", "communities", "streets"],
        "worker_id": None,
        "grids": [],
        "communities": [],
    }
    bad = CliRunner().invoke(cli, ["users", "add", "li", "--role", "worker", "--db", db])
    roles = "grid_worker, grid_leader, station_master, community_director, analyst, planner, admin"
    assert bad.exit_code == 2 and f"roles are {roles}" in " ".join(bad.output.split())
    assert CliRunner().invoke(cli, ["users", "remove", "wang", "--db", db]).exit_code == 0
