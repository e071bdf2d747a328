"""`commgrid load --barriers` keeps the streets and rivers for maps and posters."""

from __future__ import annotations

from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app as cli
from gis import migrations
from gis.cluster import DATABASE
from gis.store import create_engine


def test_load_stores_the_barriers_of_the_district(create_database, sample_plan, sample_inputs):
    url = create_database("load_barriers", template=DATABASE)
    migrations.upgrade(url)
    db = url.render_as_string(hide_password=False)
    args = ["load", str(sample_plan.gpkg), "--plan", "p", "--district", "d", "--db", db]
    barriers = [
        "--barriers",
        str(sample_inputs["barriers"]),
        "--barrier-class",
        "barrier_class",
        "--barrier-name",
        "name",
    ]
    first = CliRunner().invoke(cli, [*args, *barriers])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(cli, [*args[:3], "p2", *args[4:], *barriers])  # a second plan: barriers replaced
    assert again.exit_code == 0, again.output
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT barrier_class, hard, name FROM barrier")).all()
    engine.dispose()
    import geopandas as gpd

    expected = gpd.read_file(sample_inputs["barriers"])
    assert len(rows) == len(expected)
    assert {r.barrier_class for r in rows} == set(expected["barrier_class"])
    assert any(r.hard for r in rows) and any(r.name for r in rows)
