"""The workbench's stored state: grid locks kept with the plan, a re-division undone and redone as one
validated edit, re-division that follows the district's stored barriers, and the attributes-only layers
the page paints beside the vector tiles."""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL

from api.app import create_app
from api.settings import Settings
from gis.plans.store import write_barriers
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer, database_with_plans
from tests.api.test_editor_api import assignment, community_of, consistent, copy, fetch, version
from tests.api.test_plans import boundary_move


@pytest.fixture(scope="module")
def desk(create_database: Callable[..., URL], sample_plan) -> tuple[TestClient, URL, dict, dict, dict]:
    url = database_with_plans(create_database, "editor_locks", sample_plan.gpkg, {"pub": True})
    engine = create_engine(url)
    with begin(engine) as conn:
        planner = bearer(add_user(conn, "lk-planner", role="planner"))
        second = bearer(add_user(conn, "lk-second", role="planner"))
        analyst = bearer(add_user(conn, "lk-analyst", role="analyst"))
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as c:
        yield c, url, planner, second, analyst


def locks(client: TestClient, headers: dict, plan: str) -> list[str]:
    grids = client.get(f"/editor/layers?plan={plan}&layers=grids&outlines=false", headers=headers).json()
    return sorted(g["properties"]["code"] for g in grids["grids"]["features"] if g["properties"]["locked"])


def test_layers_without_outlines_carry_the_attributes_and_the_districts_extent(desk):
    client, url, planner, _, _ = desk
    full = client.get("/editor/layers?plan=pub", headers=planner).json()
    bare = client.get("/editor/layers?plan=pub&outlines=false", headers=planner).json()
    for layer in ("units", "grids", "communities"):
        assert [f["properties"] for f in bare[layer]["features"]] == [f["properties"] for f in full[layer]["features"]]
        assert all(f["geometry"] is None for f in bare[layer]["features"])
        assert all(f["geometry"] is not None for f in full[layer]["features"])
    (west, south), (east, north) = bare["plan"]["bounds"]
    extent = fetch(
        url, "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM unit) x"
    )
    assert (west, south, east, north) == pytest.approx(tuple(extent[0]))
    for f in bare["units"]["features"]:
        x, y = f["properties"]["anchor"]
        assert west <= x <= east and south <= y <= north


def test_a_lock_is_stored_with_the_plan_seen_by_every_planner_and_holds_against_edits(desk):
    client, url, planner, second, analyst = desk
    copy(client, planner, "locked")
    unit, source, target, _ = boundary_move(url, "locked")
    path = f"/plans/locked/grids/{target}/lock"
    assert client.put(path).status_code == 401
    assert client.put(path, headers=analyst).status_code == 403
    r = client.put(path, headers=planner)
    assert r.status_code == 200 and r.json()["locked"] == [target]
    assert client.put(path, headers=planner).json()["locked"] == [target]  # locking twice changes nothing
    assert locks(client, second, "locked") == [target]  # another planner sees it
    assert version(client, planner, "locked") == 1  # a lock moves no unit: the plan's version stays

    # the server refuses moves into or out of a locked grid, whoever sends them
    refused = client.patch(
        "/plans/locked/assignment", json={"units": [unit], "grid": target}, headers={**second, "If-Match": '"1"'}
    )
    assert refused.status_code == 409 and "locked" in refused.json()["description"]
    assert assignment(url, "locked")[unit] == source

    assert client.put("/plans/locked/grids/nope/lock", headers=planner).status_code == 404
    assert client.put(f"/plans/pub/grids/{target}/lock", headers=planner).status_code == 409  # published: read-only
    r = client.delete(path, headers=second)
    assert r.status_code == 200 and r.json()["locked"] == []
    moved = client.patch(
        "/plans/locked/assignment", json={"units": [unit], "grid": target}, headers={**planner, "If-Match": '"1"'}
    )
    assert moved.status_code == 200, moved.text
    audit = fetch(url, "SELECT actor, action FROM audit_log WHERE action LIKE 'plan.%lock' ORDER BY id")
    assert [tuple(a) for a in audit] == [("lk-planner", "plan.lock"), ("lk-second", "plan.unlock")]


