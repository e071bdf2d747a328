"""The grid features a resident's map reads: public fields only, paging, bbox, clear errors."""

from __future__ import annotations

from gis import clock
from gis.store.features import PUBLIC_GRID_FIELDS


def test_published_plan_is_served_as_geojson(client, sample_plan):
    r = client.get("/collections/grids/items", params={"limit": 1000})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert body["plan"] == "v1"
    assert body["numberMatched"] == sample_plan.report["grids"] == body["numberReturned"]
    feature = body["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert set(feature["properties"]) == set(PUBLIC_GRID_FIELDS)


def test_paging_links_walk_every_grid(client, sample_plan):
    seen, url = [], "/collections/grids/items?limit=7"
    while url:
        body = client.get(url).json()
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
    assert len(seen) == len(set(seen)) == sample_plan.report["grids"]


def test_bbox_keeps_only_intersecting_grids(client):
    everything = client.get("/collections/grids/items", params={"limit": 1000}).json()
    xs = [c[0] for f in everything["features"] for c in f["geometry"]["coordinates"][0][0][:1]]
    ys = [c[1] for f in everything["features"] for c in f["geometry"]["coordinates"][0][0][:1]]
    west = f"{min(xs) - 0.01},{min(ys) - 0.01},{(min(xs) + max(xs)) / 2},{max(ys) + 0.01}"
    part = client.get("/collections/grids/items", params={"bbox": west, "limit": 1000}).json()
    assert 0 < part["numberMatched"] < everything["numberMatched"]


def test_a_draft_plan_by_name_for_planners_only(client, tokens):
    planner = {"Authorization": f"Bearer {tokens['planner']}"}
    assert client.get("/collections/grids/items", params={"plan": "v0"}, headers=planner).json()["plan"] == "v0"
    for who in ({}, {"Authorization": f"Bearer {tokens['analyst']}"}):
        hidden = client.get("/collections/grids/items", params={"plan": "v0"}, headers=who)
        assert hidden.status_code == 404 and hidden.json()["description"] == "no plan named 'v0'"


def test_unknown_plan_is_404_naming_no_other_plan(client):
    r = client.get("/collections/grids/items", params={"plan": "nope"})
    assert r.status_code == 404
    assert "v1" not in r.json()["description"] and "v0" not in r.json()["description"]


def test_bad_bbox_is_400(client):
    r = client.get("/collections/grids/items", params={"bbox": "1,2,three,4"})
    assert r.status_code == 400
    assert "bbox" in r.json()["description"]


def test_limit_above_maximum_is_400(client):
    r = client.get("/collections/grids/items", params={"limit": 10**6})
    assert r.status_code == 400
    assert "at most" in r.json()["description"]


def test_health_reports_postgis(client):
    assert client.get("/healthz").json()["postgis"].startswith("3.")


def test_map_page_is_self_contained(client):
    page = client.get("/map").text
    assert "/collections/grids/items" in page
    assert "https://" not in page and "http://" not in page  # no CDN: works without internet


def test_communities_of_the_published_plan(client, sample_inputs):
    import geopandas as gpd

    body = client.get("/collections/communities/items").json()
    expected = set(gpd.read_file(sample_inputs["communities"])["community_id"])
    assert {f["id"] for f in body["features"]} == expected
    assert set(body["features"][0]["properties"]) == {"community_id", "name", "admin_code"}


def test_conformance_declares_core_geojson_and_openapi(client):
    classes = client.get("/conformance").json()["conformsTo"]
    assert any(c.endswith("/conf/core") for c in classes)
    assert any(c.endswith("/conf/geojson") for c in classes)


def test_collections_describe_grids_and_communities_with_extent(client):
    body = client.get("/collections").json()
    ids = [c["id"] for c in body["collections"]]
    assert ids == ["grids", "communities", "streets"]
    minx, miny, maxx, maxy = body["collections"][0]["extent"]["spatial"]["bbox"][0]
    assert -180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90
    assert client.get("/collections/grids").json()["id"] == "grids"


def test_unknown_collection_is_404_listing_the_known_ones(client):
    for path in ("/collections/nope", "/collections/nope/items", "/collections/nope/items/1"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "grids" in r.json()["description"]


def test_one_grid_by_code(client):
    code = client.get("/collections/grids/items", params={"limit": 1}).json()["features"][0]["id"]
    body = client.get(f"/collections/grids/items/{code}").json()
    assert body["id"] == code
    assert body["properties"]["code"] == code
    assert any(link["rel"] == "collection" for link in body["links"])


def test_missing_grid_is_404(client):
    r = client.get("/collections/grids/items/999999999999999")
    assert r.status_code == 404
    assert "999999999999999" in r.json()["description"]


def test_one_community_by_id(client, sample_inputs):
    import geopandas as gpd

    cid = str(gpd.read_file(sample_inputs["communities"])["community_id"].iloc[0])
    assert client.get(f"/collections/communities/items/{cid}").json()["properties"]["community_id"] == cid


def test_openapi_lists_the_ogc_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/conformance", "/collections", "/collections/{collection_id}", "/collections/grids/items"):
        assert path in paths, path


def test_property_filters_and_queryables(client):
    ok = client.get("/collections/grids/items", params={"status": "ok", "limit": 500}).json()
    assert ok["numberMatched"] > 0
    assert {f["properties"]["status"] for f in ok["features"]} == {"ok"}
    code = ok["features"][0]["id"]
    one = client.get("/collections/grids/items", params={"code": code}).json()
    assert [f["id"] for f in one["features"]] == [code]
    bad = client.get("/collections/grids/items", params={"colour": "red"})
    assert bad.status_code == 400
    assert "unknown property filter 'colour'" in bad.json()["description"]
    q = client.get("/collections/grids/queryables")
    assert q.headers["content-type"].startswith("application/schema+json")
    assert {"code", "status", "community", "datetime"} <= set(q.json()["properties"])


def test_datetime_picks_the_plan_published_then(client):
    from datetime import timedelta

    now = clock.now()
    current = client.get("/collections/grids/items", params={"datetime": now.isoformat(), "limit": 1}).json()
    assert current["plan"] == "v1"
    early = client.get("/collections/grids/items", params={"datetime": "2000-01-01T00:00:00Z"})
    assert early.status_code == 404 and "no plan was published at 2000-01-01" in early.json()["description"]
    interval = client.get("/collections/grids/items", params={"datetime": f"{(now - timedelta(days=1)).date()}/.."})
    assert interval.status_code == 400
    nonsense = client.get("/collections/grids/items", params={"datetime": "yesterday"})
    assert nonsense.status_code == 400 and "RFC 3339" in nonsense.json()["description"]
    no_time = client.get("/collections/communities/items", params={"datetime": now.isoformat()})
    assert no_time.status_code == 400


def test_incident_items_for_analysts_filter_by_time(client, tokens):
    from tests.api.conftest import bearer

    r = client.get(
        "/collections/incidents/items", params={"datetime": "2020-01-01/.."}, headers=bearer(tokens["analyst"])
    )
    assert r.status_code == 200
    assert r.json()["numberMatched"] == 0  # none reported in the API database
