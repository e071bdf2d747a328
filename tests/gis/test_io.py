"""Reading every format, the reading errors, and read_units' validation through files."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis import columns as col
from gis.errors import (
    CountError,
    DuplicateIdError,
    FormatError,
    GeometryError,
    InputError,
    MissingCRSError,
    OutsideBoundaryError,
)
from gis.io import read_barriers, read_boundary, read_communities, read_units, read_vector

FORMATS = ("gpkg", "geojson", "shp", "fgb", "parquet", "lonlat.csv", "wkt.csv")
UNIT_FIELDS = {"id_field": "UID", "households_field": "H", "population_field": "P"}


def _csv_options(name):
    return {"crs": "EPSG:4326"} if name.endswith(".csv") else {}


@pytest.mark.parametrize("name", FORMATS)
def test_read_vector_every_format(district, write, name):
    frame = read_vector(write(district, f"units.{name}"), **_csv_options(name))
    assert len(frame) == 4
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.name == "geometry"
    assert set(frame.geom_type) == ({"Point"} if name == "lonlat.csv" else {"Polygon"})


@pytest.mark.parametrize("name", FORMATS)
def test_read_units_every_format(district, write, name):
    loaded = read_units(write(district, f"units.{name}"), **UNIT_FIELDS, **_csv_options(name))
    frame = loaded.frame
    assert list(frame.columns) == [col.UNIT_ID, col.HOUSEHOLDS, col.POPULATION, "geometry"]
    assert sorted(frame[col.UNIT_ID]) == ["a", "b", "c", "d"]  # FlatGeobuf reorders
    assert frame[col.HOUSEHOLDS].dtype == np.int64
    assert frame[col.POPULATION].sum() == 250
    assert loaded.report.n_features == 4
    assert loaded.report.crs == "EPSG:4326"


def test_csv_with_explicit_columns(district, write):
    path = write(district.rename_geometry("shape"), "units.wkt.csv")
    path.write_text(path.read_text().replace("wkt", "footprint"))
    frame = read_vector(path, wkt="footprint", crs="EPSG:4326")
    assert set(frame.geom_type) == {"Polygon"}
    with pytest.raises(InputError, match=r"no such field.*did you mean 'footprint'"):
        read_vector(path, wkt="footprin", crs="EPSG:4326")


def test_csv_autodetected_columns_are_reported(district, write):
    loaded = read_units(write(district, "units.lonlat.csv"), **UNIT_FIELDS, crs="EPSG:4326")
    assert any("'lon'/'lat'" in w and "found by name" in w for w in loaded.report.warnings)


def test_csv_without_coordinate_columns(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("UID,H,P\na,1,2\n")
    with pytest.raises(FormatError, match=r"units\.csv.*no coordinate columns found.*lon/lat.*name the longitude"):
        read_vector(path, crs="EPSG:4326")


def test_csv_needs_crs(district, write):
    with pytest.raises(
        MissingCRSError,
        match=r"units\.lonlat\.csv.*no coordinate reference system.*EPSG:4326 as their CRS if 'lon'/'lat'",
    ):
        read_vector(write(district, "units.lonlat.csv"))


def test_csv_bad_coordinates(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text("id,lon,lat\na,121.5,25.0\nb,east,25.0\n")
    with pytest.raises(GeometryError, match=r"pts\.csv', feature \[1\], field 'lon'.*not numbers \['east'\]"):
        read_vector(path, crs="EPSG:4326")


def test_csv_bad_wkt(tmp_path):
    path = tmp_path / "shapes.csv"
    path.write_text('id,wkt\na,"POINT (1 2)"\nb,"POINT (1"\n')
    with pytest.raises(GeometryError, match=r"shapes\.csv', feature \[1\], field 'wkt'.*not WKT"):
        read_vector(path, crs="EPSG:4326")


def test_missing_file(tmp_path):
    with pytest.raises(FormatError, match=r"nowhere\.gpkg.*no such file.*check the path"):
        read_vector(tmp_path / "nowhere.gpkg")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.geojson"
    path.touch()
    with pytest.raises(FormatError, match=r"empty\.geojson.*empty \(0 bytes\).*export or copy it again"):
        read_vector(path)


def test_truncated_geojson(district, write):
    path = write(district, "units.geojson")
    path.write_text(path.read_text()[:300])
    with pytest.raises(FormatError, match=r"units\.geojson.*could not be read as GeoJSON.*truncated"):
        read_vector(path)


def test_shapefile_without_shx(district, write):
    path = write(district, "units.shp")
    path.with_suffix(".shx").unlink()
    with pytest.raises(FormatError, match=r"units\.shp.*missing its index 'units\.shx'.*copy all its files"):
        read_vector(path)


def test_shapefile_without_prj(district, write):
    path = write(district, "units.shp")
    path.with_suffix(".prj").unlink()
    with pytest.raises(MissingCRSError, match=r"units\.shp.*\.prj file is missing.*name the CRS"):
        read_vector(path)
    assert read_vector(path, crs="EPSG:4326").crs.to_epsg() == 4326


def test_unknown_format(tmp_path):
    path = tmp_path / "units.xyz"
    path.write_text("hello")
    with pytest.raises(FormatError, match=r"units\.xyz.*not in a format commgrid can read.*GeoPackage"):
        read_vector(path)


def test_parquet_without_geo_metadata(district, tmp_path):
    path = tmp_path / "plain.parquet"
    district.drop(columns="geometry").to_parquet(path)
    with pytest.raises(FormatError, match=r"plain\.parquet.*could not be read as GeoParquet"):
        read_vector(path)


def test_geopackage_layers(district, tmp_path):
    path = tmp_path / "two.gpkg"
    district.to_file(path, layer="units")
    district.iloc[:1].to_file(path, layer="other")
    with pytest.raises(FormatError, match=r"two\.gpkg.*2 layers \['units', 'other'\].*name the one to read"):
        read_vector(path)
    with pytest.raises(FormatError, match=r"no layer 'unit'.*did you mean 'units'"):
        read_vector(path, layer="unit")
    assert len(read_vector(path, layer="other")) == 1


def test_no_features(district, write):
    with pytest.raises(FormatError, match="no features"):
        read_vector(write(district.iloc[:0], "none.gpkg"))


def test_missing_field_lists_fields_and_close_match(district, write):
    path = write(district, "units.gpkg")
    with pytest.raises(InputError, match=r"field 'h'.*households.*'UID', 'H', 'P'.*did you mean 'H'"):
        read_units(path, id_field="UID", households_field="h", population_field="P")


def test_crs_override_is_noted(district, write):
    loaded = read_units(write(district, "units.gpkg"), **UNIT_FIELDS, crs="EPSG:4326")
    assert loaded.report.warnings == []
    metres = district.to_crs("EPSG:3826").set_crs("EPSG:3857", allow_override=True)
    loaded = read_units(write(metres, "m.gpkg"), **UNIT_FIELDS, crs="EPSG:3826")
    assert loaded.frame.crs.to_epsg() == 3826
    assert any("declares CRS EPSG:3857; using EPSG:3826" in w for w in loaded.report.warnings)


def test_metres_labelled_as_degrees(district, write):
    mislabelled = district.to_crs("EPSG:3826").set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(MissingCRSError, match=r"m\.gpkg', feature \[0, 1, 2, 3\].*metres labelled as degrees"):
        read_units(write(mislabelled, "m.gpkg"), **UNIT_FIELDS)


def test_z_dropped_and_repairs_reported(district, write):
    bowtie = shapely.from_wkt("POLYGON ((121.5 25, 121.501 25.001, 121.501 25, 121.5 25.001, 121.5 25))")
    shapes = district.copy()
    shapes.loc[0, "geometry"] = bowtie
    shapes["geometry"] = shapely.force_3d(shapes.geometry.values)
    loaded = read_units(write(shapes, "z.gpkg"), **UNIT_FIELDS)
    assert loaded.report.n_dropped_z == 4
    assert loaded.report.n_repaired == 1
    assert not loaded.frame.has_z.any()
    assert loaded.frame.is_valid.all()


def _with(frame, column, row, value):
    changed = frame.astype({column: object}) if column in ("H", "P", "UID") else frame.copy()
    changed.loc[row, column] = value
    return changed


# read_units' validation errors: (name, column, row, value, error, message)
BAD_UNITS = [
    ("blank count", "H", 1, None, CountError, r"1 feature has a blank value.*blank counts read as zero"),
    ("negative", "P", 1, -3, CountError, r"a negative value \['-3'\]"),
    ("fractional", "H", 1, 1.5, CountError, r"a fractional value \['1\.5'\]"),
    ("text", "H", 1, "abc", CountError, r"text that is not a number \['abc'\]"),
    ("infinite", "P", 1, "inf", CountError, r"not a finite number \['inf'\]"),
    ("duplicate id", "UID", 1, "a", DuplicateIdError, r"1 id occurs on more than one feature"),
    ("missing geometry", "geometry", 1, None, GeometryError, r"no geometry \(missing or empty\)"),
    ("empty geometry", "geometry", 1, shapely.Polygon(), GeometryError, r"no geometry \(missing or empty\)"),
    ("line unit", "geometry", 1, shapely.LineString([(121.5, 25), (121.6, 25)]), GeometryError, "LineString"),
]


@pytest.mark.parametrize(
    ("column", "row", "value", "error", "message"), [c[1:] for c in BAD_UNITS], ids=[c[0] for c in BAD_UNITS]
)
def test_read_units_refuses(district, write, column, row, value, error, message):
    path = write(_with(district, column, row, value), "units.wkt.csv")
    where = r"units\.wkt\.csv', feature \[(0, )?1\], id \[(a, )?[ab]\]"
    field = rf", field '{column}'" if column in ("H", "P", "UID") else ""
    with pytest.raises(error, match=where + field + ": .*" + message):
        read_units(path, **UNIT_FIELDS, crs="EPSG:4326")


def test_read_units_blank_counts_zeroed(district, write):
    path = write(_with(district, "H", 1, None), "units.wkt.csv")
    loaded = read_units(path, **UNIT_FIELDS, crs="EPSG:4326", missing_counts="zero")
    assert loaded.frame[col.HOUSEHOLDS].tolist() == [10, 0, 30, 40]
    assert loaded.report.n_blank_counts_zeroed == 1


def test_read_units_outside_boundary(district, write):
    path = write(district, "units.gpkg")
    lower_half = shapely.box(121.500, 25.000, 121.502, 25.001)
    with pytest.raises(OutsideBoundaryError, match=r"units\.gpkg', feature \[2, 3\], id \[c, d\]: 2 features"):
        read_units(path, **UNIT_FIELDS, boundary=lower_half)
    boundary = write(district.dissolve(), "district.gpkg")
    assert len(read_units(path, **UNIT_FIELDS, boundary=boundary).frame) == 4


def test_read_units_population_below_households_warns(district, write):
    path = write(_with(district, "P", 3, 5), "units.gpkg")
    loaded = read_units(path, **UNIT_FIELDS)
    assert loaded.report.warnings == [
        f"file '{path}', feature [3], id [d]: 1 feature has population below households ('P' < 'H'); "
        "check the two fields are not swapped"
    ]


def test_read_units_optional_fields(district, write):
    path = write(district.assign(CMP=["x", "x", "y", None], VIL=["v1"] * 4), "units.gpkg")
    frame = read_units(path, **UNIT_FIELDS, compound_field="CMP", community_field="VIL").frame
    assert list(frame.columns) == ["unit_id", "households", "population", "compound", "community", "geometry"]
    assert frame[col.COMPOUND].tolist()[:3] == ["x", "x", "y"]


def test_read_units_points(district, write):
    points = district.set_geometry(district.representative_point())
    loaded = read_units(write(points, "pts.fgb"), **UNIT_FIELDS)
    assert set(loaded.frame.geom_type) == {"Point"}


def test_read_units_does_not_touch_input(district, write):
    before = district.copy()
    read_units(write(district, "units.parquet"), **UNIT_FIELDS)
    assert district.equals(before)


def test_read_communities(district, write):
    villages = district.assign(NAME=["A", "B", "C", "D"], CODE=["630100100001", "630100100002", None, ""])
    frame = read_communities(write(villages, "v.gpkg"), id_field="UID", name_field="NAME", code_field="CODE")
    assert list(frame.columns) == [col.COMMUNITY_ID, col.COMMUNITY_NAME, col.ADMIN_CODE, "geometry"]
    assert frame[col.ADMIN_CODE].tolist() == ["630100100001", "630100100002", None, None]
    bare = read_communities(write(villages, "v.geojson"), id_field="UID")
    assert bare[col.COMMUNITY_NAME].isna().all() and bare[col.ADMIN_CODE].isna().all()


def test_read_communities_bad_admin_code(district, write):
    path = write(district.assign(CODE=["630100100001", "6301", None, None]), "v.gpkg")
    with pytest.raises(InputError, match=r"feature \[1\], id \[b\], field 'CODE'.*not 12 digits \['6301'\]"):
        read_communities(path, id_field="UID", code_field="CODE")


@pytest.mark.parametrize(
    ("column", "value", "error", "message"),
    [
        ("UID", "a", DuplicateIdError, "occurs on more than one feature"),
        ("geometry", shapely.Polygon(), GeometryError, "no geometry"),
        ("geometry", shapely.Point(121.5, 25), GeometryError, "communities must be MultiPolygon or Polygon"),
    ],
)
def test_read_communities_refuses(district, write, column, value, error, message):
    with pytest.raises(error, match=r"v\.wkt\.csv', feature \[(0, )?1\].*" + message):
        read_communities(write(_with(district, column, 1, value), "v.wkt.csv"), id_field="UID", crs=4326)


def test_read_barriers(district, write):
    lines = district.assign(KIND=["River", "road", " motorway ", None])
    lines.loc[1, "geometry"] = shapely.LineString([(121.5, 25.0), (121.502, 25.0)])
    frame = read_barriers(write(lines, "b.gpkg"), class_field="KIND")
    assert list(frame.columns) == [col.BARRIER_CLASS, col.HARD, "geometry"]
    assert frame[col.BARRIER_CLASS].tolist() == ["river", "road", "motorway", None]
    assert frame[col.HARD].tolist() == [True, False, True, False]
    assert set(frame.geom_type) == {"LineString"}  # squares became their outlines
    assert not read_barriers(write(lines, "b.fgb"))[col.HARD].any()  # without a class every line is soft


def test_read_barriers_refuses_points(district, write):
    points = district.set_geometry(district.representative_point())
    with pytest.raises(GeometryError, match=r"p\.gpkg', feature \[0, 1, 2, 3\].*barriers must be"):
        read_barriers(write(points, "p.gpkg"))


def test_read_boundary_dissolves(district, write):
    frame = read_boundary(write(district, "d.shp"))
    assert len(frame) == 1
    assert frame.geom_type[0] == "Polygon"
    assert frame.geometry[0].hausdorff_distance(shapely.box(121.5, 25.0, 121.502, 25.002)) < 1e-9


def test_layer_refused_for_single_layer_formats(district, write):
    with pytest.raises(InputError, match="single layer"):
        read_vector(write(district, "u.parquet"), layer="x")