def one_unit_moved(client: TestClient, url: URL, planner: dict, plan: str) -> tuple[str, str, str, dict]:
    """A copy ``plan`` of the published plan at version 2, one boundary unit moved to its neighbour grid.

    Returns the unit's old and new grid, their community and its assignment after the move.
    """
    copy(client, planner, plan)
    unit, source, target, _ = boundary_move(url, plan)
    moved = client.patch(
        f"/plans/{plan}/assignment", json={"units": [unit], "grid": target}, headers={**planner, "If-Match": '"1"'}
    )
    assert moved.status_code == 200, moved.text
    community = community_of(url, plan, target)
    return source, target, community, assignment(url, plan, community)


def test_redivision_keeps_the_stored_locks_without_being_told(desk):
    client, url, planner, _, _ = desk
    source, target, community, before = one_unit_moved(client, url, planner, "kept")
    others = sorted(set(before.values()) - {source, target})
    if not others:
        pytest.skip("the sample community has only the two grids edited")
    held = others[0]
    assert client.put(f"/plans/kept/grids/{held}/lock", headers=planner).status_code == 200
    r = client.post(f"/plans/kept/communities/{community}/redivide", json={"version": 2}, headers=planner)
    assert r.status_code == 200, r.text
    assert held in r.json()["locked"]
    after = assignment(url, "kept", community)
    assert {u for u, c in after.items() if c == held} == {u for u, c in before.items() if c == held}
    assert locks(client, planner, "kept") == [held]


def test_a_redivision_is_undone_and_redone_as_one_validated_versioned_edit(desk):
    client, url, planner, _, analyst = desk
    _source, target, community, before = one_unit_moved(client, url, planner, "undo")
    r = client.post(f"/plans/undo/communities/{community}/redivide", json={"version": 2}, headers=planner)
    assert r.status_code == 200, r.text
    body = r.json()
    after = assignment(url, "undo", community)
    assert after != before
    path = f"/plans/undo/communities/{community}/assignment"

    assert client.put(path, json={"assignment": before, "version": 3}, headers=analyst).status_code == 403
    stale = client.put(path, json={"assignment": before, "version": 2}, headers=planner)
    assert stale.status_code == 409 and "version" in stale.json()["description"]
    outside = fetch(
        url,
        "SELECT u.unit_id FROM unit u JOIN community c ON c.id = u.community_id WHERE c.community_id <> :c LIMIT 1",
        c=community,
    )[0][0]
    foreign = client.put(path, json={"assignment": {**before, outside: target}, "version": 3}, headers=planner)
    assert foreign.status_code == 400 and outside in foreign.json()["description"]
    dry = client.put(path, json={"assignment": before, "version": 3, "dry_run": True}, headers=planner)
    assert dry.status_code == 200 and dry.json()["applied"] is False and assignment(url, "undo", community) == after

    # undo: the assignment before the engine ran, grids it retired made again
    undone = client.put(path, json={"assignment": before, "version": 3}, headers=planner)
    assert undone.status_code == 200, undone.text
    assert undone.json()["version"] == 4 and undone.headers["ETag"] == '"4"'
    assert assignment(url, "undo", community) == before
    codes = {
        c for (c,) in fetch(url, "SELECT g.code FROM grid g JOIN grid_plan p ON p.id = g.plan_id WHERE p.name = 'undo'")
    }
    assert set(body["retired"]) <= codes and not set(body["added"]) & codes
    consistent(url, "undo")
    # redo: the engine's result again
    redone = client.put(path, json={"assignment": after, "version": 4}, headers=planner)
    assert redone.status_code == 200 and assignment(url, "undo", community) == after
    consistent(url, "undo")
    audit = fetch(url, "SELECT detail->'version' FROM audit_log WHERE action = 'plan.reassign' ORDER BY id")
    assert [a for (a,) in audit] == [[3, 4], [4, 5]]


