"""The web map as a browser shows it: headless Chromium (Debian's) driven by Playwright, against a live server."""

from __future__ import annotations

import numpy as np
from matplotlib import image as mpimg


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
    # the public sees grids and communities, nothing else
    toggles = page.eval_on_selector_all("#layers input", "els => els.map(e => e.dataset.group)")
    assert set(toggles) == {"grids", "communities"}
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
