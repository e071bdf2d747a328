"""Refusing missing or impossible CRSs and picking the metric one."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from gis.crs import ensure_crs, from_offset_datum, is_metric, offset_datum, parse_crs, pick_metric_crs, to_metric
from gis.errors import MissingCRSError
from gis.io import read_units

TAIPEI = gpd.GeoDataFrame({"id": ["a"]}, geometry=[shapely.Point(121.5, 25.05)], crs="EPSG:4326")


def test_pick_metric_crs_taipei_is_utm_51n():
    assert pick_metric_crs(TAIPEI).to_epsg() == 32651
    assert pick_metric_crs(TAIPEI.to_crs("EPSG:3826").geometry).to_epsg() == 32651


def test_pick_metric_crs_keeps_explicit_projected():
    assert pick_metric_crs(TAIPEI, crs="EPSG:3826").to_epsg() == 3826


@pytest.mark.parametrize(
    ("crs", "message"),
    [("EPSG:4326", "is geographic"), ("EPSG:2263", "not in metres")],  # NY state plane is in US feet
)
def test_pick_metric_crs_refuses_non_metric(crs, message):
    with pytest.raises(MissingCRSError, match=rf"{message}.*projected CRS in metres.*EPSG:3826"):
        pick_metric_crs(TAIPEI, crs=crs)


def test_pick_metric_crs_needs_a_crs():
    with pytest.raises(MissingCRSError, match="no coordinate reference system"):
        pick_metric_crs(TAIPEI.set_crs(None, allow_override=True))


def test_to_metric():
    frame = to_metric(TAIPEI)
    assert frame.crs.to_epsg() == 32651
    assert TAIPEI.crs.to_epsg() == 4326
    assert to_metric(TAIPEI, "EPSG:3826").crs.to_epsg() == 3826


def test_ensure_crs_refuses_missing():
    bare = TAIPEI.set_crs(None, allow_override=True)
    with pytest.raises(MissingCRSError, match=r"file 'u\.csv': .*no coordinate reference system.*name the CRS"):
        ensure_crs(bare, file="u.csv")
    assert ensure_crs(bare, crs="EPSG:4326").crs.to_epsg() == 4326
    assert bare.crs is None


def test_ensure_crs_overrides():
    assert ensure_crs(TAIPEI.to_crs(3826), crs=3826).crs.to_epsg() == 3826


def test_ensure_crs_metres_as_degrees():
    metres = TAIPEI.to_crs("EPSG:3826").set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(MissingCRSError, match=r"feature \[0\], id \[a\]: .*metres labelled as degrees.*EPSG:3826"):
        ensure_crs(metres, id_field="id")


def test_ensure_crs_swapped_lon_lat():
    swapped = TAIPEI.set_geometry([shapely.Point(25.05, 121.5)], crs="EPSG:4326")
    with pytest.raises(MissingCRSError, match="longitude and latitude look swapped"):
        ensure_crs(swapped)


def test_parse_crs_unknown():
    with pytest.raises(MissingCRSError, match=r"CRS 'EPSG:999999' is not one pyproj knows.*EPSG:4326"):
        parse_crs("EPSG:999999")


def test_is_metric():
    assert is_metric(parse_crs("EPSG:3826"))
    assert not is_metric(parse_crs("EPSG:4326"))


# GCJ-02 and BD-09: the offset longitude/latitude of Chinese web maps and geocoders

SPOTS = [(25.0330, 121.5654), (39.9087, 116.3975), (31.2397, 121.4998), (22.5431, 114.0579), (45.75, 126.65)]


@pytest.mark.parametrize("datum", ["GCJ02", "BD09"])
def test_offset_datum_converts_back_to_wgs84_within_a_centimetre(datum):
    """Taipei 101, Tiananmen, the Bund, Shenzhen, Harbin: WGS 84 sent forward by prcoords and back."""
    import prcoords

    forward = prcoords.wgs_gcj if datum == "GCJ02" else prcoords.wgs_bd
    shifted = [forward(spot) for spot in SPOTS]
    assert min(prcoords.Coords(*a).distance(b) for a, b in zip(SPOTS, shifted, strict=True)) > 100  # the premise
    points = shapely.points([(lon, lat) for lat, lon in shifted])
    back, kept = from_offset_datum(points, datum)
    assert kept == 0
    for (lat, lon), p in zip(SPOTS, back, strict=True):
        assert prcoords.Coords(lat, lon).distance(prcoords.Coords(p.y, p.x)) < 0.01
        assert (round(p.y, 6), round(p.x, 6)) == (lat, lon)  # 6-decimal input comes back exactly


def test_offset_datum_keeps_coordinates_outside_china():
    helsinki = shapely.points([(24.94, 60.17)])
    back, kept = from_offset_datum(helsinki, "GCJ02")
    assert kept == 1 and back[0].equals(helsinki[0])


def test_offset_datum_names():
    assert [offset_datum(n) for n in ("GCJ02", "gcj-02", "BD09", "bd_09", "EPSG:4326", 4326, None)] == [
        "GCJ02",
        "GCJ02",
        "BD09",
        "BD09",
        None,
        None,
        None,
    ]


def test_read_units_converts_gcj02_points(tmp_path):
    """A CSV of GCJ-02 address points, read with crs='GCJ02', lands on WGS 84; the report says so."""
    import prcoords

    lat, lon = prcoords.wgs_gcj((25.0330, 121.5654))
    path = tmp_path / "amap.csv"
    path.write_text(f"id,hh,pop,lon,lat\na,10,25,{lon!r},{lat!r}\n", encoding="utf-8")
    loaded = read_units(path, id_field="id", households_field="hh", population_field="pop", crs="GCJ02")
    point = loaded.frame.geometry.iloc[0]
    assert loaded.frame.crs.to_epsg() == 4326
    assert (round(point.x, 6), round(point.y, 6)) == (121.5654, 25.033)
    assert any("converted from GCJ-02 to WGS 84" in w for w in loaded.report.warnings)


def test_gcj02_refused_for_a_projected_file(tmp_path):
    frame = gpd.GeoDataFrame(
        {"id": ["a"], "hh": [10], "pop": [25]}, geometry=[shapely.Point(305000, 2770000)], crs=3826
    )
    path = tmp_path / "u.gpkg"
    frame.to_file(path)
    with pytest.raises(MissingCRSError, match="GCJ-02 coordinates are longitude/latitude degrees"):
        read_units(path, id_field="id", households_field="hh", population_field="pop", crs="GCJ02")
