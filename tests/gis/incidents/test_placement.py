"""Placing many points at once: covering polygons, lowest ids, a grid of the point's own district only."""

from __future__ import annotations

import numpy as np
import shapely

from gis.incidents.placement import place_points


def test_edges_belong_to_both_sides_and_the_lowest_id_wins():
    """Two districts side by side (ids 2 | 1); district 2 has grids 5 | 6, district 1 grid 3 over all of it::

    0     1     2     3     4
    +--5--+--6--+-----3-----+
    """
    districts = (np.array([2, 1]), np.array([shapely.box(0, 0, 2, 1), shapely.box(2, 0, 4, 1)]))
    grids = (
        np.array([6, 5, 3]),
        np.array([2, 2, 1]),
        np.array([shapely.box(1, 0, 2, 1), shapely.box(0, 0, 1, 1), shapely.box(0, 0, 4, 1)]),
    )
    lon = np.array([0.5, 1.0, 2.0, 3.0, 9.0])
    lat = np.array([0.5, 0.5, 0.5, 1.0, 0.5])
    district, grid = place_points(lon, lat, districts=districts, grids=grids)
    assert district.tolist() == [2, 2, 1, 1, -1]  # x = 2 lies on both districts: 1 is the lower id
    # grid 3 covers the first points too, but belongs to district 1; on the edge of 5 and 6, 5 wins
    assert grid.tolist() == [5, 5, 3, 3, -1]


def test_no_grids_yet():
    districts = (np.array([1]), np.array([shapely.box(0, 0, 1, 1)]))
    empty = (np.array([], dtype=int), np.array([], dtype=int), np.array([], dtype=object))
    district, grid = place_points(np.array([0.5]), np.array([0.5]), districts=districts, grids=empty)
    assert district.tolist() == [1] and grid.tolist() == [-1]
