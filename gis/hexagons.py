"""Hexagon bins in a projected CRS: the cells of points, their polygons, and covers of an area.

Below both the density tiles (:mod:`tiles.density`) and the hotspots
(:mod:`gis.incidents.hotspots`), so both count the same cells.

Pointy-top hexagons of circumradius ``size`` (metres in the CRS given), addressed by
axial coordinates ``(q, r)``; cell ``(0, 0)`` is centred on the CRS origin, so the same
point always falls in the same cell and counts from different queries line up.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["hex_cells", "hex_cover", "hex_polygons"]

_SQRT3 = np.sqrt(3.0)


def hex_cells(x: np.ndarray, y: np.ndarray, *, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Axial ``(q, r)`` of the cells holding the points ``(x, y)``.

    Examples
    --------
    >>> q, r = hex_cells(np.array([0.0, 100.0]), np.array([0.0, 0.0]), size=50.0)
    >>> q.tolist(), r.tolist()
    ([0, 1], [0, 0])
    """
    fq = (_SQRT3 / 3.0 * np.asarray(x, dtype=float) - np.asarray(y, dtype=float) / 3.0) / size
    fr = (2.0 / 3.0 * np.asarray(y, dtype=float)) / size
    fs = -fq - fr
    q, r, s = np.round(fq), np.round(fr), np.round(fs)
    dq, dr, ds = np.abs(q - fq), np.abs(r - fr), np.abs(s - fs)
    # cube rounding: fix the coordinate that moved most so q + r + s stays 0
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype(np.int64), r.astype(np.int64)


def hex_polygons(q: np.ndarray, r: np.ndarray, *, size: float) -> np.ndarray:
    """The hexagons of cells ``(q, r)`` as shapely polygons."""
    cx = size * _SQRT3 * (np.asarray(q) + np.asarray(r) / 2.0)
    cy = size * 1.5 * np.asarray(r)
    angles = np.radians(30.0 + 60.0 * np.arange(7))  # the first vertex again closes the ring
    xs = cx[:, None] + size * np.cos(angles)[None, :]
    ys = cy[:, None] + size * np.sin(angles)[None, :]
    return shapely.polygons(np.stack([xs, ys], axis=-1))


def hex_cover(area: shapely.Geometry, *, size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every cell whose hexagon intersects ``area``: ``(q, r, polygons)``."""
    minx, miny, maxx, maxy = area.bounds
    r_range = np.arange(np.floor(miny / (1.5 * size)) - 1, np.ceil(maxy / (1.5 * size)) + 2)
    q_lo = np.floor(minx / (size * _SQRT3) - r_range.max() / 2.0) - 1
    q_hi = np.ceil(maxx / (size * _SQRT3) - r_range.min() / 2.0) + 2
    q, r = np.meshgrid(np.arange(q_lo, q_hi), r_range)
    q, r = q.ravel().astype(np.int64), r.ravel().astype(np.int64)
    cx = size * _SQRT3 * (q + r / 2.0)
    near = (cx >= minx - 2 * size) & (cx <= maxx + 2 * size)
    q, r = q[near], r[near]
    polygons = hex_polygons(q, r, size=size)
    shapely.prepare(area)
    inside = shapely.intersects(area, polygons)
    return q[inside], r[inside], polygons[inside]