def test_an_assignment_that_splits_a_grid_is_refused_and_stores_nothing(desk):
    client, url, planner, _, _ = desk
    copy(client, planner, "split")
    _unit, source, target, _ = boundary_move(url, "split")
    community = community_of(url, "split", target)
    before = assignment(url, "split", community)
    # every other unit of the target grid into the source grid: one of the two grids falls apart
    target_units = sorted(u for u, c in before.items() if c == target)
    if len(target_units) < 3:
        pytest.skip("the target grid is too small to split")
    scattered = {**before, **{u: source for u in target_units[::2]}}
    r = client.put(
        f"/plans/split/communities/{community}/assignment",
        json={"assignment": scattered, "version": 1},
        headers=planner,
    )
    if r.status_code == 200:
        pytest.skip("this sample's units happened to stay contiguous")
    assert r.status_code == 422 and "refused" in r.json()["description"]
    assert assignment(url, "split", community) == before and version(client, planner, "split") == 1


def _hard_line_through(url: URL, plan: str) -> tuple[str, float]:
    """A community and a longitude between its units' anchors that cuts a grid but no compound (compounds stay
    whole whatever the barriers), such that a grid now spans both sides."""
    rows = fetch(
        url,
        """
        SELECT c.community_id, g.code, u.compound, ST_X(ST_PointOnSurface(u.geom)) FROM grid_plan p
        JOIN grid_assignment x ON x.plan_id = p.id JOIN grid g ON g.id = x.grid_id
        JOIN unit u ON u.id = x.unit_id JOIN community c ON c.id = u.community_id WHERE p.name = :p
        """,
        p=plan,
    )
    by_community: dict[str, list] = {}
    for community, code, compound, x in rows:
        by_community.setdefault(community, []).append((x, code, compound))
    for community, items in sorted(by_community.items(), key=lambda kv: -len(kv[1])):
        xs = np.sort([x for x, _, _ in items])
        for i in np.argsort(-np.diff(xs)):
            if not len(xs) // 4 <= i < 3 * len(xs) // 4:
                continue
            line = (xs[i] + xs[i + 1]) / 2
            west = {(code, compound) for x, code, compound in items if x < line}
            east = {(code, compound) for x, code, compound in items if x > line}
            split_compound = {c for _, c in west if c is not None} & {c for _, c in east if c is not None}
            if not split_compound and {c for c, _ in west} & {c for c, _ in east}:
                return community, float(line)
    raise AssertionError("no community of the sample has a grid to cut")


def test_redivision_follows_the_districts_stored_hard_barriers(desk):
    client, url, planner, _, _ = desk
    copy(client, planner, "river")
    community, line = _hard_line_through(url, "river")
    (south, north) = fetch(
        url, "SELECT ST_YMin(e) - 0.01, ST_YMax(e) + 0.01 FROM (SELECT ST_Extent(geom) e FROM unit) x"
    )[0]
    river = gpd.GeoDataFrame(
        {"barrier_class": ["river"], "hard": [True], "name": ["test river"]},
        geometry=[shapely.LineString([(line, south), (line, north)])],
        crs="EPSG:4326",
    )
    engine = create_engine(url)
    with begin(engine) as conn:
        district = conn.execute(text("SELECT district_id FROM grid_plan WHERE name = 'river'")).scalar_one()
        write_barriers(conn, district, river, name_field="name")
    engine.dispose()
    r = client.post(f"/plans/river/communities/{community}/redivide", json={"version": 1}, headers=planner)
    assert r.status_code == 200, r.text
    sides = fetch(
        url,
        """
        SELECT g.code, bool_or(ST_X(ST_PointOnSurface(u.geom)) < :x), bool_or(ST_X(ST_PointOnSurface(u.geom)) > :x)
        FROM grid_plan p JOIN grid_assignment x ON x.plan_id = p.id JOIN grid g ON g.id = x.grid_id
        JOIN unit u ON u.id = x.unit_id JOIN community c ON c.id = g.community_id
        WHERE p.name = 'river' AND c.community_id = :c GROUP BY g.code
        """,
        x=line,
        c=community,
    )
    assert sides and not [code for code, west, east in sides if west and east]  # no grid crosses the river
    consistent(url, "river")
