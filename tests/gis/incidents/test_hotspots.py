"""Hexagon bins and Gi* hot spots: on a hand-drawn lattice and on the Vancouver crimes."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.errors import InputError, NotFoundError
from gis.hexagons import hex_cells, hex_cover, hex_polygons
from gis.incidents.hotspots import gi_star, incident_hotspots
from gis.incidents.imports import map_incidents, read_incident_table
from gis.incidents.store import copy_incidents
from tests.gis.incidents.vancouver import CATEGORIES, FOLDER, MAPPING, store_vancouver


def lattice(counts: np.ndarray) -> gpd.GeoDataFrame:
    """Unit squares in rows from the lower left (0, 0), holding ``counts`` row by row."""
    n = counts.shape[0]
    squares = [shapely.box(x, y, x + 1, y + 1) for y in range(n) for x in range(n)]
    return gpd.GeoDataFrame({"incidents": counts.ravel()}, geometry=squares, crs="EPSG:3857")


def test_a_busy_corner_is_hot_and_the_far_side_not():
    counts = np.ones((7, 7), dtype=int)
    counts[:2, :2] = 30
    out = gi_star(lattice(counts))
    assert out.loc[0, "hotspot"] == "hot" and out.loc[0, "confidence"] == 99
    assert (out.loc[48, "hotspot"], out.loc[48, "confidence"]) == ("none", 0)
    assert "gi_z" not in lattice(counts).columns  # a new frame


def test_gi_star_needs_something_to_compare():
    with pytest.raises(InputError, match="every one of the 49 areas has 2 incidents"):
        gi_star(lattice(np.full((7, 7), 2)))
    with pytest.raises(InputError, match="at least 3 areas, got 1"):
        gi_star(lattice(np.ones((1, 1))))


def test_every_point_falls_in_its_hexagon_and_the_cover_holds_them_all():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-500, 2500, 2000), rng.uniform(-800, 900, 2000)
    q, r = hex_cells(x, y, size=120.0)
    assert shapely.contains_xy(hex_polygons(q, r, size=120.0), x, y).all()
    cq, cr, _ = hex_cover(shapely.box(-500, -800, 2500, 900), size=120.0)
    assert set(zip(q.tolist(), r.tolist(), strict=True)) <= set(zip(cq.tolist(), cr.tolist(), strict=True))


def test_vancouver_hotspots_per_neighbourhood_and_per_hexagon(db_conn, shared_data):
    store_vancouver(db_conn, shared_data)
    table, _ = read_incident_table(shared_data / FOLDER / "vancouver_crimes_2020.csv")
    frame = map_incidents(
        table, MAPPING, file="v.csv", crs="EPSG:26910", timezone="America/Vancouver", categories=CATEGORIES
    ).frame
    stored = copy_incidents(db_conn, frame, actor="t", source="import:v.csv").stored
    grids = incident_hotspots(db_conn, unit="grid")
    assert len(grids) == 22 and grids["incidents"].sum() == stored
    # downtown is Vancouver's crime hot spot
    assert grids.set_index("name").loc["Downtown", "hotspot"] == "hot"
    thefts = incident_hotspots(db_conn, unit="grid", category="public_security.theft")
    assert thefts["incidents"].sum() < stored
    cells = incident_hotspots(
        db_conn,
        unit="hex",
        hex_size=400.0,
        start=datetime(2020, 7, 1, tzinfo=UTC),
        end=datetime(2021, 1, 1, tzinfo=UTC),
    )
    assert cells.crs.to_epsg() == 4326 and set(cells["confidence"]) <= {0, 90, 95, 99}
    assert 0 < cells["incidents"].sum() < stored and (cells["hotspot"] == "hot").any()
    with pytest.raises(NotFoundError, match="no district 'taipei'"):
        incident_hotspots(db_conn, district="taipei")
