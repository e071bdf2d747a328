"""A small sample district, partitioned once per session and stored in its own database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from api.app import create_app
from api.cli.partition_cmd import PartitionFiles, partition_files
from api.settings import Settings
from data.sample import generate_district, write_district
from gis.cluster import DATABASE
from gis.output import read_plan_file
from gis.store import begin, create_engine
from gis.store.load import store_plan


@pytest.fixture(scope="session")
def sample_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """GeoPackages of a seeded 6,000-household sample district."""
    return write_district(generate_district(seed=3, households=6_000), tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def sample_plan(sample_inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> PartitionFiles:
    out = tmp_path_factory.mktemp("plan")
    return partition_files(
        sample_inputs["units"],
        id_field="unit_id",
        households_field="households",
        population_field="population",
        compound="compound",
        communities=sample_inputs["communities"],
        community_id="community_id",
        community_name="name",
        community_code="admin_code",
        barriers=sample_inputs["barriers"],
        barrier_class="barrier_class",
        out=out / "grids.gpkg",
        geojson=out / "grids.geojson",
        report_path=out / "report.json",
    )


@pytest.fixture(scope="session")
def api_db(create_database: Callable[..., URL], sample_plan: PartitionFiles) -> URL:
    """A database holding the sample plan, published as 'v1', plus a draft 'v0'."""
    from gis import migrations

    url = create_database("api", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    files = read_plan_file(sample_plan.gpkg)
    with begin(engine) as conn:
        store_plan(conn, files, plan="v0", district="sample", publish=False)
        store_plan(conn, files, plan="v1", district="sample", publish=True)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def client(api_db: URL) -> TestClient:
    url = api_db.render_as_string(hide_password=False)
    app = create_app(Settings(database_url=url, items_limit=50))
    with TestClient(app) as c:
        yield c
