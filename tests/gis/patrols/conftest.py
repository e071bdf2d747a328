"""Fixtures of the patrol tests: the tiny district (see :mod:`tests.gis.patrols.tiny`) and real tracks."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from tests.gis.patrols import tiny

# Tainan city, roughly: the four fixes of the spray teams' log outside it are the README's outliers.
TAINAN = shapely.box(120.0, 22.85, 120.7, 23.45)


@pytest.fixture(scope="session")
def tainan_csv(shared_data: Path) -> Path:
    path = shared_data / "tainan_tracks_dengue" / "tainan_spray_team_gps_points_2015.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def geolife_csv(shared_data: Path) -> Path:
    path = shared_data / "beijing_geolife_gps" / "geolife_sample_beijing.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture
def tiny_grids() -> gpd.GeoDataFrame:
    """Workers 1 (grid A), 2 (grid B) and 3 (no grid) with their grid polygons in EPSG:4326."""
    return gpd.GeoDataFrame(
        {"worker_id": [1, 2, 3], "grid_code": ["A", "B", None]},
        geometry=[tiny.geometry(shapely.box(0, 0, 400, 400)), tiny.geometry(shapely.box(400, 0, 800, 400)), None],
        crs=4326,
    )


@pytest.fixture
def tiny_streets() -> gpd.GeoSeries:
    lines = [shapely.LineString([(x, 0), (x, 400)]) for x in range(0, 801, 100)]
    lines += [shapely.LineString([(0, y), (800, y)]) for y in range(0, 401, 100)]
    return gpd.GeoSeries([tiny.geometry(g) for g in lines], crs=4326)
