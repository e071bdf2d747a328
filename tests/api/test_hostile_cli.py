"""Hostile inputs on the command line: exit code 2, a message naming file, feature and field, nothing written.

``commgrid partition`` gets the corpus of tests/gis/test_hostile_inputs.py and must leave no
output file, whole or partial. ``commgrid load`` gets damaged plan files and must leave
the store as it was: every table's row count and every layer's data version.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from api.cli import app
from gis.plans.files import read_plan_file, write_plan_files
from gis.store import connect, create_engine
from gis.store.models import Base
from gis.store.versions import read_versions
from tests.api.conftest import database_with_plans
from tests.gis.test_hostile_inputs import CORPUS, huge_polygon, squares

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})
COMMGRID = Path(sys.executable).with_name("commgrid")


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


# -- commgrid partition ---------------------------------------------------------------------


def _partition(units: Path, out: Path, *extra: str):
    args = ["partition", str(units), "--id", "UID", "--households", "H", "--population", "P",
            "--out", str(out / "grids.gpkg"), "--geojson", str(out / "grids.geojson"),
            "--report", str(out / "report.json"), "--map", str(out / "map.html"), *extra]  # fmt: skip
    return runner.invoke(app, args)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
@pytest.mark.parametrize("name", CORPUS)
def test_partition_refuses_hostile_units_and_writes_nothing(name, tmp_path):
    case = CORPUS[name]
    units = case.make(tmp_path)
    before = _files(tmp_path)
    extra = [f"--input-{k}" if k == "crs" else f"--{k}" for k, _ in case.options]
    extra = [part for (_, v), flag in zip(case.options, extra, strict=True) for part in (flag, str(v))]
    result = _partition(units, tmp_path / "out", *extra)
    assert result.exit_code == 2, result.output
    assert f"error: file '{units}'" in result.output
    assert re.search(case.message, result.output), result.output
    assert _files(tmp_path) == before


def test_partition_refuses_ten_million_vertices_fast(tmp_path):
    frame = squares()
    frame.loc[0, "geometry"] = huge_polygon()
    units = tmp_path / "units.gpkg"
    frame.to_file(units)
    before = _files(tmp_path)
    result = _partition(units, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert f"file '{units}', feature [0], id [a]: 1 feature has more than 1,000,000 vertices" in result.output
    assert _files(tmp_path) == before


# -- commgrid load --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(create_database: Callable[..., URL], sample_plan) -> URL:
    """A store holding the sample plan once, published as 'h1'."""
    return database_with_plans(create_database, "hostile_cli", sample_plan.gpkg, {"h1": True})


def snapshot(url: URL, *, ignore: tuple[str, ...] = ()) -> dict[str, int]:
    """Row counts of every table (but ``ignore``) and every layer's data version."""
    engine = create_engine(url)
    with connect(engine) as conn:
        tables = [t for t in Base.metadata.sorted_tables if t.name not in ignore]
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}
        versions = {f"version:{k}": v for k, v in read_versions(conn).items()}
    engine.dispose()
    return counts | versions


def _plan_variant(source: Path, folder: Path, change: Callable) -> Path:
    files = read_plan_file(source)
    grids, assignment, units = files.grids.copy(), files.assignment.copy(), files.units
    grids, assignment, units = change(grids, assignment, None if units is None else units.copy())
    return write_plan_files(folder / "plan.gpkg", grids=grids, assignment=assignment, report=files.report, units=units)


def _set(layer: str, column: str, row: int, value: object) -> Callable:
    def change(grids, assignment, units):
        frame = {"grids": grids, "assignment": assignment, "units": units}[layer]
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return grids, assignment, units

    return change


