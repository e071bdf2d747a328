"""Measures of a plan: compactness and counts."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["polsby_popper"]


def polsby_popper(geoms: np.ndarray | gpd.GeoSeries) -> np.ndarray:
    """Polsby–Popper compactness ``4πA / P²`` (1 for a circle, near 0 for a thread).

    Geometries must be in a metric CRS.

    Examples
    --------
    >>> round(float(polsby_popper([shapely.box(0, 0, 1, 1)])[0]), 3)
    0.785
    """
    values = geoms.values if isinstance(geoms, gpd.GeoSeries) else np.asarray(geoms, dtype=object)
    area = shapely.area(values)
    perim = shapely.length(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = np.where(perim > 0, 4.0 * math.pi * area / np.square(perim), 0.0)
    return pp
