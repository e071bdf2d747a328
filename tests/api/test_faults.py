"""Database faults: a stop in the middle of an import, an outage under the API, a publish killed midway.

The stop and outage tests use a throwaway cluster of their own, which they stop and
start; the session's cluster, which other tests share, is never touched. Each fault is
placed deterministically: a lock held by the test stops the code under test at a known
statement, and the fault strikes once the code is seen waiting there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL

from api.app import create_app
from api.cli._common import database_failure
from api.settings import Settings
from gis import migrations
from gis.cluster import EmbeddedCluster
from gis.store import begin, create_engine
from gis.store.audit import list_entries
from gis.store.users import add_user
from tests.api.conftest import bearer, database_with_plans
from tests.api.locks import connect, wait_for_waiters

COMMGRID = Path(sys.executable).with_name("commgrid")
TABLES = ("district", "community", "unit", "barrier", "grid_plan", "grid", "grid_assignment")
TILE = "/collections/grids/tiles/WebMercatorQuad/0/0/0"
UNCACHED_TILE = "/collections/grids/tiles/WebMercatorQuad/1/0/0"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """A migrated throwaway cluster these tests may stop and start."""
    faulty = EmbeddedCluster(tmp_path_factory.mktemp("faults") / "home", throwaway=True)
    try:
        faulty.start()
        migrations.upgrade(faulty.url())
        yield faulty
    finally:
        faulty.remove()


@pytest.fixture
def running(cluster: EmbeddedCluster) -> URL:
    cluster.start()  # a no-op unless an earlier test left it stopped
    return cluster.url()


def counts(url: URL) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    engine.dispose()
    return out


def test_an_import_cut_off_by_a_stopped_database_fails_clearly_and_keeps_nothing(cluster, running, sample_plan):
    url = running
    before = counts(url)
    db = url.render_as_string(hide_password=False)
    blocker = connect(url)  # its session ends with the server; no commit or rollback to send
    try:
        # the load writes the district, communities, units and the plan row, then waits here for its grids
        blocker.execute("LOCK TABLE grid IN ACCESS EXCLUSIVE MODE")
        load = subprocess.Popen(
            [str(COMMGRID), "load", str(sample_plan.gpkg), "--plan", "cut", "--district", "cut", "--db", db],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "400", "NO_COLOR": "1"},
        )
        try:
            wait_for_waiters(url, "INSERT INTO grid %", 1)
            cluster.stop()
            _, err = load.communicate(timeout=120)
        finally:
            load.kill()
    finally:
        blocker.close()
    assert load.returncode == 1, err
    shown = url.render_as_string(hide_password=True)
    assert f"error: The database at {shown} became unreachable while the command ran" in err
    assert "nothing of it was kept" in err and "Traceback" not in err
    cluster.start()
    assert counts(url) == before


def test_the_api_answers_503_while_the_database_is_down_and_recovers_by_itself(cluster, running):
    url = running
    engine = create_engine(url)
    with begin(engine) as conn:
        planner = bearer(add_user(conn, "outage-planner", role="planner"))
    engine.dispose()
    requests = [("/healthz", {}), (TILE, {}), ("/plans", planner)]  # sync engine, tile shortcut, token
    settings = Settings(database_url=url.render_as_string(hide_password=False), pool_timeout=1)
    with TestClient(create_app(settings)) as client:
        assert [client.get(path, headers=h).status_code for path, h in requests] == [200, 204, 200]
        cluster.stop()
        # a tile already cut needs no database: it is served from the cache while the store is down
        assert client.get(TILE).status_code == 204
        for path, headers in [*requests[::2], (UNCACHED_TILE, {})]:
            down = client.get(path, headers=headers)
            assert down.status_code == 503, (path, down.text)
            assert down.headers["retry-after"] == "5"
            assert down.json() == {
                "code": "DatabaseUnavailableError",
                "description": "The service cannot answer right now.",
            }
        cluster.start()
        statuses: list[int] = []
        for _ in range(40):  # stale pooled connections may each fail once, then are replaced
            statuses = [client.get(path, headers=h).status_code for path, h in requests]
            if statuses == [200, 204, 200]:
                break
            time.sleep(0.25)
        assert statuses == [200, 204, 200]


@pytest.fixture(scope="module")
def plans(create_database: Callable[..., URL], sample_plan) -> tuple[URL, dict[str, str]]:
    url = database_with_plans(create_database, "faults_publish", sample_plan.gpkg, {"old": True, "new": False})
    engine = create_engine(url)
    with begin(engine) as conn:
        headers = bearer(add_user(conn, "crash-planner", role="planner"))
    engine.dispose()
    return url, headers


def statuses(url: URL) -> dict[str, tuple[str, bool]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, status, valid_to IS NULL FROM grid_plan")).all()
    engine.dispose()
    return {name: (status, open_) for name, status, open_ in rows}


def test_a_publish_killed_midway_leaves_the_previous_plan_published(plans):
    url, planner = plans
    answers = []
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as client:
        with connect(url) as blocker:
            # publishing archives 'old', then waits for this lock on the row of 'new'
            blocker.execute("SELECT id FROM grid_plan WHERE name = 'new' FOR UPDATE")
            publisher = threading.Thread(
                target=lambda: answers.append(client.post("/plans/new/publish", headers=planner))
            )
            publisher.start()
            (pid,) = wait_for_waiters(url, "UPDATE grid_plan%", 1)
            with connect(url, autocommit=True) as killer:
                assert killer.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
            publisher.join(60)
            blocker.rollback()
        (answer,) = answers
        assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
        assert statuses(url) == {"old": ("published", True), "new": ("draft", True)}
        engine = create_engine(url)
        with engine.connect() as conn:
            assert [e.detail["plan"] for e in list_entries(conn, action="plan.publish")] == ["old"]  # from the setup
        engine.dispose()
        # the service carries on: the same publish now goes through
        assert client.post("/plans/new/publish", headers=planner).status_code == 200
    assert statuses(url) == {"old": ("archived", False), "new": ("published", True)}


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (psycopg.OperationalError("server closed the connection unexpectedly"), "became unreachable"),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), "gave up on a statement"),
    ],
)
def test_commands_name_the_database_whatever_layer_the_failure_comes_from(error, says):
    """COPY-based imports meet psycopg's errors directly, not SQLAlchemy's wrappers."""
    message = database_failure(error, "postgresql+psycopg://u:secret@db.example:5432/commgrid")
    assert message.startswith(f"The database at postgresql+psycopg://u:***@db.example:5432/commgrid {says}")
    assert "secret" not in message and database_failure(ValueError("x")) is None