def _truncated(source: Path, folder: Path) -> Path:
    data = source.read_bytes()
    (folder / "plan.gpkg").write_bytes(data[: len(data) // 3])
    return folder / "plan.gpkg"


def _text(source: Path, folder: Path) -> Path:
    (folder / "plan.gpkg").write_text("grids,assignment\n")
    return folder / "plan.gpkg"


def _empty(source: Path, folder: Path) -> Path:
    (folder / "plan.gpkg").touch()
    return folder / "plan.gpkg"


def _copy_code(grids, assignment, units):
    grids.loc[1, "code"] = grids.loc[0, "code"]
    return grids, assignment, units


def _no_crs(grids, assignment, units):
    return grids.set_crs(None, allow_override=True), assignment, units


def _huge_grid(grids, assignment, units):
    first = grids.geometry.iloc[0]
    x, y = first.representative_point().coords[0]
    circle = shapely.affinity.translate(huge_polygon(), x - 121.5005, y - 25.0005)
    grids = grids.to_crs(4326)
    grids.loc[0, "geometry"] = circle
    return grids, assignment, units


LOAD_CORPUS: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "empty_file": (_empty, r"plan\.gpkg'"),
    "truncated": (_truncated, r"plan\.gpkg': cannot be read as a GeoPackage"),
    "not_a_geopackage": (_text, r"plan\.gpkg': cannot be read as a GeoPackage"),
    "blank_grid_code": (
        lambda s, f: _plan_variant(s, f, _set("grids", "code", 1, None)),
        r"feature \[1\], field 'code': layer 'grids': 1 feature has a blank id",
    ),
    "duplicate_grid_code": (
        lambda s, f: _plan_variant(s, f, _copy_code),
        r"feature \[0, 1\], id \[(\d{15}), \1\], field 'code': layer 'grids': 1 id occurs on more than one feature",
    ),
    "grid_households_nan": (
        lambda s, f: _plan_variant(s, f, _set("grids", "households", 2, np.nan)),
        r"feature \[2\], id \[\d{15}\], field 'households': layer 'grids': 1 feature has a blank value",
    ),
    "grid_households_text": (
        lambda s, f: _plan_variant(s, f, _set("grids", "households", 2, "lots")),
        r"feature \[2\], id \[\d{15}\], field 'households': layer 'grids': 1 feature has text",
    ),
    "grid_population_too_large": (
        lambda s, f: _plan_variant(s, f, _set("grids", "population", 0, 1e30)),
        r"feature \[0\], id \[\d{15}\], field 'population': layer 'grids': .*too large to be a count",
    ),
    "assignment_unknown_grid": (
        lambda s, f: _plan_variant(s, f, _set("assignment", "code", 5, "nowhere")),
        r"feature \[5\], id \[U\d+\], field 'code': layer 'assignment': .*not among the plan's grids",
    ),
    "assignment_duplicate_unit": (
        lambda s, f: _plan_variant(s, f, lambda g, a, u: (g, pd.concat([a, a.iloc[[3]]], ignore_index=True), u)),
        r"feature \[3, \d+\], id \[(U\d+), \1\], field 'unit_id': layer 'assignment': 1 id occurs on more than one",
    ),
    "grids_without_crs": (
        lambda s, f: _plan_variant(s, f, _no_crs),
        r"field 'geometry': layer 'grids': the layer has no CRS",
    ),
    "ten_million_vertex_grid": (
        lambda s, f: _plan_variant(s, f, _huge_grid),
        r"feature \[0\], id \[\d{15}\]: layer 'grids': 1 feature has more than 1,000,000 vertices",
    ),
}


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
@pytest.mark.parametrize("name", LOAD_CORPUS)
def test_load_refuses_damaged_plan_files_and_stores_nothing(name, store, sample_plan, tmp_path):
    make, message = LOAD_CORPUS[name]
    path = make(sample_plan.gpkg, tmp_path)
    before = snapshot(store)
    db = store.render_as_string(hide_password=False)
    result = runner.invoke(app, ["load", str(path), "--plan", f"bad-{name}", "--district", "sample", "--db", db])
    assert result.exit_code == 2, result.output
    assert f"error: file '{path}'" in result.output, result.output
    assert re.search(message, result.output), result.output
    assert snapshot(store) == before


def test_load_refuses_a_truncated_barriers_file_and_stores_nothing(store, sample_plan, tmp_path):
    barriers = tmp_path / "streets.geojson"
    full = read_plan_file(sample_plan.gpkg).grids.boundary.to_frame("geometry").set_geometry("geometry")
    full.to_file(barriers)
    barriers.write_bytes(barriers.read_bytes()[:2_000])
    before = snapshot(store)
    db = store.render_as_string(hide_password=False)
    args = ["load", str(sample_plan.gpkg), "--plan", "bad-barriers", "--barriers", str(barriers), "--db", db]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"error: file '{barriers}': could not be read as GeoJSON" in result.output
    assert snapshot(store) == before


# -- the second hardening round (issue 22): commands that printed a traceback --------------------------------------

_HEADER = "category,x,y,reported_at,description\n"
_ROW = "sanitation.garbage,121.5,25.03,2026-11-02T10:00:00+08:00,bin overflowing\n"
INCIDENT_CSVS: dict[str, tuple[str, str]] = {
    "year_99999": (
        _HEADER + _ROW + _ROW.replace("2026-11-02", "99999-01-01"),
        r"row 1 has the time '99999-01-01T10:00:00\+08:00', which does not parse as a date and time between the "
        r"years 1900 and 2200",
    ),
    "year_9999": (_HEADER + _ROW.replace("2026-11-02", "9999-12-31"), r"row 0 has the time '9999-12-31"),
    "nul": (_HEADER + _ROW + _ROW.replace("bin", "b\x00in"), r"line 3 holds a NUL character"),
    "truncated": ((_HEADER + _ROW * 3)[:-40], r"row 2 \(line 4\) has \d fields, the header 5; the file may be cut"),
    "short_row": (_HEADER + _ROW + "sanitation.garbage,121.5,25.03,2026-11-02T10:00:00+08:00\n" + _ROW,
                  r"row 1 \(line 3\) has 4 fields, the header 5"),
}  # fmt: skip


@pytest.mark.parametrize("name", INCIDENT_CSVS)
def test_incident_imports_refuse_hostile_files_and_store_nothing(name, store, tmp_path):
    content, message = INCIDENT_CSVS[name]
    path = tmp_path / "incidents.csv"
    path.write_bytes(content.encode())
    before = snapshot(store)
    maps = ["--map", "category=category", "--map", "x=x", "--map", "y=y", "--map", "reported_at=reported_at"]
    db = ["--db", store.render_as_string(hide_password=False)]
    result = runner.invoke(app, ["incidents", "import", str(path), *maps, "--crs", "EPSG:4326", *db])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and f"error: file '{path}'" in result.output, result.output
    assert re.search(message, result.output), result.output
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("month", "message"),
    [("13", r"row 0 has month '13' \(column 'MONTH'\); expected a whole number from 1 to 12"),
     ("x", r"row 0 has month 'x' \(column 'MONTH'\)")],
)  # fmt: skip
def test_a_month_13_is_named_as_the_month(store, tmp_path, month, message):
    path = tmp_path / "parts.csv"
    path.write_text(f"TYPE,X,Y,YEAR,MONTH,DAY\nsanitation.garbage,121.5,25.03,2020,{month},1\n")
    maps = [f"--map={f}={c}" for f, c in (("category", "TYPE"), ("x", "X"), ("y", "Y"), ("year", "YEAR"),
                                          ("month", "MONTH"), ("day", "DAY"))]  # fmt: skip
    db = ["--db", store.render_as_string(hide_password=False)]
    args = ["incidents", "import", str(path), *maps, "--crs", "EPSG:4326", "--timezone", "UTC", *db]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert re.search(message, result.output), result.output
    assert "np.int64" not in result.output


