"""Hot spots on /map for analysts: the Gi* result as a layer with its legend, in headless Chromium.

Incidents crowd around one point here (and spread thinly over the rest), so the district has a
hot spot to find; the database is this module's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.engine import URL

from gis.incidents.store import copy_incidents
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import database_with_plans, serving
from tests.api.test_map_browser import closed_incidents, open_map


@pytest.fixture(scope="module")
def crowded(create_database: Callable[..., URL], sample_plan) -> Iterator[tuple[str, str]]:
    """A live server whose incidents crowd around one point; an analyst's token."""
    url = database_with_plans(create_database, "map_hotspots", sample_plan.gpkg, {"h1": True})
    engine = create_engine(url)
    with begin(engine) as conn:
        grids = gpd.read_postgis(text("SELECT code, geom FROM grid ORDER BY code"), conn, geom_col="geom")
        area = shapely.union_all(grids.geometry.to_numpy())
        rng = np.random.default_rng(4)
        minx, miny, maxx, maxy = area.bounds
        spread = rng.uniform([minx, miny], [maxx, maxy], (6000, 2))
        spread = spread[shapely.contains_xy(area, spread[:, 0], spread[:, 1])][:600]
        # a crowd of 600 within about 150 m of a point inside the first grid
        centre = shapely.get_coordinates(shapely.point_on_surface(grids.geometry.iloc[0]))[0]
        crowd = centre + rng.normal(0, 0.0007, (600, 2))
        xy = np.concatenate([spread, crowd])
        copy_incidents(conn, closed_incidents(xy, days_ago=3), actor="test", source="import:hotspots")
        token = add_user(conn, "hot-analyst", role="analyst")
    engine.dispose()
    with serving(url) as base:
        yield base, token


def test_an_analyst_turns_on_hot_spots_and_sees_the_legend(browser, crowded, artifacts):
    base, token = crowded
    page, console_errors = open_map(browser, f"{base}/map", token=token)
    page.wait_for_selector("#hotspots-toggle")
    assert not page.is_visible("#hotspot-legend")
    page.click("#hotspots-toggle")
    page.wait_for_function("window.__commgrid.hotspots && window.__commgrid.hotspots.areas > 0", timeout=30_000)
    assert page.is_visible("#hotspot-legend")
    grids = page.evaluate("window.__commgrid.hotspots")
    assert grids["hot"] >= 1 and "hot" in page.inner_text("#hotspot-count")  # the crowd's grid
    # a map already idle fires no second 'idle' by itself: ask for a frame, so the event comes after it
    page.evaluate(
        "const m = window.__commgrid.map; m.once('idle', () => { window.__idle = true; }); m.triggerRepaint();"
    )
    page.wait_for_function("window.__idle === true", timeout=30_000)
    drawn = page.evaluate(
        "window.__commgrid.map.queryRenderedFeatures({layers: ['hotspots-fill']})"
        ".filter(f => f.properties.hotspot === 'hot').length"
    )
    assert drawn >= 1
    page.screenshot(path=str(artifacts / "map-hotspots.png"))
    # per hexagon too
    page.select_option("#hotspots-unit", "hex")
    page.wait_for_function(
        "(n) => window.__commgrid.hotspots && window.__commgrid.hotspots.areas !== n",
        arg=grids["areas"],
        timeout=30_000,
    )
    assert page.is_visible("#hotspot-legend")
    assert page.evaluate("window.__commgrid.errors") == [] and console_errors == []
    page.close()


def test_the_public_gets_no_hot_spot_toggle(browser, crowded):
    base, _ = crowded
    page, console_errors = open_map(browser, f"{base}/map")
    page.wait_for_selector("#layers input")
    assert page.locator("#hotspots-toggle").count() == 0
    assert console_errors == []
    page.close()
