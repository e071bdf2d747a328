"""Placing incident points in districts and grids, many at a time (pure: geometries in, ids out).

The rule is the one of a single intake (:func:`gis.incidents.store.create_incident`): a
point belongs to the district whose boundary covers it, the lowest id when several do,
and to the grid of that district's published plan covering it, the lowest id again;
points on a shared edge are covered by both sides. Each polygon is tested against the
points its box holds, prepared once, so a million points take seconds.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["place_points"]


def place_points(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    districts: tuple[np.ndarray, np.ndarray],
    grids: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """District and grid ids of points (``-1`` where none covers the point).

    Parameters
    ----------
    lon, lat
        The points in EPSG:4326.
    districts
        ``(ids, boundaries)``: district ids and their shapely polygons, in EPSG:4326.
    grids
        ``(ids, district_ids, polygons)`` of the published grids, in EPSG:4326.

    Returns
    -------
    tuple of numpy.ndarray
        District ids and grid ids, one per point.

    Examples
    --------
    >>> square = shapely.box(0, 0, 2, 2)
    >>> halves = np.array([shapely.box(0, 0, 1, 2), shapely.box(1, 0, 2, 2)])
    >>> place_points(np.array([0.5, 1.0, 3.0]), np.array([1.0, 1.0, 1.0]),
    ...              districts=(np.array([7]), np.array([square])),
    ...              grids=(np.array([4, 3]), np.array([7, 7]), halves))
    (array([ 7,  7, -1]), array([ 4,  3, -1]))
    """
    points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    tree = shapely.STRtree(points)
    district = _lowest(tree, len(points), *districts)
    grid_ids, grid_districts, polygons = grids
    which, hit = tree.query(polygons, predicate="covers") if len(polygons) else (np.array([], int),) * 2
    same = np.asarray(grid_districts)[which] == district[hit]  # a grid of the point's own district only
    grid = np.full(len(points), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(grid, hit[same], np.asarray(grid_ids, dtype=np.int64)[which[same]])
    grid[grid == np.iinfo(np.int64).max] = -1
    return district, grid


def _lowest(tree: shapely.STRtree, n: int, ids: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Per point, the lowest id of the polygons covering it, ``-1`` when none does."""
    out = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    if len(polygons):
        which, hit = tree.query(np.asarray(polygons), predicate="covers")
        np.minimum.at(out, hit, np.asarray(ids, dtype=np.int64)[which])
    out[out == np.iinfo(np.int64).max] = -1
    return out
