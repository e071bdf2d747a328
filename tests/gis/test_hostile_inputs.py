"""Hostile input files, made by the tests: each is refused with a message naming file, feature and field.

The corpus (:data:`CORPUS`) is shared with the command-line tests (tests/api/test_hostile_cli.py),
which check the exit code and that nothing is written. Every file derives from the four
Taipei squares of ``tests/gis/conftest.py``::

    25.002 +-----+-----+
           |  c  |  d  |      fields UID (id), H (households), P (residents)
    25.001 +-----+-----+
           |  a  |  b  |
    25.000 +-----+-----+
        121.500     121.502
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from gis.errors import CountError, DuplicateIdError, FormatError, GeometryError, InputError, MissingCRSError
from gis.io import read_units
from gis.validate import MAX_VERTICES
from tests.gis.conftest import write_frame

UNIT_FIELDS = {"id_field": "UID", "households_field": "H", "population_field": "P"}


def squares() -> gpd.GeoDataFrame:
    """The four squares (see the module docstring)."""
    boxes = [
        shapely.box(121.500 + 0.001 * c, 25.000 + 0.001 * r, 121.501 + 0.001 * c, 25.001 + 0.001 * r)
        for r in range(2)
        for c in range(2)
    ]
    return gpd.GeoDataFrame(
        {"UID": ["a", "b", "c", "d"], "H": [10, 20, 30, 40], "P": [25, 50, 75, 100]}, geometry=boxes, crs="EPSG:4326"
    )


def _with(column: str, row: int, value: object) -> gpd.GeoDataFrame:
    frame = squares()
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


def _geometry(row: int, wkt: str) -> gpd.GeoDataFrame:
    frame = squares()
    frame.loc[row, "geometry"] = shapely.from_wkt(wkt)
    return frame


def _swap(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.set_geometry(shapely.transform(frame.geometry.values, lambda xy: xy[:, ::-1]), crs=frame.crs)


def huge_polygon(n: int = 10_000_000) -> shapely.Polygon:
    """A circle of ``n`` vertices around square a, built with numpy (about a second)."""
    angle = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    ring = np.empty((n + 1, 2))
    ring[:n, 0] = 121.5005 + 0.0004 * np.cos(angle)
    ring[:n, 1] = 25.0005 + 0.0004 * np.sin(angle)
    ring[n] = ring[0]
    return shapely.polygons(ring)


def _write(folder: Path, frame: gpd.GeoDataFrame, name: str) -> Path:
    return write_frame(frame, folder / name)


def _truncated(folder: Path) -> Path:
    path = _write(folder, squares(), "units.geojson")
    text = path.read_bytes()
    path.write_bytes(text[: len(text) // 2])
    return path


def _without(suffix: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = _write(folder, squares(), "units.shp")
        path.with_suffix(suffix).unlink()
        return path

    return make


def _empty(folder: Path) -> Path:
    path = folder / "units.geojson"
    path.touch()
    return path


def _no_features(folder: Path) -> Path:
    path = folder / "units.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    return path


def _binary(folder: Path) -> Path:
    path = folder / "units.geojson"
    path.write_bytes(b"\x00\xff" * 64)
    return path


@dataclass(frozen=True)
class Hostile:
    """One hostile file: how to make it, the error it must raise and what its message must say."""

    make: Callable[[Path], Path]
    error: type[InputError]
    message: str  # a regex; the message must also name the file (checked separately)
    options: tuple[tuple[str, object], ...] = ()


def _case(name: str, frame: gpd.GeoDataFrame) -> Callable[[Path], Path]:
    return lambda folder: _write(folder, frame, name)


CORPUS: dict[str, Hostile] = {
    "truncated_geojson": Hostile(
        _truncated, FormatError, r"could not be read as GeoJSON \(Failed to read GeoJSON data; At line .*truncated"
    ),
    "shapefile_without_shx": Hostile(_without(".shx"), FormatError, r"missing its index 'units\.shx'"),
    "shapefile_without_dbf": Hostile(_without(".dbf"), FormatError, r"missing its attribute table 'units\.dbf'"),
    "shapefile_without_prj": Hostile(_without(".prj"), MissingCRSError, r"no CRS \(its \.prj file is missing\)"),
    "geopackage_without_crs": Hostile(
        _case("units.gpkg", squares().set_crs(None, allow_override=True)),
        MissingCRSError,
        r"no coordinate reference system \(CRS\); name the CRS the coordinates are in",
    ),
    "csv_without_crs": Hostile(
        _case("units.lonlat.csv", squares()), MissingCRSError, r"CSV files carry no coordinate reference system"
    ),
    "lon_lat_swapped": Hostile(
        _case("units.geojson", _swap(squares())),
        MissingCRSError,
        r"feature \[0, 1, 2, 3\], id \[a, b, c, d\]: .*longitude and latitude look swapped",
    ),
    "lon_lat_swapped_in_regional_crs": Hostile(
        # Helsinki, x=latitude and y=longitude, labelled ETRS89 (Europe): every value is a valid degree
        _case(
            "units.gpkg",
            _swap(squares().set_geometry(squares().translate(-96.6, 35.2))).set_crs("EPSG:4258", allow_override=True),
        ),
        MissingCRSError,
        r"feature \[0, 1, 2, 3\], id \[a, b, c, d\]: longitude and latitude look swapped.*EPSG:4258 \(Europe",
    ),
    "metres_labelled_degrees": Hostile(
        _case("units.gpkg", squares().to_crs("EPSG:3826").set_crs("EPSG:4326", allow_override=True)),
        MissingCRSError,
        r"feature \[0, 1, 2, 3\], id \[a, b, c, d\]: .*metres labelled as degrees",
    ),
    "degrees_labelled_metres": Hostile(
        _case("units.gpkg", squares().set_crs("EPSG:3826", allow_override=True)),
        MissingCRSError,
        r"feature \[0, 1, 2, 3\], id \[a, b, c, d\]: .*look like longitude/latitude degrees.*EPSG:4326 as their CRS",
    ),
    "zero_area_polygon": Hostile(
        _case("units.gpkg", _geometry(1, "POLYGON ((121.501 25, 121.5015 25, 121.502 25, 121.501 25))")),
        GeometryError,
        r"feature \[1\], id \[b\]: .*repair leaves empty \(e\.g\. a polygon with no area\)",
    ),
    "missing_geometry": Hostile(
        _case("units.geojson", _with("geometry", 2, None)), GeometryError, r"feature \[2\], id \[c\]: .*no geometry"
    ),
    "points_among_polygons": Hostile(
        _case("units.geojson", _geometry(3, "POINT (121.5015 25.0015)")),
        GeometryError,
        r"feature \[3\], id \[d\]: 1 feature has geometry type Point, while the rest \(3\) are Polygon",
    ),
    "nan_count": Hostile(
        _case("units.gpkg", _with("H", 1, np.nan)),
        CountError,
        r"feature \[1\], id \[b\], field 'H': 1 feature has a blank value \(null, empty or NaN\)",
    ),
    "nan_text_count": Hostile(
        _case("units.wkt.csv", _with("P", 2, "NaN")),
        CountError,
        r"feature \[2\], id \[c\], field 'P': 1 feature has a blank value \(null, empty or NaN\)",
        (("crs", "EPSG:4326"),),
    ),
    "text_count": Hostile(
        _case("units.gpkg", _with("H", 0, "many")),
        CountError,
        r"feature \[0\], id \[a\], field 'H': 1 feature has text that is not a number \['many'\]",
    ),
    "count_too_large": Hostile(
        _case("units.gpkg", _with("P", 3, 1e30)),
        CountError,
        r"feature \[3\], id \[d\], field 'P': 1 feature has a value too large to be a count",
    ),
    "duplicate_ids": Hostile(
        _case("units.gpkg", _with("UID", 2, "a")),
        DuplicateIdError,
        r"feature \[0, 2\], id \[a, a\], field 'UID': 1 id occurs on more than one feature",
    ),
    "empty_file": Hostile(_empty, FormatError, r"the file is empty \(0 bytes\)"),
    "no_features": Hostile(_no_features, FormatError, r"the file has no features"),
    "not_a_geojson": Hostile(
        _binary,
        FormatError,
        r"could not be read as GeoJSON \(not recognized as being in a supported file format\)",
    ),
}
# the ten-million-vertex polygon has a test of its own: its file is made once per module


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
@pytest.mark.parametrize("name", CORPUS)
def test_hostile_file_is_refused_naming_file_feature_and_field(name, tmp_path):
    case = CORPUS[name]
    path = case.make(tmp_path)
    with pytest.raises(case.error, match=case.message) as caught:
        read_units(path, **UNIT_FIELDS, **dict(case.options))
    assert str(caught.value).startswith(f"file {str(path)!r}"), str(caught.value)


@pytest.fixture(scope="module")
def huge_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Square a replaced by a polygon of ten million vertices, in a GeoPackage (about 150 MB)."""
    frame = squares()
    frame.loc[0, "geometry"] = huge_polygon()
    return _write(tmp_path_factory.mktemp("huge"), frame, "units.gpkg")


