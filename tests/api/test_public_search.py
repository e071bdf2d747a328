"""The public page a resident can use: streets on the map, and a search by part of a code, a community or a street.

The sample district is stored with its streets here (the shared ``api_db`` has none),
so this module uses a database of its own. Screenshots go to the test artifacts folder.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.routes.public import CONTACT_FIELDS, WORKER_FIELDS
from api.settings import Settings
from gis.cluster import DATABASE
from gis.io import read_barriers
from gis.plans.files import read_plan_file
from gis.plans.load import store_plan
from gis.store import begin, create_engine
from gis.workers.store import assign_worker
from tests.api.conftest import serving

DESKTOP = (1280, 800)
runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def store(create_database: Callable[..., URL], sample_plan, sample_inputs) -> URL:
    from gis import migrations

    url = create_database("public_search", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    barriers = read_barriers(sample_inputs["barriers"], class_field="barrier_class", name_field="name")
    with begin(engine) as conn:
        store_plan(
            conn, read_plan_file(sample_plan.gpkg), plan="s1", district="sample", publish=True, barriers=barriers
        )
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def client(store: URL) -> TestClient:
    with TestClient(create_app(Settings(database_url=store.render_as_string(hide_password=False)))) as c:
        yield c


@pytest.fixture(scope="module")
def names(client: TestClient, sample_inputs) -> dict:
    grids = client.get("/collections/grids/items", params={"limit": 500}).json()["features"]
    communities = client.get("/collections/communities/items", params={"limit": 500}).json()["features"]
    streets = gpd.read_file(sample_inputs["barriers"])
    street = sorted(n for n in streets["name"].dropna().unique() if n.endswith(("路", "街", "大道")))[0]
    return {
        "codes": sorted(g["id"] for g in grids),
        "community": communities[0]["properties"]["name"],
        "community_id": communities[0]["id"],
        "street": street,
    }


def tile_at(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def test_search_finds_grids_by_part_of_their_code(client, names):
    code = names["codes"][3]
    part = code[-6:]
    found = client.get("/public/search", params={"q": part}).json()["results"]
    grids = [r["id"] for r in found if r["kind"] == "grid"]
    assert code in grids and all(part in g for g in grids)
    exact = client.get("/public/search", params={"q": code}).json()["results"]
    assert exact[0] == {**exact[0], "kind": "grid", "id": code}  # the exact code comes first
    west, south, east, north = exact[0]["bbox"]
    assert west < east and south < north


def test_search_finds_communities_and_streets_by_name(client, names):
    half = names["community"][:2]
    found = client.get("/public/search", params={"q": half}).json()["results"]
    assert any(r["kind"] == "community" and r["label"] == names["community"] for r in found)
    street = client.get("/public/search", params={"q": names["street"]}).json()["results"]
    assert any(r["kind"] == "street" and r["id"] == names["street"] for r in street)
    for r in found + street:  # what a poster prints, nothing about people
        assert set(r) == {"kind", "id", "label", "detail", "bbox"}


def test_search_input_is_checked_and_wildcards_are_literal(client):
    assert client.get("/public/search", params={"q": ""}).status_code == 422
    assert client.get("/public/search", params={"q": "x" * 101}).status_code == 422
    assert client.get("/public/search", params={"q": "   "}).status_code == 400
    assert client.get("/public/search", params={"q": "%"}).json()["results"] == []
    assert client.get("/public/search", params={"q": "_"}).json()["results"] == []


def test_streets_are_a_public_collection_and_tile_layer(client, names):
    items = client.get("/collections/streets/items", params={"name": names["street"]}).json()
    assert items["numberMatched"] >= 1 and items["features"][0]["properties"]["name"] == names["street"]
    west, south, east, north = client.get("/public/search", params={"q": names["street"]}).json()["results"][0]["bbox"]
    x, y = tile_at((west + east) / 2, (south + north) / 2, 15)
    body = client.get(f"/tiles/WebMercatorQuad/15/{y}/{x}").content
    layers = mapbox_vector_tile.decode(body)
    assert "streets" in layers
    assert names["street"] in {f["properties"].get("name") for f in layers["streets"]["features"]}
    style = client.get("/styles/commgrid").json()
    assert {"streets-line", "streets-label"} <= {layer["id"] for layer in style["layers"]}


# -- in the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(store: URL, names):
    engine = create_engine(store)
    with begin(engine) as conn:
        assign_worker(conn, grid_code=names["codes"][3], name="林小红", work_phone="0755-8888 4321", duties="负责巡查")
    engine.dispose()
    with serving(store) as base:
        yield base


def open_public(browser, url: str):
    page = browser.new_page(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_function(
        "window.__public && (window.__public.ready || window.__public.errors.length)", timeout=60_000
    )
    return page, errors


def type_search(page, text: str) -> None:
    page.fill("#code", text)
    page.click("#search button[type=submit]")


def test_a_resident_finds_their_grid_by_community_name_and_part_of_the_code(browser, site, names, artifacts):
    page, errors = open_public(browser, f"{site}/public")
    type_search(page, names["community"])
    page.wait_for_function(
        "(n) => document.getElementById('panel').innerText.includes(n)", arg=names["community"], timeout=20_000
    )
    code = names["codes"][3]
    type_search(page, code[3:-1])  # part of the code that several grids share
    page.wait_for_selector(".results button")
    assert page.locator(".results button").count() > 1
    page.locator(".results button", has_text=code).first.click()
    page.wait_for_selector("#panel .name")
    panel = page.inner_text("#panel")
    assert "林小红" in panel and code in panel
    page.wait_for_function("window.__public.map.loaded()", timeout=20_000)
    page.screenshot(path=str(artifacts / "public-search-grid.png"))
    assert errors == [] and page.evaluate("window.__public.errors") == []
    page.close()


def test_streets_are_drawn_and_named_on_the_public_map(browser, site, names, artifacts):
    page, errors = open_public(browser, f"{site}/public?q={names['street']}")
    page.wait_for_function(
        "(n) => document.getElementById('panel').innerText.includes(n)", arg=names["street"], timeout=20_000
    )
    page.evaluate(
        "window.__public.map.once('idle', () => { window.__idle = true; }); window.__public.map.triggerRepaint()"
    )
    page.wait_for_function("window.__idle === true", timeout=30_000)
    drawn = page.evaluate(
        "window.__public.map.queryRenderedFeatures({layers: ['streets-line', 'streets-casing']})"
        ".map(f => f.properties.name)"
    )
    assert names["street"] in drawn
    labelled = page.evaluate(
        "window.__public.map.queryRenderedFeatures({layers: ['streets-label']}).map(f => f.properties.name)"
    )
    assert labelled, "no street carries its name at this zoom"
    page.screenshot(path=str(artifacts / "public-streets.png"))
    assert errors == [] and page.evaluate("window.__public.errors") == []
    page.close()


# -- the static export ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(store: URL, site, tmp_path_factory) -> Path:
    """The public site written by ``commgrid export-public`` (after ``site`` posted a worker)."""
    folder = tmp_path_factory.mktemp("public-site")
    db = store.render_as_string(hide_password=False)
    result = runner.invoke(cli, ["export-public", str(folder), "--maxzoom", "15", "--db", db])
    assert result.exit_code == 0, result.output
    assert "tiles.pmtiles" in result.output
    return folder


def test_the_export_holds_an_archive_and_only_public_json(exported, names):
    from pmtiles.reader import MmapSource, Reader
    from pmtiles.tile import TileType

    assert {p.name for p in exported.iterdir()} >= {"index.html", "style.json", "tiles.pmtiles", "assets", "data"}
    with (exported / "tiles.pmtiles").open("rb") as f:
        reader = Reader(MmapSource(f))
        header = reader.header()
        assert header["tile_type"] == TileType.MVT and header["max_zoom"] == 15
        layers = {layer["id"] for layer in reader.metadata()["vector_layers"]}
    assert {"grids", "communities", "streets"} <= layers
    contacts = json.loads((exported / "data" / "contacts.json").read_text(encoding="utf-8"))
    assert sorted(contacts) == names["codes"]
    for c in contacts.values():
        assert set(c) == set(CONTACT_FIELDS) - {"links"}
        if c["worker"] is not None:
            assert set(c["worker"]) == set(WORKER_FIELDS)
            assert (exported / c["worker"]["photo"]).is_file() if c["worker"]["photo"] else True
    assert contacts[names["codes"][3]]["worker"]["name"] == "林小红"
    index = json.loads((exported / "data" / "search.json").read_text(encoding="utf-8"))
    assert {"grid", "community", "street"} == {e["kind"] for e in index}
    html = (exported / "index.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html  # everything it loads is in the folder


def test_the_static_export_paints_from_a_plain_static_server(browser, exported, names, artifacts):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(exported)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        page, errors = open_public(browser, f"http://127.0.0.1:{port}/")
        assert page.evaluate("window.__public.errors") == [] and errors == []
        assert page.evaluate("window.__public.source") == "whole file"  # http.server sends no byte ranges
        grids = page.evaluate("window.__public.map.queryRenderedFeatures({layers: ['grids-fill']}).length")
        assert grids > 0
        page.fill("#q", names["community"])
        page.click("#search button[type=submit]")
        page.wait_for_function(
            "(n) => document.getElementById('panel').innerText.includes(n)", arg=names["community"], timeout=20_000
        )
        page.fill("#q", names["codes"][3])
        page.click("#search button[type=submit]")
        page.wait_for_function("document.getElementById('panel').innerText.includes('林小红')", timeout=20_000)
        page.evaluate(
            "window.__public.map.once('idle', () => { window.__idle = true; }); window.__public.map.triggerRepaint()"
        )
        page.wait_for_function("window.__idle === true", timeout=30_000)
        page.screenshot(path=str(artifacts / "public-static-export.png"))
        assert page.evaluate("window.__public.errors") == [] and errors == []
        page.close()
    finally:
        server.terminate()
        server.wait(10)
