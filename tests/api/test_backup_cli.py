"""``commgrid dump`` / ``commgrid restore`` from the command line, with a service running on the target."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from gis import migrations
from gis.cluster import DATABASE
from gis.store import begin, create_engine
from tests.api.conftest import database_with_plans

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})


def test_dump_then_restore_under_a_running_service_serves_the_restored_plan_fresh(
    create_database: Callable[..., URL], sample_plan, tmp_path
):
    source = database_with_plans(create_database, "dump_cli", sample_plan.gpkg, {"p1": True})
    target = create_database("restore_cli", template=DATABASE)
    migrations.upgrade(target)  # an empty store, as `commgrid db start` leaves one
    archive = tmp_path / "store.dump"
    src, dst = (u.render_as_string(hide_password=False) for u in (source, target))

    dumped = runner.invoke(cli, ["dump", str(archive), "--db", src])
    assert dumped.exit_code == 0, dumped.output
    assert f"wrote {archive}" in dumped.output and "grid_assignment" in dumped.output

    with TestClient(create_app(Settings(database_url=dst, rate_limit_per_second=0))) as client:
        empty = client.get("/tiles/WebMercatorQuad/0/0/0")
        restored = runner.invoke(cli, ["restore", str(archive), "--db", dst])
        assert restored.exit_code == 0, restored.output
        assert "restored" in restored.output and f"schema revision {migrations.head()}" in restored.output
        # every cached tile and browser ETag of the empty store is stale now
        assert (
            client.get("/tiles/WebMercatorQuad/0/0/0", headers={"If-None-Match": empty.headers["etag"]}).status_code
            != 304
        )
        assert client.get("/collections/grids/items?limit=1").json()["features"]  # the restored plan

    again = runner.invoke(cli, ["restore", str(archive), "--db", dst])
    assert again.exit_code == 1
    assert "is not empty" in again.output and "--force" in again.output
    assert runner.invoke(cli, ["restore", str(archive), "--force", "--db", dst]).exit_code == 0

    junk = tmp_path / "junk.dump"
    junk.write_text("hello")
    bad = runner.invoke(cli, ["restore", str(junk), "--db", dst])
    assert bad.exit_code == 2 and "not an archive of pg_dump's custom format" in bad.output


def test_restore_force_refuses_another_tools_archive_before_dropping_anything(
    create_database: Callable[..., URL], sample_plan, tmp_path
):
    """An archive with a grid_plan table and an alembic_version row at our head is still not commgrid's."""
    impostor = create_database("impostor", template=DATABASE)
    engine = create_engine(impostor)
    with begin(engine) as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": migrations.head()})
        conn.execute(text("CREATE TABLE grid_plan (id serial PRIMARY KEY, name text, status text)"))
        conn.execute(text("INSERT INTO grid_plan (name, status) VALUES ('other', 'published')"))
    engine.dispose()
    archive = tmp_path / "other.dump"
    imp = impostor.render_as_string(hide_password=False)
    assert runner.invoke(cli, ["dump", str(archive), "--db", imp]).exit_code == 0
    target = database_with_plans(create_database, "restore_target", sample_plan.gpkg, {"t1": True})
    dst = target.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(database_url=dst, rate_limit_per_second=0))) as client:
        before = client.get("/collections/grids/items?limit=3").json()["features"]
        refused = runner.invoke(cli, ["restore", str(archive), "--force", "--db", dst])
        assert refused.exit_code == 2, refused.output
        assert "is not a commgrid store at schema revision" in refused.output
        assert "it lacks grid_plan.created_at, grid_plan.district_id" in refused.output
        assert client.get("/collections/grids/items?limit=3").json()["features"] == before  # nothing was dropped
        assert client.get("/healthz").status_code == 200
