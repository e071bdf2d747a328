"""Fixtures for the input-layer tests: a tiny district and writers for every format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest
import shapely


@pytest.fixture
def district() -> gpd.GeoDataFrame:
    """Four unit squares of about 100 m in Taipei, counts in source field names::

        25.002 +-----+-----+
               |  c  |  d  |
        25.001 +-----+-----+
               |  a  |  b  |
        25.000 +-----+-----+
            121.500     121.502

    households a..d: 10, 20, 30, 40; residents 25, 50, 75, 100.
    """
    squares = [
        shapely.box(121.500 + 0.001 * col, 25.000 + 0.001 * row, 121.501 + 0.001 * col, 25.001 + 0.001 * row)
        for row in range(2)
        for col in range(2)
    ]
    return gpd.GeoDataFrame(
        {"UID": ["a", "b", "c", "d"], "H": [10, 20, 30, 40], "P": [25, 50, 75, 100]},
        geometry=squares,
        crs="EPSG:4326",
    )


def write_frame(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """Write ``frame`` in the format its name ends with; CSVs as text (points or WKT)."""
    name = path.name
    if name.endswith("lonlat.csv"):
        points = frame.geometry.representative_point()
        table = frame.drop(columns=frame.geometry.name).assign(lon=points.x, lat=points.y)
        table.to_csv(path, index=False)
    elif name.endswith(".csv"):
        table = frame.drop(columns=frame.geometry.name).assign(wkt=frame.geometry.to_wkt())
        table.to_csv(path, index=False)
    elif name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    return path


@pytest.fixture
def write(tmp_path: Path) -> Callable[[gpd.GeoDataFrame, str], Path]:
    """``write(frame, "units.gpkg")`` writes into the test's temporary folder."""
    return lambda frame, name: write_frame(frame, tmp_path / name)
