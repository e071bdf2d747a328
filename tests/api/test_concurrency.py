"""Concurrent planners on one plan, and many map readers while another plan is published.

Both run against a live uvicorn server with real HTTP clients. Plans 'old' and 'new'
hold the same grids under different names (MARK-OLD-…, MARK-NEW-…), so every grid tile
tells which plan it was cut from.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from gis import migrations
from gis.cluster import DATABASE
from gis.plans.files import read_plan_file
from gis.plans.load import store_plan
from gis.store import begin, create_engine
from gis.store.audit import list_entries
from gis.store.users import add_user
from tests.api.conftest import serving
from tests.api.locks import connect, wait_for_waiters
from tiles.matrix import TMS

READERS = 50
AFTER_EACH = 5  # requests each reader makes after the publish committed


@pytest.fixture(scope="module")
def store(create_database: Callable[..., URL], sample_plan) -> URL:
    url = create_database("concurrency", template=DATABASE)
    migrations.upgrade(url)
    files = read_plan_file(sample_plan.gpkg)
    engine = create_engine(url)
    with begin(engine) as conn:
        for plan, publish in (("old", True), ("new", False), ("draft", False)):
            marked = files.grids.assign(name="MARK-" + plan.upper() + "-" + files.grids["code"].astype(str))
            store_plan(conn, dataclasses.replace(files, grids=marked), plan=plan, district="sample", publish=publish)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def planners(store: URL) -> list[dict[str, str]]:
    engine = create_engine(store)
    with begin(engine) as conn:
        out = [{"Authorization": f"Bearer {add_user(conn, name, role='planner')}"} for name in ("pia", "quinn")]
    engine.dispose()
    return out


@pytest.fixture(scope="module")
def live(store: URL) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COMMGRID_RATE_LIMIT_PER_SECOND", "0")  # fifty readers on one address
        with serving(store) as base:
            yield base


def _two_moves(store: URL) -> list[tuple[str, str, str]]:
    """Two units of different grids of 'draft', each with another grid of its community it borders: (unit, from, to).

    Legal moves: the unit shares an edge with the target and its grid stays in one piece without it
    (edits that split a grid are refused).
    """
    engine = create_engine(store)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT DISTINCT ON (g.code) u.unit_id, g.code AS source, h.code AS target
                FROM grid_plan p JOIN grid g ON g.plan_id = p.id
                JOIN grid h ON h.plan_id = p.id AND h.id <> g.id AND h.community_id = g.community_id
                JOIN grid_assignment x ON x.grid_id = g.id JOIN unit u ON u.id = x.unit_id
                WHERE p.name = 'draft' AND g.n_units > 1 AND u.compound IS NULL
                  AND ST_Length(ST_Intersection(ST_Boundary(u.geom), ST_Boundary(h.geom))::geography) > 5
                  AND ST_NumGeometries(ST_Difference(g.geom, u.geom)) = 1
                ORDER BY g.code, u.unit_id, h.code LIMIT 2
                """
            )
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def _grid_of(store: URL, unit: str) -> str:
    engine = create_engine(store)
    with engine.connect() as conn:
        code = conn.execute(
            text(
                "SELECT g.code FROM grid_assignment x JOIN grid g ON g.id = x.grid_id JOIN unit u ON u.id = x.unit_id "
                "JOIN grid_plan p ON p.id = x.plan_id WHERE p.name = 'draft' AND u.unit_id = :u"
            ),
            {"u": unit},
        ).scalar_one()
    engine.dispose()
    return code


def test_two_planners_editing_one_version_one_wins_the_other_gets_409(store, live, planners):
    (unit_a, from_a, to_a), (unit_b, from_b, to_b) = _two_moves(store)
    version = int(httpx.get(f"{live}/plans/draft", headers=planners[0]).headers["etag"].strip('"'))
    edits = [
        {"units": [unit_a], "grid": to_a, "version": version},
        {"units": [unit_b], "grid": to_b, "version": version},
    ]
    answers: dict[int, httpx.Response] = {}

    def edit(i: int) -> None:
        answers[i] = httpx.patch(f"{live}/plans/draft/assignment", json=edits[i], headers=planners[i], timeout=60)

    blocker = connect(store)
    try:
        blocker.execute("SELECT id FROM grid_plan WHERE name = 'draft' FOR UPDATE")
        threads = [threading.Thread(target=edit, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        wait_for_waiters(store, "%FROM grid_plan WHERE name%FOR UPDATE%", 2)  # both read version N, both queue
        blocker.rollback()
        for t in threads:
            t.join(60)
    finally:
        blocker.close()
    assert sorted(a.status_code for a in answers.values()) == [200, 409]
    winner = next(i for i, a in answers.items() if a.status_code == 200)
    loser = 1 - winner
    assert answers[winner].headers["etag"] == f'"{version + 1}"'
    assert f"is at version {version + 1}, the edit was made against version {version}" in answers[loser].text
    kept = [(unit_a, to_a, from_a), (unit_b, to_b, from_b)]
    assert _grid_of(store, kept[winner][0]) == kept[winner][1]  # the winner's move holds
    assert _grid_of(store, kept[loser][0]) == kept[loser][2]  # the loser's changed nothing
    engine = create_engine(store)
    with engine.connect() as conn:
        (entry,) = list_entries(conn, action="plan.edit")
    engine.dispose()
    assert entry.actor == ("pia", "quinn")[winner]


def _grid_tiles(live: str) -> list[str]:
    """Paths of the z14 tiles over the district that hold grids of the published plan."""
    bounds = httpx.get(f"{live}/collections/grids").json()["extent"]["spatial"]["bbox"][0]
    paths = [f"/collections/grids/tiles/WebMercatorQuad/14/{t.y}/{t.x}" for t in TMS.tiles(*bounds, [14])]
    return [p for p in paths if b"MARK-OLD" in httpx.get(live + p).content]


def test_fifty_readers_never_see_a_mix_and_see_only_the_new_plan_after_the_publish(store, live, planners):
    tiles = _grid_tiles(live)
    assert tiles
    committed = False
    seen: list[tuple[bool, int, bytes]] = []  # (asked after the commit, status, body)

    async def reader(client: httpx.AsyncClient, i: int) -> None:
        after = 0
        while after < AFTER_EACH:
            asked_after = committed
            r = await client.get(tiles[i % len(tiles)])
            seen.append((asked_after, r.status_code, r.content))
            after += asked_after
            i += 1

    async def publisher(client: httpx.AsyncClient) -> None:
        nonlocal committed
        while len(seen) < 4 * READERS:  # publish in the thick of it
            await asyncio.sleep(0.005)
        r = await client.post("/plans/new/publish", headers=planners[0])
        assert r.status_code == 200, r.text
        committed = True  # the answer comes after the commit

    async def run() -> None:
        limits = httpx.Limits(max_connections=READERS + 1, max_keepalive_connections=READERS + 1)
        async with httpx.AsyncClient(base_url=live, limits=limits, timeout=60) as client:
            await asyncio.gather(publisher(client), *(reader(client, i) for i in range(READERS)))

    asyncio.run(run())
    assert {status for _, status, _ in seen} == {200}
    assert not [body for _, _, body in seen if b"MARK-OLD" in body and b"MARK-NEW" in body]
    after = [body for asked_after, _, body in seen if asked_after]
    assert len(after) == READERS * AFTER_EACH
    assert all(b"MARK-NEW" in body and b"MARK-OLD" not in body for body in after)
