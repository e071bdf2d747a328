"""Neighbours found from matched edges are the neighbours found by intersecting boundaries.

Coverages (small areas, tessellated cells) take the fast path of
:func:`partition.graph.shared_boundaries`; these tests hold it to the general one, on
generated tessellations and on a real Taipei district, and check that a layer which is no
clean coverage still finds its neighbours.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from partition.graph import _intersected_edges, _matched_edges, shared_boundaries
from tests.partition.test_taipei import read_nangang


def same_pairs(geoms: np.ndarray, min_shared: float = 0.5) -> None:
    fast, general = _matched_edges(geoms, min_shared), _intersected_edges(geoms, min_shared)
    assert fast[0].tolist() == general[0].tolist()
    assert fast[1].tolist() == general[1].tolist()
    np.testing.assert_allclose(fast[2], general[2], rtol=1e-9, atol=1e-6)


@st.composite
def tessellations(draw: st.DrawFn) -> np.ndarray:
    """Voronoi cells of 3–60 points in a 1 km square, some cells merged into multipolygons or holed."""
    n = draw(st.integers(3, 60))
    xy = draw(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=n, max_size=n, unique=True))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy)))
    cells = np.asarray([c for c in cells if not c.is_empty], dtype=object)
    # a unit of two cells that do not touch: one unit, two parts (a multipolygon)
    pick = draw(st.lists(st.integers(0, len(cells) - 1), min_size=2, max_size=2, unique=True))
    a, b = cells[pick[0]], cells[pick[1]]
    if not shapely.intersects(a, b):
        cells = np.asarray([shapely.multipolygons([a, b]), *np.delete(cells, pick)], dtype=object)
    return cells


@settings(max_examples=60, deadline=None)
@given(tessellations())
def test_matched_edges_give_the_pairs_and_lengths_of_intersected_boundaries(cells):
    assert shapely.coverage_is_valid(cells)
    same_pairs(cells)


def test_an_island_inside_a_unit_is_its_neighbour():
    ring = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)], [[(40, 40), (60, 40), (60, 60), (40, 60)]])
    island = shapely.box(40, 40, 60, 60)
    left, right, shared = shared_boundaries(np.asarray([ring, island], dtype=object))
    assert left.tolist() == [0] and right.tolist() == [1] and shared.tolist() == pytest.approx([80.0])


def test_units_that_are_no_clean_coverage_still_find_their_neighbours():
    # the right unit's edge has a vertex the left one lacks (a T junction): no coverage, same answer
    left_unit = shapely.box(0, 0, 10, 10)
    right_unit = shapely.Polygon([(10, 0), (20, 0), (20, 10), (10, 10), (10, 5)])
    geoms = np.asarray([left_unit, right_unit], dtype=object)
    assert not shapely.coverage_is_valid(geoms)
    left, right, shared = shared_boundaries(geoms)
    assert left.tolist() == [0] and right.tolist() == [1] and shared.tolist() == pytest.approx([10.0])


@pytest.mark.realdata
def test_nangangs_small_areas_have_the_same_neighbours_both_ways(shared_data):
    units, _ = read_nangang(shared_data)
    geoms = np.asarray(units.to_crs("EPSG:3826").geometry.values, dtype=object)
    assert shapely.coverage_is_valid(geoms)  # the statistical office's areas tile the district
    same_pairs(geoms)
