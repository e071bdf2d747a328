"""A small sample district, partitioned once per session and stored in its own database."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL

from api.app import create_app
from api.settings import Settings
from data.sample import generate_district, sample_partition_inputs, write_district
from gis.cluster import DATABASE
from gis.partition_inputs import PartitionFiles, PartitionOutputs, run_partition
from gis.plans.files import read_plan_file
from gis.plans.load import store_plan
from gis.store import begin, create_engine


@pytest.fixture(scope="session")
def sample_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """GeoPackages of a seeded 6,000-household sample district."""
    return write_district(generate_district(seed=3, households=6_000), tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def sample_plan(sample_inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> PartitionFiles:
    out = tmp_path_factory.mktemp("plan")
    inputs = sample_partition_inputs(sample_inputs)
    outputs = PartitionOutputs(out / "grids.gpkg", geojson=out / "grids.geojson", report=out / "report.json")
    return run_partition(inputs, outputs)


def database_with_plans(create: Callable[..., URL], name: str, plan_file: Path, plans: dict[str, bool]) -> URL:
    """A migrated database holding ``plan_file`` stored once per name in ``plans`` (name → publish)."""
    from gis import migrations

    url = create(name, template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    files = read_plan_file(plan_file)
    with begin(engine) as conn:
        for plan, publish in plans.items():
            store_plan(conn, files, plan=plan, district="sample", publish=publish)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def api_db(create_database: Callable[..., URL], sample_plan: PartitionFiles) -> URL:
    """A database holding the sample plan, published as 'v1', plus a draft 'v0'."""
    return database_with_plans(create_database, "api", sample_plan.gpkg, {"v0": False, "v1": True})


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests keep screenshots and sheets for people to look at: $COMMGRID_TEST_ARTIFACTS or out/test-artifacts."""
    folder = Path(
        os.environ.get("COMMGRID_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "out" / "test-artifacts"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def client(api_db: URL) -> TestClient:
    url = api_db.render_as_string(hide_password=False)
    app = create_app(Settings(database_url=url, items_limit=50))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def tokens(api_db: URL) -> dict[str, str]:
    """A bearer token per role, for users stored in the API database."""
    from gis.store.users import add_user

    engine = create_engine(api_db)
    with begin(engine) as conn:
        out = {role: add_user(conn, f"test-{role}", role=role) for role in ("analyst", "planner", "admin")}
    engine.dispose()
    return out


@pytest.fixture(scope="session")
def team_tokens(api_db: URL) -> dict[str, str]:
    """A bearer token per team role above grid workers, each with a scope in the sample district."""
    from gis.store.users import add_user

    engine = create_engine(api_db)
    with begin(engine) as conn:
        codes = conn.execute(
            text(
                "SELECT g.code FROM grid g JOIN grid_plan p ON p.id = g.plan_id "
                "WHERE p.status = 'published' ORDER BY g.code"
            )
        ).scalars()
        led = list(codes)[:2]
        district_id = conn.execute(text("SELECT id FROM district ORDER BY id LIMIT 1")).scalar_one()
        out = {
            "grid_leader": add_user(conn, "test-grid_leader", role="grid_leader", district_id=district_id, grids=led),
            **{
                role: add_user(conn, f"test-{role}", role=role, district_id=district_id, community="SQ01")
                for role in ("station_master", "community_director")
            },
        }
    engine.dispose()
    return out


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def serving(url: URL) -> Iterator[str]:
    """The app on ``url``'s database, served by uvicorn on a free port; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(database_url=url.render_as_string(hide_password=False)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "test server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def live_url(api_db: URL) -> Iterator[str]:
    """The app served on a free port, for clients outside the process (browsers, GDAL)."""
    with serving(api_db) as base:
        yield base


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "Debian chromium is not installed (scripts/setup.sh test installs it)"


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright; SwiftShader gives WebGL without a GPU.

    Per module: Playwright's sync API holds an event loop while it runs, which would break
    later tests of the same worker that start their own (asyncio.run).
    """
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--enable-unsafe-swiftshader", "--use-angle=swiftshader"]
        )
        yield b
        b.close()