def test_ten_million_vertices_fail_fast_naming_the_feature(huge_file):
    with pytest.raises(GeometryError, match=r"feature \[0\], id \[a\]: 1 feature has more than 1,000,000 vertices"):
        read_units(huge_file, **UNIT_FIELDS)
    assert MAX_VERTICES == 1_000_000


def test_geojson_feature_over_gdals_size_limit_says_so(tmp_path):
    """GDAL refuses a GeoJSON object over OGR_GEOJSON_MAX_OBJ_SIZE; lowered here to 1 MB for a 100,000-vertex one."""
    frame = squares()
    frame.loc[0, "geometry"] = huge_polygon(100_000)
    path = _write(tmp_path, frame, "units.geojson")
    pyogrio.set_gdal_config_options({"OGR_GEOJSON_MAX_OBJ_SIZE": "1"})
    try:
        with pytest.raises(FormatError, match=r"units\.geojson': a feature is too large to read \(At line"):
            read_units(path, **UNIT_FIELDS)
    finally:
        pyogrio.set_gdal_config_options({"OGR_GEOJSON_MAX_OBJ_SIZE": None})


def test_self_intersecting_polygon_is_repaired_and_named(tmp_path):
    """A bow-tie is repaired into its two triangles (gis.validate keeps polygonal parts) and the note names it."""
    bowtie = "POLYGON ((121.501 25, 121.502 25.001, 121.502 25, 121.501 25.001, 121.501 25))"
    loaded = read_units(_write(tmp_path, _geometry(1, bowtie), "units.gpkg"), **UNIT_FIELDS)
    assert loaded.report.n_repaired == 1
    assert shapely.is_valid(loaded.frame.geometry.values).all()
    assert any("feature [1], id [b]: 1 feature has an invalid geometry" in w for w in loaded.report.warnings)


def test_data_outside_its_crs_area_of_use_is_noted(tmp_path):
    """Web Mercator metres labelled TWD97 / TM2 read, but the report says where they land."""
    mislabelled = squares().to_crs("EPSG:3857").set_crs("EPSG:3826", allow_override=True)
    loaded = read_units(_write(tmp_path, mislabelled, "units.gpkg"), **UNIT_FIELDS)
    assert any("outside the area of use of EPSG:3826 (Taiwan" in w for w in loaded.report.warnings)
    assert not read_units(_write(tmp_path, squares().to_crs(3826), "ok.gpkg"), **UNIT_FIELDS).report.warnings
