"""The pure checks on in-memory frames."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.errors import CountError, DuplicateIdError, GeometryError, InputError, OutsideBoundaryError
from gis.validate import (
    POINT_TYPES,
    drop_z,
    validate_admin_codes,
    validate_counts,
    validate_geometries,
    validate_geometry_types,
    validate_unique_ids,
    validate_within,
    warn_population_below_households,
)

WHERE = r"file '<units>', feature \[1\], id \[b\], field 'H': 1 feature has "


def _counts(*values):
    return pd.DataFrame({"id": ["a", "b", "c"][: len(values)], "H": list(values)})


# (name, column values, message after WHERE)
BAD_COUNTS = [
    ("null", [1, None], r"a blank value \(null, empty or NaN\).*blank counts read as zero"),
    ("NaN", [1.0, np.nan], r"a blank value"),
    ("empty text", ["1", " "], r"a blank value"),
    ("text", ["1", "abc"], r"text that is not a number \['abc'\]"),
    ("NaN text", ["1", "NaN"], r"a value that is not a finite number \['NaN'\]"),
    ("infinite", [1.0, np.inf], r"a value that is not a finite number \[inf\]"),
    ("fractional", [1.0, 1.5], r"a fractional value \[1\.5\]"),
    ("negative", [1, -2], r"a negative value \[-2\]"),
    ("nullable negative", pd.array([1, -2], dtype="Int64"), r"a negative value \[-2\]"),
]


@pytest.mark.parametrize(("values", "message"), [c[1:] for c in BAD_COUNTS], ids=[c[0] for c in BAD_COUNTS])
def test_validate_counts_refuses(values, message):
    with pytest.raises(CountError, match=WHERE + message):
        validate_counts(_counts(*values), fields=["H"], file="<units>", id_field="id")


def test_validate_counts_lists_ten_and_counts_all():
    frame = pd.DataFrame({"id": [f"u{i}" for i in range(12)], "H": [-1] * 12})
    with pytest.raises(CountError, match=r"feature \[0, 1.*9 and 2 more\].*12 features have a negative"):
        validate_counts(frame, fields=["H"], id_field="id")


def test_validate_counts_converts_and_zeroes():
    frame = pd.DataFrame({"H": ["3", None, "4.0"], "P": pd.array([7, None, 9], dtype="Int64")})
    before = frame.copy()
    out, n_zeroed = validate_counts(frame, fields=["H", "P"], missing="zero")
    assert out["H"].tolist() == [3, 0, 4]
    assert out["P"].dtype == np.int64
    assert n_zeroed == 1
    assert frame.equals(before)


def test_validate_counts_zero_still_refuses_bad_values():
    with pytest.raises(CountError, match="negative"):
        validate_counts(_counts(None, -1), fields=["H"], missing="zero")


def test_validate_counts_bad_option():
    with pytest.raises(InputError, match="missing_counts must be 'error' or 'zero', got 'skip'"):
        validate_counts(_counts(1), fields=["H"], missing="skip")


def test_validate_unique_ids():
    frame = pd.DataFrame({"id": ["a", "b", "a", "c", "b"]})
    with pytest.raises(
        DuplicateIdError,
        match=r"'<u>', feature \[0, 1, 2, 4\], id \[a, b, a, b\], field 'id': 2 ids occur on more",
    ):
        validate_unique_ids(frame, id_field="id", file="<u>")
    with pytest.raises(InputError, match=r"feature \[1\], field 'id': 1 feature has a blank id"):
        validate_unique_ids(pd.DataFrame({"id": ["a", None]}), id_field="id")
    validate_unique_ids(pd.DataFrame({"id": [1, 2]}), id_field="id")


def _shapes(*geoms):
    return gpd.GeoDataFrame({"id": list("abc")[: len(geoms)]}, geometry=list(geoms), crs="EPSG:4326")


SQUARE = shapely.box(0, 0, 1, 1)


@pytest.mark.parametrize("bad", [None, shapely.Polygon()], ids=["missing", "empty"])
def test_validate_geometries_refuses_missing_and_empty(bad):
    with pytest.raises(GeometryError, match=r"'<u>', feature \[1\], id \[b\]: 1 feature has no geometry"):
        validate_geometries(_shapes(SQUARE, bad), file="<u>", id_field="id")


def test_validate_geometries_repairs_keeping_polygons():
    bowtie = shapely.from_wkt("POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))")
    frame = _shapes(SQUARE, bowtie)
    out, n_repaired = validate_geometries(frame)
    assert n_repaired == 1
    assert out.geom_type.tolist() == ["Polygon", "MultiPolygon"]
    assert out.geometry[1].area == pytest.approx(2.0)
    assert not frame.is_valid[1]  # caller's frame untouched


def test_validate_geometries_refuses_collapsed():
    flat = shapely.from_wkt("POLYGON ((0 0, 1 1, 2 2, 0 0))")
    with pytest.raises(GeometryError, match=r"feature \[1\], id \[b\]: .*repair leaves empty"):
        validate_geometries(_shapes(SQUARE, flat), id_field="id")


def test_validate_geometry_types():
    with pytest.raises(GeometryError, match=r"feature \[0\].*type Polygon, but units must be MultiPoint or Point"):
        validate_geometry_types(_shapes(SQUARE), allowed=POINT_TYPES, what="units")


def test_drop_z():
    frame = _shapes(shapely.Point(1, 2, 3), shapely.Point(1, 2))
    out, n_dropped = drop_z(frame)
    assert n_dropped == 1
    assert not out.has_z.any()
    assert frame.has_z[0]


def test_validate_within():
    """Units a (inside), b (4 m outside, within tolerance) and c (far outside) of a 1 km square::

    +--------+
    |   a    | b       c
    +--------+
    """
    frame = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"]},
        geometry=[shapely.Point(500, 500), shapely.Point(1004, 500), shapely.Point(1500, 500)],
        crs="EPSG:3826",
    )
    with pytest.raises(OutsideBoundaryError, match=r"feature \[2\], id \[c\]: 1 feature .* more than 5 m outside"):
        validate_within(frame, shapely.box(0, 0, 1000, 1000), file="<u>", id_field="id")
    validate_within(frame.iloc[:2], shapely.box(0, 0, 1000, 1000))
    validate_within(frame, shapely.box(0, 0, 1000, 1000), tolerance=600)


def test_validate_within_reprojects_boundary():
    units = gpd.GeoDataFrame(geometry=[shapely.Point(121.5005, 25.0005)], crs="EPSG:4326")
    boundary = gpd.GeoDataFrame(geometry=[shapely.box(121.5, 25.0, 121.501, 25.001)], crs="EPSG:4326")
    validate_within(units, boundary.to_crs("EPSG:3826"))
    with pytest.raises(OutsideBoundaryError):
        validate_within(units.translate(0.01), boundary.to_crs("EPSG:3826"))


def test_validate_admin_codes():
    frame = pd.DataFrame({"id": ["a", "b", "c"], "code": [630100100001.0, np.nan, 630100100002.0]})
    assert validate_admin_codes(frame, field="code").tolist() == ["630100100001", None, "630100100002"]
    bad = pd.DataFrame({"id": ["a", "b"], "code": ["630100100001", "63010010000X"]})
    with pytest.raises(InputError, match=r"id \[b\], field 'code': .*not 12 digits \['63010010000X'\]"):
        validate_admin_codes(bad, field="code", id_field="id")


def test_warn_population_below_households():
    frame = pd.DataFrame({"id": ["a", "b"], "h": [3, 5], "p": [7, 2]})
    (warning,) = warn_population_below_households(frame, households="h", population="p", id_field="id")
    assert warning.startswith("file '<frame>', feature [1], id [b]: 1 feature has population below households")
    assert warn_population_below_households(frame.iloc[:1], households="h", population="p") == []
