"""The command line as a planner uses it: outputs, summaries, and exit code 2 on bad input."""

from __future__ import annotations

import json

import geopandas as gpd
import pyogrio
import pytest
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})


def _args(inputs, out, *extra):
    return [
        "partition",
        str(inputs["units"]),
        "--id", "unit_id",
        "--households", "households",
        "--population", "population",
        "--compound", "compound",
        "--communities", str(inputs["communities"]),
        "--community-id", "community_id",
        "--community-code", "admin_code",
        "--out", str(out / "grids.gpkg"),
        *extra,
    ]  # fmt: skip


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("partition", "load", "serve", "demo", "db", "sample", "map"):
        assert command in result.output


def test_partition_writes_every_output(sample_inputs, tmp_path):
    result = runner.invoke(
        app,
        _args(
            sample_inputs,
            tmp_path,
            "--report",
            str(tmp_path / "r.json"),
            "--map",
            str(tmp_path / "m.html"),
            "--geojson",
            str(tmp_path / "g.geojson"),
        ),
    )
    assert result.exit_code == 0, result.output
    assert "in both ranges" in result.output
    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "grids.gpkg")}
    assert {"grids", "assignment", "units", "communities", "report"} <= layers
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["valid"] is True
    grids = gpd.read_file(tmp_path / "g.geojson")
    assert len(grids) == report["grids"]
    assert all(len(code) == 15 and code.isdigit() for code in grids["code"])
    assert "leaflet" in (tmp_path / "m.html").read_text().lower()


def test_missing_field_exits_2_naming_file_and_field(sample_inputs, tmp_path):
    args = _args(sample_inputs, tmp_path)
    args[args.index("households")] = "HH_TYPO"
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "HH_TYPO" in result.output and "units.gpkg" in result.output
    assert not (tmp_path / "grids.gpkg").exists()


def test_inverted_range_exits_2(sample_inputs, tmp_path):
    result = runner.invoke(app, _args(sample_inputs, tmp_path, "--households-range", "500:300"))
    assert result.exit_code == 2
    assert "MIN <= MAX" in result.output
    assert not (tmp_path / "grids.gpkg").exists()


def test_communities_without_id_field_exits_2(sample_inputs, tmp_path):
    args = _args(sample_inputs, tmp_path)
    i = args.index("--community-id")
    del args[i : i + 2]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--community-id" in result.output


@pytest.mark.parametrize("publish", [True, False])
def test_load_then_map_from_the_store(sample_plan, create_database, tmp_path, publish):
    from gis.cluster import DATABASE

    url = create_database(f"cli_{int(publish)}", template=DATABASE).render_as_string(hide_password=False)
    flag = "--publish" if publish else "--draft"
    result = runner.invoke(app, ["load", str(sample_plan.gpkg), "--plan", "p1", "--district", "d", flag, "--db", url])
    assert result.exit_code == 0, result.output
    assert f"{sample_plan.report['grids']} grids" in result.output
    target = [] if publish else ["p1"]
    result = runner.invoke(app, ["map", *target, "--out", str(tmp_path / "m.html"), "--db", url])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.html").stat().st_size > 1000


def test_loading_the_same_plan_name_twice_is_refused(sample_plan, create_database):
    from gis.cluster import DATABASE

    url = create_database("cli_twice", template=DATABASE).render_as_string(hide_password=False)
    args = ["load", str(sample_plan.gpkg), "--plan", "same", "--district", "d", "--db", url]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert "same" in result.output


def test_load_of_a_file_that_is_not_a_plan_exits_2(tmp_path):
    bogus = tmp_path / "x.gpkg"
    bogus.write_text("not a geopackage")
    result = runner.invoke(app, ["load", str(bogus), "--plan", "p", "--db", "postgresql://nobody@127.0.0.1:1/x"])
    assert result.exit_code == 2
    assert "x.gpkg" in result.output


