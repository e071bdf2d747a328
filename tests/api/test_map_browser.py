"""The web map as a browser shows it: headless Chromium (Debian's) driven by Playwright, against a live server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib import image as mpimg
from sqlalchemy import text
from sqlalchemy.engine import URL

from gis import clock
from gis.incidents.store import copy_incidents
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import database_with_plans, serving


def open_map(browser, url: str, *, token: str | None = None, size=(1280, 800)):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    if token:
        page.goto(url)
        page.evaluate("t => sessionStorage.setItem('commgrid-token', t)", token)
    page.goto(url)
    page.wait_for_function(
        "window.__commgrid && (window.__commgrid.ready || window.__commgrid.errors.length)", timeout=60_000
    )
    return page, console_errors


def in_range_share(png) -> float:
    pixels = mpimg.imread(png)[..., :3]
    # the "in range" green (#7fc97f) drawn at 70 % over the background
    green = np.array([0x7F, 0xC9, 0x7F]) / 255
    background = np.array([0xF4, 0xF1, 0xEA]) / 255
    close = np.abs(pixels - (0.7 * green + 0.3 * background)).max(axis=-1) < 0.06
    return float(close.mean())


def test_public_map_paints_the_grids_without_errors(browser, live_url, tmp_path, sample_plan):
    page, console_errors = open_map(browser, f"{live_url}/map")
    assert page.evaluate("window.__commgrid.errors") == []
    assert console_errors == []
    grids = sample_plan.report["grids"]
    ok = sample_plan.report["grids_by_status"].get("ok", 0)
    assert f"plan v1: {grids} grids, {ok} in range" in page.inner_text("#plan")
    assert "public view" in page.inner_text("#who")
    shot = tmp_path / "map.png"
    page.screenshot(path=str(shot))
    assert in_range_share(shot) > 0.05, "the grid layer did not paint"
    # the public sees grids, communities and the public incident density, nothing else
    toggles = page.eval_on_selector_all("#layers input", "els => els.map(e => e.dataset.group)")
    assert set(toggles) == {"grids", "communities", "streets", "density"}
    page.close()


def test_clicking_a_grid_shows_its_counts_and_worker(browser, live_url):
    page, _ = open_map(browser, f"{live_url}/map")
    # click where a grid is drawn: the centre of the first rendered grid feature
    point = page.evaluate(
        """() => {
            const m = window.__commgrid.map;
            const c = m.getCanvas();
            for (let y = 200; y < c.clientHeight - 200; y += 20)
              for (let x = 300; x < c.clientWidth - 300; x += 20)
                if (m.queryRenderedFeatures([x, y], {layers: ['grids-fill']}).length) return [x, y];
            return null;
        }"""
    )
    assert point is not None, "no grid under any probed pixel"
    page.mouse.click(*point)
    popup = page.wait_for_selector(".maplibregl-popup-content", timeout=10_000)
    text = popup.inner_text()
    assert "households" in text and "residents" in text
    assert "community office" in text  # no worker posted yet: whom to call instead
    page.close()


def test_toggling_grids_hides_them(browser, live_url, tmp_path):
    page, _ = open_map(browser, f"{live_url}/map")
    page.click("#layers input[data-group=grids]")
    page.wait_for_function("window.__commgrid.map.loaded()")
    page.wait_for_timeout(300)
    shot = tmp_path / "hidden.png"
    page.screenshot(path=str(shot))
    assert in_range_share(shot) < 0.001
    page.close()


def test_an_analyst_also_gets_incident_and_the_map_works_on_a_phone(browser, live_url, tokens):
    page, console_errors = open_map(browser, f"{live_url}/map", token=tokens["analyst"], size=(390, 844))
    assert console_errors == []
    assert "test-analyst (analyst)" in page.inner_text("#who")
    toggles = page.eval_on_selector_all("#layers input", "els => els.map(e => e.dataset.group)")
    assert "incidents" in toggles and "units" not in toggles
    page.close()


def test_a_planner_overlays_two_plans(browser, live_url, tokens):
    page, console_errors = open_map(browser, f"{live_url}/map?plan=v1&compare=v0", token=tokens["planner"])
    page.wait_for_selector("#layers input[data-group=changes]", timeout=20_000)
    assert "vs v0: 0 changed, 0 added, 0 removed" in page.inner_text("#plan")
    assert page.evaluate("window.__commgrid.map.getLayer('compare-line') !== undefined")
    assert console_errors == []
    page.close()


def closed_incidents(xy: np.ndarray, *, days_ago: int) -> pd.DataFrame:
    """Closed public household-garbage incidents at ``xy`` (lon, lat rows), reported ``days_ago`` days before now."""
    return pd.DataFrame(
        {
            "category": "sanitation.garbage.household",
            "handling_class": "on_site",
            "status": "closed",
            "reported_at": clock.now() - timedelta(days=days_ago),
            "lon": xy[:, 0],
            "lat": xy[:, 1],
            "description": None,
            "public": True,
        }
    )


@pytest.fixture(scope="module")
def heat(create_database: Callable[..., URL], sample_plan) -> Iterator[tuple[str, str]]:
    """The sample plan with 3,000 incidents of public categories, a week old, served live; an analyst's token."""
    url = database_with_plans(create_database, "map_heat", sample_plan.gpkg, {"v1": True})
    engine = create_engine(url)
    with begin(engine) as conn:
        grids = gpd.read_postgis(text("SELECT geom FROM grid"), conn, geom_col="geom")
        area = shapely.union_all(grids.geometry.to_numpy())
        rng = np.random.default_rng(0)
        minx, miny, maxx, maxy = area.bounds
        xy = rng.uniform([minx, miny], [maxx, maxy], (20_000, 2))
        xy = xy[shapely.contains_xy(area, xy[:, 0], xy[:, 1])][:3000]
        copy_incidents(conn, closed_incidents(xy, days_ago=7), actor="test", source="import:heat")
        token = add_user(conn, "heat-analyst", role="analyst")
    engine.dispose()
    with serving(url) as base:
        yield base, token


def show_density(page) -> int:
    """Turn the density layer on and wait until its bins are drawn; the number of drawn bins."""
    assert not page.is_checked("#layers input[data-group=density]")  # off until asked for
    page.click("#layers input[data-group=density]")
    page.wait_for_function(
        "window.__commgrid.map.queryRenderedFeatures({layers: ['density-fill']}).length > 0", timeout=30_000
    )
    assert page.is_visible("#density-legend")
    return page.evaluate("window.__commgrid.map.queryRenderedFeatures({layers: ['density-fill']}).length")


@pytest.mark.parametrize(("who", "view"), [("public", "public aggregate"), ("analyst", "every incident")])
def test_the_density_layer_paints_for_each_role(browser, heat, who, view):
    base, token = heat
    page, console_errors = open_map(browser, f"{base}/map", token=token if who == "analyst" else None)
    assert show_density(page) > 0
    assert view in page.inner_text("#density-view")
    counts = page.evaluate(
        "window.__commgrid.map.queryRenderedFeatures({layers: ['density-fill']}).map(f => f.properties.count)"
    )
    assert min(counts) >= (3 if who == "public" else 1)  # the public never sees a bin of fewer than k
    assert page.evaluate("window.__commgrid.errors") == [] and console_errors == []
    page.close()
