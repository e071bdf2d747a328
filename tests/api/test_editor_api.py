"""The workbench's routes: its layers, draft copies, and re-dividing one community of a draft."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL

from api.app import create_app
from api.settings import Settings
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer, database_with_plans
from tests.api.test_plans import boundary_move


@pytest.fixture(scope="module")
def bench(create_database: Callable[..., URL], sample_plan) -> tuple[TestClient, URL, dict, dict]:
    url = database_with_plans(create_database, "editor_api", sample_plan.gpkg, {"pub": True})
    engine = create_engine(url)
    with begin(engine) as conn:
        planner = bearer(add_user(conn, "ed-planner", role="planner"))
        analyst = bearer(add_user(conn, "ed-analyst", role="analyst"))
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as c:
        yield c, url, planner, analyst


def fetch(url: URL, sql: str, **params) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    engine.dispose()
    return rows


def assignment(url: URL, plan: str, community: str | None = None) -> dict[str, str]:
    rows = fetch(
        url,
        """
        SELECT u.unit_id, g.code FROM grid_plan p JOIN grid_assignment x ON x.plan_id = p.id
        JOIN grid g ON g.id = x.grid_id JOIN unit u ON u.id = x.unit_id
        LEFT JOIN community c ON c.id = u.community_id
        WHERE p.name = :plan AND (CAST(:c AS text) IS NULL OR c.community_id = :c)
        """,
        plan=plan,
        c=community,
    )
    return dict(rows)


def consistent(url: URL, plan: str) -> None:
    """Every grid's counts are its units' sums, no grid is empty, every unit has one grid."""
    bad = fetch(
        url,
        """
        SELECT g.code FROM grid_plan p JOIN grid g ON g.plan_id = p.id
        LEFT JOIN grid_assignment x ON x.grid_id = g.id LEFT JOIN unit u ON u.id = x.unit_id
        WHERE p.name = :plan GROUP BY g.code, g.households, g.population, g.n_units
        HAVING count(u.id) = 0 OR g.households <> sum(u.households) OR g.population <> sum(u.population)
            OR g.n_units <> count(u.id)
        """,
        plan=plan,
    )
    assert bad == []
    units = fetch(url, "SELECT count(*) FROM unit")[0][0]
    assert len(assignment(url, plan)) == units


def copy(client: TestClient, headers: dict, name: str) -> None:
    r = client.post("/plans/pub/copy", json={"name": name}, headers=headers)
    assert r.status_code == 201, r.text


def version(client: TestClient, headers: dict, plan: str) -> int:
    return client.get(f"/plans/{plan}", headers=headers).json()["version"]


def test_the_editor_page_is_served_and_its_layers_only_to_planners(bench):
    client, url, planner, analyst = bench
    page = client.get("/editor?plan=pub")
    assert page.status_code == 200 and "Planner's workbench" in page.text
    assert client.get("/editor/layers?plan=pub").status_code == 401
    assert client.get("/editor/layers?plan=pub", headers=analyst).status_code == 403
    r = client.get("/editor/layers?plan=pub", headers=planner)
    assert r.status_code == 200
    body = r.json()
    assert body["plan"]["name"] == "pub" and body["plan"]["published"] == "pub"
    units = body["units"]["features"]
    assert len(units) == fetch(url, "SELECT count(*) FROM unit")[0][0]
    assert {f["properties"]["grid"] for f in units} == {f["properties"]["code"] for f in body["grids"]["features"]}
    one = units[0]["properties"]
    assert {"unit_id", "households", "population", "compound", "community", "anchor"} <= set(one)
    only = client.get("/editor/layers?plan=pub&layers=grids", headers=planner).json()
    assert "grids" in only and "units" not in only
    bad = client.get("/editor/layers?plan=pub&layers=roads", headers=planner)
    assert bad.status_code == 400 and "roads" in bad.json()["description"]
    assert client.get("/editor/layers?plan=nope", headers=planner).status_code == 404


def test_a_copy_of_the_published_plan_is_an_identical_draft(bench):
    client, url, planner, analyst = bench
    assert client.post("/plans/pub/copy", json={"name": "c0"}, headers=analyst).status_code == 403
    copy(client, planner, "c0")
    plan = client.get("/plans/c0", headers=planner).json()
    assert plan["status"] == "draft" and plan["version"] == 1
    diff = client.get("/plans/pub/diff/c0", headers=planner).json()
    assert diff["changed"] == diff["added"] == diff["removed"] == [] and diff["units_moved"] == 0
    assert assignment(url, "c0") == assignment(url, "pub")
    assert client.post("/plans/pub/copy", json={"name": "c0"}, headers=planner).status_code == 409
    assert client.post("/plans/nope/copy", json={"name": "c1"}, headers=planner).status_code == 404
    consistent(url, "c0")


def community_of(url: URL, plan: str, code: str) -> str:
    return fetch(
        url,
        "SELECT c.community_id FROM grid g JOIN grid_plan p ON p.id = g.plan_id JOIN community c "
        "ON c.id = g.community_id WHERE p.name = :p AND g.code = :c",
        p=plan,
        c=code,
    )[0][0]


def off_range(client: TestClient, headers: dict, plan: str, community: str) -> int:
    grids = client.get(f"/editor/layers?plan={plan}&layers=grids", headers=headers).json()["grids"]["features"]
    return sum(1 for g in grids if g["properties"]["community"] == community and g["properties"]["status"] != "ok")


def test_redividing_a_community_in_range_moves_nothing(bench):
    client, url, planner, _ = bench
    copy(client, planner, "calm")
    grids = client.get("/editor/layers?plan=calm&layers=grids", headers=planner).json()["grids"]["features"]
    by_community: dict[str, list] = {}
    for g in grids:
        by_community.setdefault(g["properties"]["community"], []).append(g["properties"]["status"])
    community = next(c for c, s in sorted(by_community.items()) if len(s) > 1 and set(s) == {"ok"})
    r = client.post(f"/plans/calm/communities/{community}/redivide", json={"version": 1}, headers=planner)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["households_moved"] == 0 and body["changed"] == body["added"] == body["retired"] == []
    assert body["version"] == 2 and r.headers["ETag"] == '"2"'
    assert assignment(url, "calm") == assignment(url, "pub")


def test_redividing_a_troubled_community_keeps_locks_and_stores_one_versioned_edit(bench):
    client, url, planner, _ = bench
    copy(client, planner, "work")
    unit, source, target, _ = boundary_move(url, "work")
    moved = client.patch(
        "/plans/work/assignment", json={"units": [unit], "grid": target}, headers={**planner, "If-Match": '"1"'}
    )
    assert moved.status_code == 200, moved.text
    community = community_of(url, "work", target)
    others = sorted({c for c in assignment(url, "work", community).values()} - {source, target})
    before = assignment(url, "work", community)
    locked = others[:1]
    off_before = off_range(client, planner, "work", community)

    # a dry run reports and keeps nothing
    dry = client.post(
        f"/plans/work/communities/{community}/redivide",
        json={"lock": locked, "dry_run": True},
        headers={**planner, "If-Match": '"2"'},
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["applied"] is False and version(client, planner, "work") == 2
    assert assignment(url, "work", community) == before

    # a stale version is a conflict, and a lock outside the community is refused
    stale = client.post(f"/plans/work/communities/{community}/redivide", json={"version": 1}, headers=planner)
    assert stale.status_code == 409 and "version" in stale.json()["description"]
    foreign = client.post(
        f"/plans/work/communities/{community}/redivide", json={"version": 2, "lock": ["nope"]}, headers=planner
    )
    assert foreign.status_code == 400 and "nope" in foreign.json()["description"]
    missing = client.post("/plans/work/communities/nowhere/redivide", json={"version": 2}, headers=planner)
    assert missing.status_code == 404

    r = client.post(
        f"/plans/work/communities/{community}/redivide", json={"version": 2, "lock": locked}, headers=planner
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["applied"] and body["version"] == 3 and body["locked"] == locked
    after = assignment(url, "work", community)
    # the locked grid holds exactly the units it held
    for code in locked:
        assert {u for u, c in after.items() if c == code} == {u for u, c in before.items() if c == code}
    changed = {u for u in before if before[u] != after[u]}
    assert set(body["moved_units"]) == changed and body["units_moved"] == len(changed)
    assert off_range(client, planner, "work", community) <= off_before
    consistent(url, "work")
    audit = fetch(
        url, "SELECT actor, detail FROM audit_log WHERE action = 'plan.redivide' AND detail->>'plan' = :p", p="work"
    )
    assert [(a, d["community"], d["version"]) for a, d in audit] == [("ed-planner", community, [2, 3])]


def test_a_published_plan_is_not_redivided(bench):
    client, url, planner, analyst = bench
    community = fetch(url, "SELECT community_id FROM community ORDER BY community_id LIMIT 1")[0][0]
    path = f"/plans/pub/communities/{community}/redivide"
    assert client.post(path, json={"version": 1}, headers=analyst).status_code == 403
    r = client.post(path, json={"version": 1}, headers=planner)
    assert r.status_code == 409 and "read-only" in r.json()["description"]
