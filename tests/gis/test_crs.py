"""Refusing missing or impossible CRSs and picking the metric one."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from gis.crs import ensure_crs, is_metric, parse_crs, pick_metric_crs, to_metric
from gis.errors import MissingCRSError

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
    with pytest.raises(MissingCRSError, match=rf"{message}.*projected CRS in metres.*--crs EPSG:3826"):
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
    with pytest.raises(MissingCRSError, match=r"file 'u\.csv': .*no coordinate reference system.*--crs EPSG:xxxx"):
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
    with pytest.raises(MissingCRSError, match=r"CRS 'EPSG:999999' is not one pyproj knows.*--crs EPSG:4326"):
        parse_crs("EPSG:999999")


def test_is_metric():
    assert is_metric(parse_crs("EPSG:3826"))
    assert not is_metric(parse_crs("EPSG:4326"))
