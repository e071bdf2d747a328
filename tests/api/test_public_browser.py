"""The public page as phones and desktops show it: headless Chromium (Debian's) against a live server.

A worker is posted on one grid, so the page uses a database of its own, not the shared ``api_db``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import URL

from gis.store import begin, create_engine
from gis.workers.store import assign_worker
from tests.api.conftest import database_with_plans, serving

PHONE, DESKTOP = (390, 844), (1280, 800)


@pytest.fixture(scope="module")
def site(create_database: Callable[..., URL], sample_plan):
    """A live server on a database whose first grid has a posted worker; yields (url, codes)."""
    url = database_with_plans(create_database, "public_browser", sample_plan.gpkg, {"p1": True})
    engine = create_engine(url)
    with begin(engine) as conn:
        from gis.plans import read_grids

        codes = read_grids(conn)["code"].tolist()
        assign_worker(
            conn, grid_code=codes[0], name="王晓梅", work_phone="0755-8888 1234", duties="负责网格巡查和便民服务"
        )
    engine.dispose()
    with serving(url) as base:
        yield base, codes


def open_page(browser, url: str, size):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[dict] = []
    page.on("request", lambda r: requests.append(r.headers))
    page.goto(url)
    page.wait_for_function(
        "window.__public && (window.__public.ready || window.__public.errors.length)", timeout=60_000
    )
    return page, errors, requests


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_grid_page_shows_the_posted_contact_and_fits_the_screen(browser, site, size, tmp_path):
    base, codes = site
    page, errors, requests = open_page(browser, f"{base}/public/grids/{codes[0]}", size)
    page.wait_for_selector("#panel .name")
    assert page.evaluate("window.__public.errors") == [] and errors == []
    panel = page.inner_text("#panel")
    assert "王晓梅" in panel and "0755-8888 1234" in panel and "负责网格巡查和便民服务" in panel
    assert page.get_attribute("#panel a.phone", "href") == "tel:075588881234"
    # nothing beyond the posted fields, and no token is ever sent
    assert set(page.evaluate("Object.keys(window.__public.contact.worker)")) == {
        "name",
        "work_phone",
        "duties",
        "photo",
    }
    assert not any("authorization" in h for h in requests)
    # readable without sideways scrolling; the contact is on screen or just below the map
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.locator("#panel h2").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size[0]
    page.screenshot(path=str(tmp_path / "public.png"), full_page=True)
    page.close()


def test_searching_a_grid_without_a_worker_says_whom_to_call(browser, site):
    base, codes = site
    page, errors, _ = open_page(browser, f"{base}/public", PHONE)
    page.fill("#code", codes[1])
    page.click("#search button[type=submit]")
    page.wait_for_selector("#panel .instead")
    assert "社区居委会" in page.inner_text("#panel .instead")
    assert page.evaluate("location.pathname") == f"/public/grids/{codes[1]}"
    assert errors == []
    page.fill("#code", "NOPE")
    page.click("#search button[type=submit]")
    page.wait_for_function("document.querySelector('#panel').innerText.includes('NOPE')")
    assert "Nothing matches “NOPE”" in page.inner_text("#panel")
    page.close()


def test_clicking_the_map_finds_the_grid_there(browser, site):
    base, _ = site
    page, _, _ = open_page(browser, f"{base}/public", DESKTOP)
    point = page.evaluate(
        """() => {
            const m = window.__public.map, c = m.getCanvas();
            for (let y = 100; y < c.clientHeight - 100; y += 20)
              for (let x = 100; x < c.clientWidth - 100; x += 20)
                if (m.queryRenderedFeatures([x, y], {layers: ['grids-fill']}).length) return [x, y];
            return null;
        }"""
    )
    assert point is not None, "no grid under any probed pixel"
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    page.wait_for_selector("#panel h2")
    assert page.evaluate("window.__public.contact.code")
    page.close()
