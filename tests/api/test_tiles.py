"""Vector tiles: what they hold at several zooms, per role; ETags, 304 and invalidation on change."""

from __future__ import annotations

from collections.abc import Callable

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL

from api.app import create_app
from api.settings import Settings
from gis.store import begin, create_engine
from tests.api.conftest import bearer, database_with_plans
from tiles.matrix import TMS

MVT = "application/vnd.mapbox-vector-tile"


def extent(client: TestClient) -> list[float]:
    grids = next(c for c in client.get("/collections").json()["collections"] if c["id"] == "grids")
    return grids["extent"]["spatial"]["bbox"][0]


def tiles_over(client: TestClient, z: int):
    west, south, east, north = extent(client)
    return list(TMS.tiles(west, south, east, north, [z]))


def decode(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body)


@pytest.mark.parametrize("z", [12, 14, 16])
def test_grid_tiles_hold_every_grid_of_the_published_plan(client, sample_plan, z):
    codes: set[str] = set()
    for t in tiles_over(client, z):
        r = client.get(f"/collections/grids/tiles/WebMercatorQuad/{z}/{t.y}/{t.x}")
        assert r.status_code in (200, 204), r.text
        if r.status_code == 200:
            assert r.headers["content-type"] == MVT
            layer = decode(r.content)["grids"]
            assert layer["extent"] == 4096
            codes |= {f["properties"]["code"] for f in layer["features"]}
            props = layer["features"][0]["properties"]
            assert {"code", "households", "population", "status"} <= set(props)
    assert len(codes) == sample_plan.report["grids"]


def test_tiles_far_away_are_empty(client):
    r = client.get("/collections/grids/tiles/WebMercatorQuad/14/0/0")
    assert r.status_code == 204
    assert "ETag" in r.headers


def test_public_multi_layer_tile_has_public_layers_only(client, tokens):
    t = tiles_over(client, 14)[0]
    url = f"/tiles/WebMercatorQuad/14/{t.y}/{t.x}"
    public = decode(client.get(url).content)
    assert set(public) <= {"grids", "communities", "grid_labels", "community_labels"}
    assert "grids" in public
    planner = decode(client.get(url, headers=bearer(tokens["planner"])).content)
    assert "units" in planner
    unit = planner["units"]["features"][0]["properties"]
    assert {"unit_id", "households", "population", "grid"} <= set(unit)


def test_a_hidden_collection_in_the_tile_request_needs_its_role(client, tokens):
    t = tiles_over(client, 14)[0]
    url = f"/tiles/WebMercatorQuad/14/{t.y}/{t.x}?collections=grids,units"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(tokens["analyst"])).status_code == 403
    assert client.get(url, headers=bearer(tokens["planner"])).status_code in (200, 204)


def test_etag_answers_304_and_cache_control_is_set(client):
    t = tiles_over(client, 14)[0]
    url = f"/collections/grids/tiles/WebMercatorQuad/14/{t.y}/{t.x}"
    first = client.get(url)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "public, no-cache"
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    other = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/collections/grids/tiles/WebMercatorQuad/23/0/0", 422, "less than or equal"),
        ("/collections/grids/tiles/WebMercatorQuad/3/8/0", 400, "tile row 8 is outside 0–7"),
        ("/collections/grids/tiles/WebMercatorQuad/3/0/9", 400, "tile column 9"),
        ("/collections/grids/tiles/WorldCRS84Quad/3/0/0", 404, "unknown tile matrix set"),
        ("/collections/grids/tiles/WebMercatorQuad/14/0/0?plan=nope", 404, "no plan named 'nope'"),
    ],
)
def test_bad_tile_addresses_are_explained(client, path, status, words):
    r = client.get(path)
    assert r.status_code == status, r.text
    assert words in r.text


