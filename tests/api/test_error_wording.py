"""Errors speak the caller's language: the store words a fix neutrally, each edge names its own flag or request."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app as cli
from api.cli._common import ACTION_COMMANDS
from api.errors import ACTION_REQUESTS
from gis.errors import ACTIONS

runner = CliRunner()
GIS = Path(__file__).resolve().parents[2] / "gis"


def _units_csv(path: Path, *, blank_household: bool = False) -> Path:
    households = "" if blank_household else "400"
    path.write_text(f"UID,H,P,lon,lat\na,{households},1200,121.50,25.03\nb,420,1300,121.51,25.03\n")
    return path


def _partition(units: Path, out: Path, *extra: str):
    args = ["partition", str(units), "--id", "UID", "--households", "H", "--population", "P",
            "--out", str(out / "grids.gpkg"), *extra]  # fmt: skip
    return runner.invoke(cli, args)


def _one_line(output: str) -> str:
    return " ".join(output.split())


def test_every_next_step_has_words_at_both_edges():
    assert set(ACTION_COMMANDS) == set(ACTIONS) == set(ACTION_REQUESTS)
    assert all("commgrid" not in words or "(" in words for words in ACTION_REQUESTS.values())


def test_the_partition_command_names_its_own_crs_flag(tmp_path):
    """The CSV's CRS is --input-crs on `commgrid partition` (its --crs is the working CRS)."""
    result = _partition(_units_csv(tmp_path / "units.csv"), tmp_path / "out")
    assert result.exit_code == 2, result.output
    said = _one_line(result.output)
    assert "CSV files carry no coordinate reference system" in said
    assert said.endswith("(--input-crs)"), said
    assert not re.search(r"--crs\b", said)


def test_the_partition_command_names_its_blank_counts_flag(tmp_path):
    result = _partition(
        _units_csv(tmp_path / "units.csv", blank_household=True), tmp_path / "out", "--input-crs", "EPSG:4326"
    )
    assert result.exit_code == 2, result.output
    said = _one_line(result.output)
    assert "blank counts read as zero" in said and said.endswith("(--missing-counts)"), said


def test_districts_add_names_its_crs_flag(tmp_path):
    boundary = tmp_path / "boundary.gpkg"
    frame = gpd.GeoDataFrame(geometry=[shapely.box(121.5, 25.0, 121.52, 25.02)])
    frame.to_file(boundary)  # written without a CRS
    result = runner.invoke(
        cli, ["districts", "add", "X", "--boundary", str(boundary), "--db", "postgresql+psycopg://u@127.0.0.1:9/x"]
    )
    assert result.exit_code == 2, result.output
    said = _one_line(result.output)
    assert "no coordinate reference system" in said and said.endswith("(--crs)"), said


def test_restore_names_the_dump_command(tmp_path):
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"not a dump at all\n")
    result = runner.invoke(cli, ["restore", str(junk), "--db", "postgresql+psycopg://u@127.0.0.1:9/x"])
    assert result.exit_code == 2, result.output
    assert "see `commgrid dump`" in _one_line(result.output), result.output


def test_the_api_names_a_request_not_a_command(client):
    answer = client.get("/communities/NOPE/settings")
    assert answer.status_code == 404
    said = answer.json()["description"]
    assert said == "no community 'NOPE'; see GET /collections/communities/items"


# every module below the edges but the migrations and the cluster, which runs server programs by their flags
MODULES = sorted(
    name
    for path in GIS.rglob("*.py")
    if not (name := path.relative_to(GIS).as_posix()).startswith("migrations/") and name != "cluster.py"
)


# the CLI's commands, as `commgrid --help` lists them: "commgrid store" or "commgrid needs" name none
COMMANDS = "|".join(sorted({c.name for c in cli.registered_commands} | {g.name for g in cli.registered_groups}))


@pytest.mark.parametrize("module", MODULES)
def test_store_messages_name_no_flag_and_no_request(module):
    """Below the edges, a message names no command-line flag, command or URL (docstrings and comments aside)."""
    import ast

    tree = ast.parse((GIS / module).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        for part in ast.walk(node.exc):
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                text = part.value
                if re.search(rf"(?<![\w-])--[a-z]|`?commgrid ({COMMANDS})\b|\b(GET|POST|PATCH|PUT|DELETE) /", text):
                    found.append(f"line {part.lineno}: {text!r}")
    assert not found, "\n".join(found)
