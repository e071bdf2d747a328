"""Plan history, diffs and manual edits with optimistic locking."""

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


@pytest.fixture(scope="module")
def planning(create_database: Callable[..., URL], sample_plan) -> tuple[TestClient, URL, dict]:
    url = database_with_plans(create_database, "plans", sample_plan.gpkg, {"pub": True, "draft": False})
    engine = create_engine(url)
    with begin(engine) as conn:
        headers = bearer(add_user(conn, "pat", role="planner"))
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as c:
        yield c, url, headers


def boundary_move(url: URL, plan: str) -> tuple[str, str, str, int]:
    """A unit of one grid that shares an edge with another grid of the same community: (unit, from, to, hh)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT u.unit_id, g.code AS from_code, h.code AS to_code, u.households
                FROM grid_plan p
                JOIN grid g ON g.plan_id = p.id
                JOIN grid h ON h.plan_id = p.id AND h.id <> g.id AND h.community_id = g.community_id
                JOIN grid_assignment x ON x.grid_id = g.id
                JOIN unit u ON u.id = x.unit_id
                WHERE p.name = :plan AND g.n_units > 1
                  AND ST_Length(ST_Intersection(ST_Boundary(u.geom), ST_Boundary(h.geom))::geography) > 5
                ORDER BY u.unit_id LIMIT 1
                """
            ),
            {"plan": plan},
        ).first()
    engine.dispose()
    return row.unit_id, row.from_code, row.to_code, int(row.households)


def test_history_lists_plans_with_validity_for_planners_only(planning):
    client, _, headers = planning
    assert client.get("/plans").status_code == 401
    plans = {p["name"]: p for p in client.get("/plans", headers=headers).json()["plans"]}
    assert plans["pub"]["status"] == "published" and plans["pub"]["valid_from"]
    assert plans["draft"]["status"] == "draft" and plans["draft"]["valid_from"] is None


def test_an_edit_moves_households_and_reports_the_touched_grids(planning):
    client, url, headers = planning
    unit, src, dst, households = boundary_move(url, "draft")
    got = client.get("/plans/draft", headers=headers)
    etag = got.headers["etag"]
    dry = client.patch(
        "/plans/draft/assignment",
        json={"units": [unit], "grid": dst, "dry_run": True},
        headers={**headers, "If-Match": etag},
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["applied"] is False and dry.headers["etag"] == etag
    r = client.patch(
        "/plans/draft/assignment", json={"units": [unit], "grid": dst}, headers={**headers, "If-Match": etag}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["moved_units"] == 1 and body["applied"]
    assert {g["code"] for g in body["grids"]} == {src, dst}
    for g in body["grids"]:
        assert {"contiguous", "in_range", "nested", "compounds_whole", "problems", "ok"} <= set(g)
        assert g["nested"]
    assert r.headers["etag"] != etag
    # the same edit against the old version is refused: no lost update
    stale = client.patch(
        "/plans/draft/assignment", json={"units": [unit], "grid": src}, headers={**headers, "If-Match": etag}
    )
    assert stale.status_code == 409 and "reload the plan" in stale.json()["description"]
    diff = client.get("/plans/pub/diff/draft", headers=headers).json()
    assert diff["units_moved"] == 1 and diff["households_moved"] == households
    assert set(diff["changed"]) == {src, dst} and not diff["added"]


def test_published_plans_are_read_only(planning):
    client, url, headers = planning
    unit, _, dst, _ = boundary_move(url, "pub")
    version = client.get("/plans/pub", headers=headers).json()["version"]
    r = client.patch("/plans/pub/assignment", json={"units": [unit], "grid": dst, "version": version}, headers=headers)
    assert r.status_code == 409 and "read-only" in r.json()["description"]


def test_bad_edits_are_explained(planning):
    client, _, headers = planning
    version = client.get("/plans/draft", headers=headers).json()["version"]
    r = client.patch(
        "/plans/draft/assignment", json={"units": ["nope"], "grid": "x", "version": version}, headers=headers
    )
    assert r.status_code == 404 and "no grid 'x'" in r.json()["description"]
    code = client.get("/collections/grids/items?plan=draft&limit=1", headers=headers).json()["features"][0]["id"]
    r = client.patch(
        "/plans/draft/assignment", json={"units": ["nope"], "grid": code, "version": version}, headers=headers
    )
    assert r.status_code == 400 and "holds no unit 'nope'" in r.json()["description"]
    r = client.patch("/plans/draft/assignment", json={"units": ["nope"], "grid": code}, headers=headers)
    assert r.status_code == 400 and "version" in r.json()["description"]


def test_cli_lists_diffs_and_publishes(planning, tmp_path):
    from typer.testing import CliRunner

    from api.cli import app as cli

    _, url, _ = planning
    db = url.render_as_string(hide_password=False)
    runner = CliRunner()
    listed = runner.invoke(cli, ["plans", "list", "--db", db])
    assert listed.exit_code == 0 and "draft" in listed.output and "published" in listed.output
    out = tmp_path / "diff.html"
    d = runner.invoke(cli, ["plans", "diff", "pub", "draft", "--map", str(out), "--db", db])
    assert d.exit_code == 0, d.output
    assert "changed grid" in d.output and out.stat().st_size > 10_000
    missing = runner.invoke(cli, ["plans", "diff", "pub", "nope", "--db", db])
    assert missing.exit_code == 2 and "no plan named 'nope'" in missing.output


def wait_for(client: TestClient, url: str, headers: dict) -> dict:
    import time

    deadline = time.monotonic() + 300  # a guard against hanging, not a speed check
    while time.monotonic() < deadline:
        job = client.get(url, headers=headers).json()
        assert "status" in job, job
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {url} did not end")


def test_a_partition_job_makes_a_draft_plan(planning):
    client, _, headers = planning
    r = client.post("/plans", json={"name": "job-plan", "district": "sample", "seed": 1}, headers=headers)
    assert r.status_code == 202, r.text
    job = wait_for(client, r.headers["location"].replace(str(client.base_url), ""), headers)
    assert job["status"] == "done", job
    assert job["result"]["plan"] == "job-plan" and job["result"]["grids"] > 0
    assert job["done"] == job["total"] > 0
    plan = client.get("/plans/job-plan", headers=headers).json()
    assert plan["status"] == "draft" and plan["grids"] == job["result"]["grids"]
    assert plan["report"]["grids"] == plan["grids"]


def test_partition_jobs_check_their_request(planning):
    client, _, headers = planning
    assert client.post("/plans", json={"name": "x", "district": "sample"}).status_code == 401
    unknown = client.post("/plans", json={"name": "x", "district": "atlantis"}, headers=headers)
    assert unknown.status_code == 404 and "no district 'atlantis'" in unknown.json()["description"]
    taken = client.post("/plans", json={"name": "pub", "district": "sample"}, headers=headers)
    assert taken.status_code == 409
    assert client.get("/jobs/nope", headers=headers).status_code == 404


def test_a_job_re_divides_a_stored_plan(planning):
    client, _, headers = planning
    body = {"name": "job-redivided", "district": "sample", "previous": "pub"}
    r = client.post("/plans", json=body, headers=headers)
    assert r.status_code == 202, r.text
    job = wait_for(client, r.headers["location"].replace(str(client.base_url), ""), headers)
    assert job["status"] == "done", job
    # the counts did not change: every grid is kept, no household moves
    assert job["result"]["redivision"]["households_moved"] == 0
    diff = client.get("/plans/pub/diff/job-redivided", headers=headers).json()
    assert diff["households_moved"] == 0 and not diff["added"] and not diff["removed"]
