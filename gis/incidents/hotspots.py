"""Hot and cold spots: Getis-Ord Gi* of counts over areas, corrected for many tests (FDR).

Each area is tested against its queen neighbours and itself (Gi*, binary weights,
the normal approximation). The two-sided p-values are judged with the
Benjamini-Hochberg false discovery rate at 10, 5 and 1 %; an area's ``confidence`` is
the highest level (90, 95, 99) it passes, 0 when none, and ``hotspot`` is ``hot`` or
``cold`` by the sign of its z-score (``none`` when not significant).
"""

from __future__ import annotations

import warnings
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from esda import G_Local, fdr
from libpysal.weights import Queen
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis.errors import InputError, NotFoundError
from gis.hexagons import hex_cells, hex_cover
from gis.incidents.store import IncidentWindow, grid_counts, incident_points
from gis.store import lookup

__all__ = ["LEVELS", "gi_star", "incident_hotspots"]

LEVELS = ((99, 0.01), (95, 0.05), (90, 0.10))


def gi_star(areas: gpd.GeoDataFrame, *, count: str = "incidents") -> gpd.GeoDataFrame:
    """Gi* z-scores, p-values and hot/cold classes of ``count`` over ``areas`` (a new frame).

    Parameters
    ----------
    areas
        Polygons with a count column, in any CRS; areas touching (even at a corner) are neighbours.
    count
        The column to test.

    Returns
    -------
    geopandas.GeoDataFrame
        ``areas`` with ``gi_z``, ``p_value``, ``confidence`` (99, 95, 90 or 0) and ``hotspot``.

    Raises
    ------
    InputError
        With fewer than three areas, or when every area has the same count (nothing to compare).
    """
    y = areas[count].to_numpy(dtype=float)
    if len(y) < 3:
        raise InputError(f"hot spots need at least 3 areas, got {len(y)}; choose a larger district or smaller bins")
    if np.ptp(y) == 0:
        raise InputError(
            f"every one of the {len(y)} areas has {y[0]:g} incidents: there are no hot or cold spots to find; "
            "widen the time window or the category"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # islands (areas without neighbours) are tested against themselves
        weights = Queen.from_dataframe(areas, use_index=False)
        gi = G_Local(y, weights, transform="B", permutations=0, star=True)
    z = np.asarray(gi.Zs, dtype=float)
    p = np.clip(2.0 * np.asarray(gi.p_norm, dtype=float), 0.0, 1.0)
    confidence = np.zeros(len(y), dtype=np.int64)
    for level, alpha in reversed(LEVELS):  # 90 first, overwritten by stricter levels that also pass
        confidence[p <= fdr(p, alpha)] = level
    hotspot = np.where(confidence == 0, "none", np.where(z > 0, "hot", "cold"))
    return areas.assign(gi_z=z, p_value=p, confidence=confidence, hotspot=hotspot)


def incident_hotspots(
    conn: Connection,
    *,
    unit: str = "grid",
    district: str | None = None,
    category: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    hex_size: float = 250.0,
) -> gpd.GeoDataFrame:
    """Hot and cold spots of a district's incidents per grid or per hexagon, in EPSG:4326.

    Parameters
    ----------
    unit
        ``grid``: the grids of the published plan; ``hex``: hexagons of circumradius
        ``hex_size`` metres in the district's working CRS, over its boundary.
    district
        A district's name or id; ``None`` for the whole city (every district: the grids of
        every published plan, or hexagons over every boundary in the first district's CRS).
    category, start, end
        Only incidents of this category (with its sub-categories) reported in ``[start, end)``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code`` (the grid code, or ``q,r`` of the hexagon), ``incidents`` and the columns of :func:`gi_star`.

    Raises
    ------
    InputError
        For an unknown unit, or counts :func:`gi_star` cannot test.
    NotFoundError
        For an unknown district, or one without a published plan (``unit="grid"``).
    """
    district_id = None if district is None else lookup.district_id(conn, district)
    window = IncidentWindow(district_id, category, start, end)
    if unit == "grid":
        grids = grid_counts(conn, window)
        return gi_star(grids.loc[:, ["code", "name", "incidents", "geom"]])
    if unit != "hex":
        raise InputError(f"unknown unit {unit!r}: expected 'grid' or 'hex'", field="unit")
    boundary = gpd.read_postgis(
        text(
            "SELECT ST_Union(boundary) AS boundary, (array_agg(working_crs ORDER BY id))[1] AS crs FROM district "
            "WHERE CAST(:d AS integer) IS NULL OR id = CAST(:d AS integer)"
        ),
        conn,
        params={"d": district_id},
        geom_col="boundary",
    )
    if boundary.empty or boundary.geometry.iloc[0] is None:
        raise NotFoundError("no district is stored yet; add one", see="add_district")
    working_crs = boundary["crs"].iloc[0]
    boundary = boundary.to_crs(working_crs)
    q, r, polygons = hex_cover(boundary.geometry.iloc[0], size=hex_size)
    lon, lat = incident_points(conn, window)
    x, y = pyproj.Transformer.from_crs(4326, working_crs, always_xy=True).transform(lon, lat)
    pq, pr = hex_cells(np.asarray(x), np.asarray(y), size=hex_size)
    counts = pd.Series(1, index=pd.MultiIndex.from_arrays([pq, pr])).groupby(level=[0, 1]).sum()
    found = counts.reindex(pd.MultiIndex.from_arrays([q, r]), fill_value=0).to_numpy()
    cells = gpd.GeoDataFrame(
        {"code": [f"{a},{b}" for a, b in zip(q, r, strict=True)], "incidents": found},
        geometry=polygons,
        crs=working_crs,
    )
    return gi_star(cells).to_crs(4326)
