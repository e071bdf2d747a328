"""Analysts' routes over the Vancouver crimes: hot spots per grid and hexagon, per-grid statistics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL

from api.app import create_app
from api.settings import Settings
from gis import migrations
from gis.cluster import DATABASE
from gis.incidents.imports import map_incidents, read_incident_table
from gis.incidents.store import copy_incidents
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer
from tests.gis.incidents.vancouver import CATEGORIES, FOLDER, MAPPING, store_vancouver


@pytest.fixture(scope="module")
def vancouver(create_database: Callable[..., URL], shared_data: Path) -> tuple[TestClient, dict, int]:
    """Vancouver's neighbourhoods as grids and its 2020 crimes, in a database of their own."""
    url = create_database("incidents_analytics", template=DATABASE)
    migrations.upgrade(url)
    table, _ = read_incident_table(shared_data / FOLDER / "vancouver_crimes_2020.csv")
    frame = map_incidents(
        table, MAPPING, file="v.csv", crs="EPSG:26910", timezone="America/Vancouver", categories=CATEGORIES
    ).frame
    engine = create_engine(url)
    with begin(engine) as conn:
        store_vancouver(conn, shared_data)
        stored = copy_incidents(conn, frame, actor="t", source="import:v.csv").stored
        headers = bearer(add_user(conn, "analyst", role="analyst"))
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as client:
        yield client, headers, stored


def test_hotspots_per_grid_are_geojson_for_analysts_only(vancouver):
    client, headers, stored = vancouver
    assert client.get("/analytics/hotspots").status_code == 401
    got = client.get("/analytics/hotspots", params={"unit": "grid"}, headers=headers)
    assert got.status_code == 200 and got.headers["content-type"] == "application/geo+json"
    body = got.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 22
    downtown = next(f["properties"] for f in body["features"] if f["properties"]["name"] == "Downtown")
    assert downtown["hotspot"] == "hot" and downtown["confidence"] >= 95
    assert sum(f["properties"]["incidents"] for f in body["features"]) == stored
    assert body["parameters"]["levels"] == [99, 95, 90]


def test_hotspots_per_hexagon_filtered_by_category_and_time(vancouver):
    client, headers, _ = vancouver
    params = {"unit": "hex", "size": 500, "category": "public_security.theft", "from": "2020-06-01T00:00:00Z"}
    body = client.get("/analytics/hotspots", params=params, headers=headers).json()
    assert body["parameters"]["hex_size_m"] == 500 and all("," in f["properties"]["code"] for f in body["features"])
    assert any(f["properties"]["hotspot"] == "hot" for f in body["features"])
    bad = client.get("/analytics/hotspots", params={"category": "crime"}, headers=headers)
    assert bad.status_code == 400 and "unknown category 'crime'" in bad.json()["description"]
    assert client.get("/analytics/hotspots", params={"unit": "county"}, headers=headers).status_code == 422


def test_grid_statistics(vancouver):
    client, headers, stored = vancouver
    body = client.get("/analytics/grids", headers=headers).json()
    assert body["district"] == "vancouver" and len(body["grids"]) == 22
    row = body["grids"][0]
    assert set(row) == {"code", "name", "households", "population", "incidents", "open", "per_1000"}
    assert row["per_1000"] is None  # the neighbourhoods carry no population
    assert sum(g["open"] for g in body["grids"]) == sum(g["incidents"] for g in body["grids"]) == stored
    older = client.get("/analytics/grids", params={"to": "2020-02-01T00:00:00Z"}, headers=headers).json()
    assert 0 < sum(g["incidents"] for g in older["grids"]) < stored / 6


def density(client, z, params=None, headers=None):
    tile = morecantile.tms.get("WebMercatorQuad").tile(-123.12, 49.28, z)  # downtown
    got = client.get(f"/collections/incident-density/tiles/WebMercatorQuad/{z}/{tile.y}/{tile.x}", params=params,
                     headers=headers)  # fmt: skip
    assert got.status_code in (200, 204), got.text
    layers = mapbox_vector_tile.decode(got.content) if got.status_code == 200 else {}
    return [f["properties"]["count"] for f in layers.get("incident_density", {}).get("features", [])], got


def test_square_bins_count_every_incident_of_the_tile_once(vancouver):
    client, headers, _ = vancouver
    counts, got = density(client, 14, {"bin": "square"}, headers)
    assert got.headers["cache-control"] == "private, no-cache"
    tile = morecantile.tms.get("WebMercatorQuad").tile(-123.12, 49.28, 14)
    west, south, east, north = morecantile.tms.get("WebMercatorQuad").xy_bounds(tile)
    engine = create_engine(client.app.state.settings.database_url)
    with engine.connect() as conn:
        inside = conn.execute(
            text(
                "SELECT count(*) FROM incident WHERE ST_X(geom_3857) >= :w AND ST_X(geom_3857) < :e "
                "AND ST_Y(geom_3857) >= :s AND ST_Y(geom_3857) < :n"
            ),
            {"w": west, "e": east, "s": south, "n": north},
        ).scalar_one()
    engine.dispose()
    assert sum(counts) == inside > 0


def test_hexagons_filter_and_the_public_sees_only_bins_of_three_public_incidents(vancouver):
    client, headers, _ = vancouver
    everything, _ = density(client, 13, {"cells": 64}, headers)
    thefts, _ = density(client, 13, {"cells": 64, "category": "public_security.theft"}, headers)
    assert 0 < sum(thefts) < sum(everything)
    public, got = density(client, 13, {"cells": 64})
    assert got.headers["cache-control"] == "public, no-cache"
    assert min(public) >= 3 > min(everything) and sum(public) <= sum(everything)
    assert density(client, 13, {"status": "closed"}, headers)[1].status_code == 204
    assert (
        client.get("/collections/incident-density/tiles/WebMercatorQuad/13/0/0", params={"status": "x"}).status_code
        == 400
    )


def test_time_windows_filter_the_density_at_every_zoom(vancouver):
    client, headers, _ = vancouver
    for z in (11, 13, 15):  # stored bins (z11, z13) and counted incidents (z15)
        everything, _ = density(client, z, {"bin": "square"}, headers)
        january, _ = density(client, z, {"bin": "square", "to": "2020-02-01T00:00:00Z"}, headers)
        since, _ = density(client, z, {"bin": "square", "from": "2020-02-01T00:00:00Z"}, headers)
        assert 0 < sum(january) < sum(everything) / 6 and sum(january) + sum(since) == sum(everything), z
    bad = client.get("/collections/incident-density/tiles/WebMercatorQuad/13/0/0", params={"cells": 10})
    assert bad.status_code == 422 and "expected one of [4, 8, 16, 32, 64]" in bad.text


def test_a_heat_map_to_save(vancouver):
    client, headers, _ = vancouver
    got = client.get("/analytics/heatmap.html", params={"category": "public_security.theft.bicycle"}, headers=headers)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/html")
    assert "L.heatLayer" in got.text and 'filename="incidents-vancouver.html"' in got.headers["content-disposition"]
    none = client.get("/analytics/heatmap.html", params={"to": "2000-01-01T00:00:00Z"}, headers=headers)
    assert none.status_code == 400 and "nothing to draw" in none.json()["description"]
