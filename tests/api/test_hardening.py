"""The second hardening round (issue 22): what an attack on the running service broke, each held down.

Posters rendered by many clients at once, Open311 reads of thousands of ids, exhausted
pools, incidents dated 9999, a damaged store behind ``/healthz``, OPTIONS, 422 bodies,
bboxes across the antimeridian, plan ranges, back-dated reports and purges without a trace.
Hostile bodies are in tests/api/test_hostile_api.py, commands in test_hostile_cli.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import URL

from api.app import create_app
from api.routes.open311 import MAX_REQUEST_IDS
from api.routes.public import RenderCache, Renders
from api.settings import Settings
from gis import clock
from gis.errors import BusyError
from gis.patrols.store import purge
from gis.store import begin, create_engine
from gis.store.audit import list_entries
from gis.store.users import add_user
from tests.api.conftest import bearer, database_with_plans
from tests.api.test_public_privacy import populate

ROLES = ("grid_worker", "analyst", "planner", "admin")


@pytest.fixture(scope="module")
def hardened(create_database: Callable[..., URL], sample_plan) -> Iterator[tuple[TestClient, URL, dict, dict]]:
    """The app on a store of its own (sample plan 'k1' published, draft 'k0', personal data), a user per role.

    The app opens its own engine from the settings, as ``commgrid serve`` does, so its
    pool timeout is the one under test.
    """
    url = database_with_plans(create_database, "hardening", sample_plan.gpkg, {"k0": False, "k1": True})
    engine = create_engine(url)
    with begin(engine) as conn:
        stored = populate(conn, plan="k1")
        headers = {role: bearer(add_user(conn, f"hard-{role}", role=role)) for role in ROLES}
    engine.dispose()
    headers["anonymous"] = {}
    settings = Settings(
        database_url=url.render_as_string(hide_password=False), pool_timeout=1, max_renders=2, rate_limit_per_second=0
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, url, headers, stored


# -- 1. posters: one render at a time in PDFium, a bound on renders, repeated renders cached -------------------


def test_concurrent_poster_renders_never_crash_and_answer_200_or_503(hardened):
    client, _, _, stored = hardened
    code = stored["codes"][0]
    dpis = [36 + i for i in range(12)] * 2  # 12 different images, each asked for twice

    def fetch(dpi: int):
        return client.get(f"/grids/{code}/poster.png", params={"dpi": dpi})

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(fetch, dpis))
    assert {a.status_code for a in answers} <= {200, 503}, [a.text for a in answers if a.status_code >= 500][:1]
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["retry-after"] == "5" and answer.json()["code"] == "BusyError"
        else:
            assert answer.content.startswith(b"\x89PNG")
    assert client.get("/healthz").status_code == 200  # the process is alive and answering
    # a repeated render comes from the cache: the very same bytes, and the PDF it was cut from is kept too
    first = client.get(f"/grids/{code}/poster.png", params={"dpi": 37})
    again = client.get(f"/grids/{code}/poster.png", params={"dpi": 37})
    assert first.status_code == again.status_code == 200 and first.content == again.content
    renders: Renders = client.app.state.renders
    kept = list(renders.cache._items)
    assert any(key[0] == "poster.pdf" and "png" not in key for key in kept)  # the sheet the images were cut from


def test_renders_are_bounded_shared_and_kept():
    async def scenario() -> None:
        renders = Renders(limit=2, cache=RenderCache(size=8))
        release = threading.Event()
        calls: list[str] = []

        def work(name: str) -> Callable[[], bytes]:
            def draw() -> bytes:
                calls.append(name)
                release.wait(10)
                return name.encode()

            return draw

        a1 = asyncio.create_task(renders.get(("a",), work("a")))
        a2 = asyncio.create_task(renders.get(("a",), work("a-again")))  # joins the drawing of a
        b = asyncio.create_task(renders.get(("b",), work("b")))
        await asyncio.sleep(0.2)
        with pytest.raises(BusyError):  # a third different sheet while two are drawn
            await renders.get(("c",), work("c"))
        release.set()
        assert await asyncio.gather(a1, a2, b) == [b"a", b"a", b"b"]
        assert sorted(calls) == ["a", "b"]  # a was drawn once for both who asked
        assert await renders.get(("a",), work("never")) == b"a"  # kept
        assert await renders.get(("c",), work("c")) == b"c"  # room again once the others are done

    asyncio.run(scenario())


def test_the_render_cache_is_bounded_in_bytes():
    cache = RenderCache(size=10, max_bytes=100)
    for i in range(5):
        cache.put((i,), b"x" * 40)
    assert cache.get((4,)) is not None and cache.get((3,)) is not None
    assert cache.get((0,)) is None and cache.get((1,)) is None and cache.get((2,)) is None


# -- 2. Open311 reads: one query per request, a cap on ids, pool exhaustion is a 503 ----------------------------


def test_open311_reads_of_many_ids_take_one_query_and_the_ids_are_capped(hardened):
    client, _, _, stored = hardened
    engine = client.app.state.engine
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if "FROM incident" in statement:
            statements.append(statement)

    ids = ",".join(str(i) for i in [*stored["incidents"], *range(10_000, 10_000 + MAX_REQUEST_IDS - 5)])
    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = client.get("/open311/v2/requests.json", params={"service_request_id": ids})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert answer.status_code == 200, answer.text
    assert len(statements) == 1
    every = client.get("/open311/v2/requests.json").json()
    assert sorted(r["service_request_id"] for r in answer.json()) == sorted(r["service_request_id"] for r in every)
    too_many = ",".join(str(i) for i in range(1, 2_001))
    refused = client.get("/open311/v2/requests.json", params={"service_request_id": too_many})
    assert refused.status_code == 400 and refused.json()["detail"]["field"] == "service_request_id"
    assert f"at most {MAX_REQUEST_IDS:,}" in refused.json()["description"]
    described = client.get("/openapi.json").json()["paths"]["/open311/v2/requests.json"]["get"]["parameters"]
    assert any(f"at most {MAX_REQUEST_IDS:,}" in p.get("description", "") for p in described)


def test_an_exhausted_pool_is_answered_503_with_retry_after(hardened):
    client, _, headers, _ = hardened
    engine = client.app.state.engine
    held = [engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]
    try:
        for path, who in [("/healthz", "planner"), ("/collections/grids/items", "anonymous")]:
            answer = client.get(path, headers=headers[who])
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "5"
    finally:
        for conn in held:
            conn.close()
    assert client.get("/healthz").status_code == 200


# -- 3. /healthz notices a store that is not commgrid's ---------------------------------------------------------


def test_healthz_notices_a_damaged_store(create_database, sample_plan):
    url = database_with_plans(create_database, "hardening_damaged", sample_plan.gpkg, {"d1": True})
    settings = Settings(database_url=url.render_as_string(hide_password=False))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        engine = create_engine(url)
        with begin(engine) as conn:
            conn.execute(text("ALTER TABLE grid DROP COLUMN households CASCADE"))
        engine.dispose()
        answer = client.get("/healthz")
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "StoreDamagedError"


# -- 5. validate before writing ---------------------------------------------------------------------------------


def test_reported_at_is_checked_before_anything_is_stored(hardened):
    client, url, headers, stored = hardened
    lon, lat = stored["point"]
    body = {"category": "sanitation.garbage", "lon": lon, "lat": lat}
    before = _incidents(url)
    for value, status in [("9999-12-31T00:00:00Z", 422), ((clock.now() + timedelta(days=2)).isoformat(), 400)]:
        answer = client.post("/incidents", json={**body, "reported_at": value}, headers=headers["analyst"])
        assert answer.status_code == status, answer.text
        assert answer.json()["detail"]["field"] == "reported_at"
    # a grid worker cannot back-date a report past the public delay
    past = (clock.now() - timedelta(days=30)).isoformat()
    answer = client.post("/incidents", json={**body, "reported_at": past}, headers=headers["grid_worker"])
    assert answer.status_code == 403 and "reported_at" in answer.json()["description"]
    assert _incidents(url) == before
    # an analyst may record an earlier report
    answer = client.post("/incidents", json={**body, "reported_at": past}, headers=headers["analyst"])
    assert answer.status_code == 201, answer.text
    assert _incidents(url) == before + 1


def test_a_stored_row_of_year_9999_does_not_make_its_detail_fail(hardened):
    client, url, headers, stored = hardened
    engine = create_engine(url)
    with begin(engine) as conn:
        conn.execute(
            text("UPDATE incident SET reported_at = '9999-12-31T00:00:00Z' WHERE id = :i"),
            {"i": stored["incidents"][1]},
        )
    engine.dispose()
    answer = client.get(f"/incidents/{stored['incidents'][1]}", headers=headers["analyst"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["due_at"] is None
    moved = client.post(
        f"/incidents/{stored['incidents'][1]}/transitions", json={"to": "accepted"}, headers=headers["analyst"]
    )
    assert moved.status_code == 200, moved.text


def _incidents(url: URL) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
    engine.dispose()
    return n


# -- 9. the smaller list -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bbox", ["179.9,25,-179.9,26", "121.6,25.1,121.5,25.0"])
def test_antimeridian_and_inverted_bboxes_are_refused(hardened, bbox):
    client, _, _, _ = hardened
    answer = client.get("/collections/grids/items", params={"bbox": bbox})
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]["field"] == "bbox"


@pytest.mark.parametrize(
    ("path", "methods"),
    [("/incidents", {"GET", "POST", "OPTIONS"}), ("/healthz", {"GET", "OPTIONS"}), ("/grids/x/poster.png", {"GET"})],
)
def test_options_lists_every_method_of_the_path(hardened, path, methods):
    client, _, _, _ = hardened
    answer = client.options(path)
    assert answer.status_code == 204, answer.text
    assert methods <= set(answer.headers["allow"].split(", "))
    wrong = client.delete(path)
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) == set(answer.headers["allow"].split(", "))
    assert client.options("/no/such/path").status_code == 404


def test_422_bodies_have_the_documented_shape_without_the_whole_input(hardened):
    client, _, headers, _ = hardened
    answer = client.get("/collections/grids/items", params={"limit": "many"})
    assert answer.status_code == 422
    body = answer.json()
    assert set(body) == {"code", "description", "detail"} and body["detail"]["field"] == "limit"
    assert "limit" in body["description"]
    long = "y" * 20_000
    answer = client.post("/plans", json={"name": "p", "district": "sample", "seed": long}, headers=headers["planner"])
    assert answer.status_code == 422
    assert long not in answer.text and len(answer.text) < 2_000
    schema = client.get("/openapi.json").json()["paths"]["/plans"]["post"]["responses"]["422"]
    assert "code" in str(schema) and "HTTPValidationError" not in str(schema)


@pytest.mark.parametrize("ranges", [{"households": [500, 300]}, {"households": [0, 0]}, {"population": [-5, 10]}])
def test_plan_ranges_are_checked_before_the_job_starts(hardened, ranges):
    client, _, headers, _ = hardened
    answer = client.post("/plans", json={"name": "ranged", "district": "sample", **ranges}, headers=headers["planner"])
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]["field"] == next(iter(ranges))
    assert "0 < min <= max" in answer.json()["description"]


def test_purged_tracks_leave_an_audit_entry(hardened):
    _, url, _, _ = hardened
    engine = create_engine(url)
    with begin(engine) as conn:
        done = purge(conn, older_than_days=1, now=clock.now() + timedelta(days=400), actor="service:purge")
        assert done.points > 0
        (entry,) = list_entries(conn, action="patrol.purge")
        assert entry.actor == "service:purge" and entry.detail["fixes"] == done.points
        nothing = purge(conn, older_than_days=1, now=clock.now() + timedelta(days=400))
        assert nothing.points == 0 and len(list_entries(conn, action="patrol.purge")) == 1
    engine.dispose()