@pytest.mark.parametrize(
    ("collection", "message"),
    [
        ('{"type": "FeatureCollection", "features": [1]}', r"feature 0, field 'features'"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": "x"}]}', r"field 'geometry'"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"time": "2026-11-02T09:00Z"},'
         ' "geometry": {"type": "Point", "coordinates": ["114", "22"]}}]}', r"field 'coordinates'"),
        ('{"type": "FeatureCollection", "features": [{"geometry": {"type": "Point", "coordinates": [NaN, 1]}}]}',
         r"cannot be read as GeoJSON"),
        ('{"type": "FeatureCollection", "features": ' + "[" * 3000 + "]" * 3000 + "}", r"nests too deep"),
    ],
)  # fmt: skip
def test_patrol_imports_refuse_malformed_geojson(store, tmp_path, collection, message):
    path = tmp_path / "walk.geojson"
    path.write_text(collection)
    before = snapshot(store)
    db = ["--db", store.render_as_string(hide_password=False)]
    result = runner.invoke(app, ["patrols", "import", str(path), "--worker", "1", *db])
    assert result.exit_code == 2, result.output
    assert f"error: file '{path}'" in result.output and re.search(message, result.output), result.output
    assert snapshot(store) == before


def _bow_tie(grids, assignment, units):
    first = grids.geometry.iloc[0]
    minx, miny, maxx, maxy = first.bounds
    grids.loc[0, "geometry"] = shapely.Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)])
    return grids, assignment, units


def test_load_refuses_a_self_intersecting_grid_and_stores_nothing(store, sample_plan, tmp_path):
    path = _plan_variant(sample_plan.gpkg, tmp_path, _bow_tie)
    before = snapshot(store)
    db = store.render_as_string(hide_password=False)
    result = runner.invoke(app, ["load", str(path), "--plan", "bad-bow-tie", "--district", "sample", "--db", db])
    assert result.exit_code == 2, result.output
    assert f"error: file '{path}'" in result.output and "feature [0]" in result.output, result.output
    assert snapshot(store) == before


def _file_size_limit() -> None:
    # a disk that fills up at 20 kB: every write past it fails (EFBIG), as on a full disk (ENOSPC)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_partition_on_a_full_disk_exits_2_naming_the_file(tmp_path):
    units = tmp_path / "units.gpkg"
    squares().to_file(units)
    out = tmp_path / "out"
    args = [str(COMMGRID), "partition", str(units), "--id", "UID", "--households", "H", "--population", "P",
            "--out", str(out / "grids.gpkg"), "--report", str(out / "report.json")]  # fmt: skip
    done = subprocess.run(args, preexec_fn=_file_size_limit, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr
    assert f"error: cannot write {out / 'grids.gpkg'}" in done.stderr and "Traceback" not in done.stderr
    assert not (out / "grids.gpkg").exists() and not (out / "report.json").exists()


def test_partition_never_writes_over_what_is_not_a_file(tmp_path):
    units = tmp_path / "units.gpkg"
    squares().to_file(units)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    result = runner.invoke(
        app, ["partition", str(units), "--id", "UID", "--households", "H", "--population", "P",
              "--out", str(tmp_path / "grids.gpkg"), "--report", str(folder)]
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"cannot write {folder}: it exists and is not a regular file" in result.output
    assert folder.is_dir()