def test_community_field_nests_grids_without_polygons(sample_inputs, tmp_path):
    args = [
        "partition", str(sample_inputs["units"]),
        "--id", "unit_id", "--households", "households", "--population", "population",
        "--community-field", "community", "--out", str(tmp_path / "g.gpkg"), "--report", str(tmp_path / "r.json"),
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["valid"] and report["checks"]["unnested"] == []
    units = gpd.read_file(sample_inputs["units"])
    assert {c["community_id"] for c in report["per_community"]} == set(units["community"])


def test_time_budget_still_gives_a_valid_plan(sample_inputs, tmp_path):
    result = runner.invoke(
        app, _args(sample_inputs, tmp_path, "--time-budget", "0.5", "--report", str(tmp_path / "r.json"))
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["valid"] is True


def test_blank_counts_need_the_zero_flag(tmp_path):
    units = gpd.GeoDataFrame(
        {"uid": ["a", "b"], "hh": [400, None], "pop": [1200, None]},
        geometry=gpd.GeoSeries.from_wkt(
            ["POLYGON((0 0,100 0,100 100,0 100,0 0))", "POLYGON((100 0,200 0,200 100,100 100,100 0))"]
        ),
        crs="EPSG:3826",
    )
    src = tmp_path / "u.gpkg"
    units.to_file(src)
    base = ["partition", str(src), "--id", "uid", "--households", "hh", "--population", "pop",
            "--out", str(tmp_path / "g.gpkg"), "--crs", "EPSG:3826"]  # fmt: skip
    refused = runner.invoke(app, base)
    assert refused.exit_code == 2
    assert "u.gpkg" in refused.output and "hh" in refused.output and "b" in refused.output
    assert not (tmp_path / "g.gpkg").exists()
    accepted = runner.invoke(app, [*base, "--missing-counts", "zero"])
    assert accepted.exit_code == 0, accepted.output
    assert (tmp_path / "g.gpkg").exists()


def test_demo_runs_the_main_job_without_serving(create_database, tmp_path):
    from gis.cluster import DATABASE
    from gis.plans import read_grids
    from gis.store import connect, create_engine

    url = create_database("demo", template=DATABASE)
    out = tmp_path / "demo"
    result = runner.invoke(
        app,
        ["demo", "--no-serve", "--households", "6000", "--seed", "5", "--out", str(out),
         "--db", url.render_as_string(hide_password=False)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("grids.gpkg", "grids.geojson", "report.json", "map.html", "input/units.gpkg"):
        assert (out / name).exists(), name
    report = json.loads((out / "report.json").read_text())
    engine = create_engine(url)
    with connect(engine) as conn:
        stored = read_grids(conn)
    engine.dispose()
    assert len(stored) == report["grids"]
    assert stored.attrs["plan_status"] == "published"


def test_dask_workers_give_the_plan_of_one_process(sample_inputs, tmp_path):
    """Two worker processes: every job travels pickled to another process and back."""
    alone = runner.invoke(app, _args(sample_inputs, tmp_path / "one"))
    spread = runner.invoke(app, _args(sample_inputs, tmp_path / "two", "--workers", "2"))
    assert alone.exit_code == 0, alone.output
    assert spread.exit_code == 0, spread.output
    assert "on 2 Dask workers" in spread.output
    one, two = (pyogrio.read_dataframe(tmp_path / d / "grids.gpkg", layer="assignment") for d in ("one", "two"))
    assert one.equals(two)


def test_workers_and_scheduler_together_exit_2(sample_inputs, tmp_path):
    result = runner.invoke(app, _args(sample_inputs, tmp_path, "--workers", "2", "--scheduler", "tcp://h:8786"))
    assert result.exit_code == 2
    assert "give either --workers" in result.output
    assert not (tmp_path / "grids.gpkg").exists()


def test_a_failing_community_is_named_and_the_others_are_written(tmp_path):
    """Community ``huge`` holds 1,000 units over a maximum: 1,000 grids, but codes stop at 999."""
    boxes = [f"POLYGON(({x} 0,{x + 10} 0,{x + 10} 10,{x} 10,{x} 0))" for x in range(0, 10_000, 10)]
    boxes += [f"POLYGON(({x} 100,{x + 100} 100,{x + 100} 200,{x} 200,{x} 100))" for x in range(0, 800, 100)]
    units = gpd.GeoDataFrame(
        {
            "uid": [f"h{i}" for i in range(1_000)] + [f"k{i}" for i in range(8)],
            "hh": [600] * 1_000 + [100] * 8,
            "pop": [1_600] * 1_000 + [260] * 8,
            "village": ["huge"] * 1_000 + ["ok"] * 8,
        },
        geometry=gpd.GeoSeries.from_wkt(boxes),
        crs="EPSG:3826",
    )
    src = tmp_path / "u.gpkg"
    units.to_file(src)
    args = ["partition", str(src), "--id", "uid", "--households", "hh", "--population", "pop",
            "--community-field", "village", "--out", str(tmp_path / "g.gpkg"),
            "--report", str(tmp_path / "r.json")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "1 community failed" in result.output
    assert "huge: ValueError: community 'huge' would get 1000 grids; codes allow at most 999" in result.output
    grids = gpd.read_file(tmp_path / "g.gpkg", layer="grids")
    assert set(grids["community"]) == {"ok"}
    report = json.loads((tmp_path / "r.json").read_text())
    assert [f["community_id"] for f in report["failed_containers"]] == ["huge"]