def test_tile_matrix_sets_and_tilejson(client):
    sets = client.get("/tileMatrixSets").json()["tileMatrixSets"]
    assert [s["id"] for s in sets] == ["WebMercatorQuad"]
    tms = client.get("/tileMatrixSets/WebMercatorQuad").json()
    assert tms["id"] == "WebMercatorQuad" and len(tms["tileMatrices"]) == 25
    tj = client.get("/collections/grids/tiles/WebMercatorQuad/tilejson.json").json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"][0].endswith("/collections/grids/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert tj["vector_layers"][0]["id"] == "grids"
    tileset = client.get("/collections/grids/tiles/WebMercatorQuad").json()
    assert any(
        link["rel"] == "item" and "{tileMatrix}/{tileRow}/{tileCol}" in link["href"] for link in tileset["links"]
    )


def test_style_shows_what_the_role_may_see(client, tokens):
    public = client.get("/styles/commgrid").json()
    assert public["version"] == 8 and "glyphs" not in public
    sources = {layer.get("source-layer") for layer in public["layers"]}
    assert "grids" in sources and "incidents" not in sources and "units" not in sources
    analyst = client.get("/styles/commgrid", headers=bearer(tokens["analyst"])).json()
    assert "incidents" in {layer.get("source-layer") for layer in analyst["layers"]}


# -- invalidation: a database of its own, changed by the tests ------------------------------


@pytest.fixture(scope="module")
def changing(create_database: Callable[..., URL], sample_plan) -> tuple[TestClient, URL]:
    url = database_with_plans(create_database, "tiles_changing", sample_plan.gpkg, {"a": True, "b": False})
    app = create_app(Settings(database_url=url.render_as_string(hide_password=False)))
    with TestClient(app) as c:
        yield c, url


def execute(url: URL, sql: str, **params) -> None:
    engine = create_engine(url)
    with begin(engine) as conn:
        conn.execute(text(sql), params)
    engine.dispose()


def test_an_edit_is_never_served_stale(changing):
    client, url = changing
    t = tiles_over(client, 14)[0]
    tile_url = f"/collections/grids/tiles/WebMercatorQuad/14/{t.y}/{t.x}"
    before = client.get(tile_url)
    code = decode(before.content)["grids"]["features"][0]["properties"]["code"]
    execute(url, "UPDATE grid SET status = 'edited' WHERE code = :code", code=code)
    after = client.get(tile_url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    statuses = {f["properties"]["code"]: f["properties"]["status"] for f in decode(after.content)["grids"]["features"]}
    assert statuses[code] == "edited"


def test_publishing_another_plan_changes_the_tiles(changing):
    client, url = changing
    t = tiles_over(client, 14)[0]
    tile_url = f"/collections/grids/tiles/WebMercatorQuad/14/{t.y}/{t.x}"
    before = client.get(tile_url).headers["etag"]
    execute(
        url, "UPDATE grid SET households = households + 1 WHERE plan_id = (SELECT id FROM grid_plan WHERE name='b')"
    )
    from gis.plans import publish_plan

    engine = create_engine(url)
    with begin(engine) as conn:
        publish_plan(conn, plan="b")
    engine.dispose()
    after = client.get(tile_url, headers={"If-None-Match": before})
    assert after.status_code == 200
    feature = decode(after.content)["grids"]["features"][0]["properties"]
    code = feature["code"]
    plan_b = client.get(f"/collections/grids/items/{code}").json()
    assert plan_b["properties"]["households"] == feature["households"]


def test_a_change_to_one_layer_keeps_the_others_cached(changing):
    client, url = changing
    t = tiles_over(client, 14)[0]
    grids_url = f"/collections/grids/tiles/WebMercatorQuad/14/{t.y}/{t.x}"
    grids = client.get(grids_url).headers["etag"]
    execute(
        url,
        "INSERT INTO incident (district_id, category, handling_class, status, geom) "
        "SELECT p.district_id, 'sanitation', 'on_site', 'reported', ST_PointOnSurface(g.geom) "
        "FROM grid AS g JOIN grid_plan AS p ON p.id = g.plan_id LIMIT 1",
    )
    assert client.get(grids_url, headers={"If-None-Match": grids}).status_code == 304
