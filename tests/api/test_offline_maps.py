"""folium maps (``partition --map``, ``plans diff --map``, ``/analytics/heatmap.html``) work without internet.

Each map's HTML must name no http(s) script or stylesheet, and must draw its grids (or
heat) in a browser that can reach nothing but the file itself.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
import shapely

from tiles.webmaps import diff_map, heat_map, plan_map

REMOTE = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)


def grids() -> gpd.GeoDataFrame:
    boxes = [shapely.box(114.05 + 0.01 * i, 22.53, 114.06 + 0.01 * i, 22.54) for i in range(3)]
    return gpd.GeoDataFrame(
        {
            "code": ["G001", "G002", "G003"],
            "households": [350, 420, 510],
            "population": [1100, 1300, 1600],
            "status": ["ok", "ok", "out_of_range"],
        },
        geometry=boxes,
        crs=4326,
    )


def maps() -> dict[str, str]:
    g = grids()
    rng = np.random.default_rng(7)
    lon, lat = 114.05 + rng.random(500) * 0.03, 22.53 + rng.random(500) * 0.01
    return {
        "plan": plan_map(g, title="v1").get_root().render(),
        "diff": diff_map(g, g, changed={"G002"}, added={"G003"}).get_root().render(),
        "heat": heat_map(lon, lat).get_root().render(),
    }


def test_no_folium_map_refers_to_a_remote_script_or_stylesheet():
    for name, html in maps().items():
        assert REMOTE.search(html) is None, f"{name}: {REMOTE.search(html).group(0)}"
        assert "cdn.jsdelivr" not in html and "code.jquery" not in html, name
        assert "data:text/javascript;base64," in html, name  # Leaflet came along


def test_the_map_commands_write_offline_html(tmp_path):
    """What ``plans diff --map`` and ``partition --map`` write is the same offline HTML."""
    out = tmp_path / "plan.html"
    plan_map(grids()).save(str(out))
    html = out.read_text(encoding="utf-8")
    assert REMOTE.search(html) is None and "L.geoJson" in html


@pytest.mark.parametrize("name", ["plan", "diff", "heat"])
def test_folium_maps_draw_with_the_network_cut_off(browser, tmp_path, artifacts, name):
    path = tmp_path / f"{name}.html"
    path.write_text(maps()[name], encoding="utf-8")
    page = browser.new_page(viewport={"width": 900, "height": 700})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(re.compile(r"^https?://"), lambda route: route.abort())  # no internet, basemap tiles included
    page.goto(path.as_uri())
    if name == "heat":
        page.wait_for_selector("canvas.leaflet-heatmap-layer", timeout=20_000)
    else:
        page.wait_for_selector("path.leaflet-interactive", timeout=20_000)
        assert page.locator("path.leaflet-interactive").count() >= 3
    assert page.evaluate("typeof L") == "object"
    assert errors == []
    page.screenshot(path=str(artifacts / f"folium-{name}-offline.png"))
    page.close()


def test_a_plan_map_draws_every_grid_and_a_hostile_name_stays_text(browser, tmp_path):
    """Grid texts come from files people hand in: one that would close or swallow the script, or run as
    markup in the tooltip, stays text; so does a line separator (U+2028) inside a name."""
    g = grids()
    g["community"] = [
        "</script><script>window.owned = 1</script>",
        '<img src=x onerror="window.owned = 2">\u2028A & B',
        "<!--<script>",
    ]
    html = plan_map(g, title="v1").get_root().render()
    assert "</script><script>window.owned" not in html
    path = tmp_path / "plan.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 900, "height": 700})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(re.compile(r"^https?://"), lambda route: route.abort())
    page.goto(path.as_uri())
    page.wait_for_selector("path.leaflet-interactive", timeout=20_000)
    paths = page.locator("path.leaflet-interactive")
    assert paths.count() == 3  # the first grid and the two added after it
    fills = page.eval_on_selector_all("path.leaflet-interactive", "ps => ps.map(p => p.getAttribute('fill'))")
    assert sorted(fills) == sorted(["#7fc97f", "#7fc97f", "#fdc086"])  # coloured by status
    shown = []
    for i in range(3):  # the tooltips show each name as it was written
        paths.nth(i).hover()
        page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
        shown.append(page.locator(".leaflet-tooltip").last.inner_text())
    assert any('<img src=x onerror="window.owned = 2">' in text for text in shown), shown
    assert any("</script><script>window.owned = 1</script>" in text for text in shown), shown
    assert page.evaluate("window.owned === undefined") and errors == []
    page.close()


@pytest.mark.parametrize("case", ["one grid", "no grid", "a grid without geometry"])
def test_a_plan_map_of_few_or_broken_grids_still_draws(browser, tmp_path, case):
    g = grids()
    if case == "one grid":
        g = g.iloc[:1]
    elif case == "no grid":
        g = g.iloc[:0]
    else:
        g.loc[2, "geometry"] = None
    path = tmp_path / "plan.html"
    path.write_text(plan_map(g).get_root().render(), encoding="utf-8")
    page = browser.new_page(viewport={"width": 900, "height": 700})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(re.compile(r"^https?://"), lambda route: route.abort())
    page.goto(path.as_uri())
    page.wait_for_function("typeof L === 'object' && document.querySelector('.leaflet-control-layers')")
    expected = {"one grid": 1, "no grid": 0, "a grid without geometry": 2}[case]
    assert page.locator("path.leaflet-interactive").count() == expected
    assert errors == []
    page.close()
