"""Hostile values on the API: SQL in filters, NUL characters, numbers beyond the store, damaged uploads.

Each answer is a 4xx naming the parameter (or, for SQL in a filter, an empty match: the
value is compared as text, never run), never a 5xx; and the store is unchanged after all
of them (every table's row count and every layer's data version).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from api.app import create_app
from api.settings import Settings
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer, database_with_plans
from tests.api.test_hostile_cli import snapshot
from tests.api.test_public_privacy import populate

SQL = (
    "' OR '1'='1",
    "1; DROP TABLE grid; --",
    "x'); DELETE FROM unit; --",
    "' UNION SELECT reporter_phone FROM incident --",
    "%' OR 1=1 OR code LIKE '%",
)
# collection → its text filters (api/routes/features.py serves these)
FILTERS = {
    "grids": ("code", "name", "community", "status"),
    "communities": ("community_id", "name", "admin_code"),
    "units": ("unit_id", "compound", "community", "grid"),
    "incidents": ("category", "handling_class", "status", "grid"),
}


@pytest.fixture(scope="module")
def hostile(create_database: Callable[..., URL], sample_plan) -> Iterator[tuple[TestClient, URL, dict, dict]]:
    url = database_with_plans(create_database, "hostile_api", sample_plan.gpkg, {"x0": False, "x1": True})
    engine = create_engine(url)
    with begin(engine) as conn:
        stored = populate(conn, plan="x1")
        headers = {"planner": bearer(add_user(conn, "hostile-planner", role="planner"))}
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as client:
        yield client, url, headers, stored


@pytest.fixture
def unchanged(hostile) -> Iterator[None]:
    """The store after the test is the store before it (but the audit log, which records reads)."""
    _, url, _, _ = hostile
    before = snapshot(url, ignore=("audit_log",))
    yield
    assert snapshot(url, ignore=("audit_log",)) == before


@pytest.mark.parametrize("collection", FILTERS)
@pytest.mark.parametrize("value", SQL)
def test_sql_in_filter_values_matches_nothing(hostile, unchanged, collection, value):
    client, _, headers, _ = hostile
    for name in FILTERS[collection]:
        response = client.get(f"/collections/{collection}/items", params={name: value}, headers=headers["planner"])
        assert response.status_code == 200, response.text
        assert response.json()["numberMatched"] == 0, (name, value)


@pytest.mark.parametrize("value", SQL)
@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/collections/grids/items", "plan"),
        ("/collections/grids/items", "datetime"),
        ("/collections/grids/items", "bbox"),
        ("/collections/incidents/items", "id"),
        ("/collections/grids/items", "no_such_field"),
        ("/workers", "grid_code"),
        ("/workers", "district"),
        ("/plans/{value}", None),
        ("/collections/grids/items/{value}", None),
        ("/public/contacts/{value}", None),
        ("/jobs/{value}", None),
    ],
)
def test_sql_elsewhere_is_refused_naming_the_parameter(hostile, unchanged, url, param, value):
    client, _, headers, _ = hostile
    response = client.get(url.format(value=value), params={param: value} if param else {}, headers=headers["planner"])
    assert response.status_code in (200, 400, 404, 422), response.text
    if response.status_code == 200:
        assert response.json() == [] or response.json().get("numberMatched", 0) == 0
    elif response.status_code == 400:
        assert response.json()["detail"]["field"] == param, response.text
    else:
        assert value in response.json()["description"] or (param or "") in response.text


NUL = "a\x00b"


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/collections/grids/items", {"name": NUL}, "name"),
        ("/collections/grids/items", {"plan": NUL}, "plan"),
        ("/collections/units/items", {"unit_id": NUL}, "unit_id"),
        ("/collections/grids", {"plan": NUL}, "plan"),
        ("/plans/a%00b", {}, "name"),
        ("/plans/x1/diff/a%00b", {}, "b"),
        ("/public/contacts/a%00b", {}, "code"),
        ("/collections/grids/items/a%00b", {}, "feature_id"),
        ("/grids/a%00b/poster.pdf", {}, "code"),
        ("/jobs/a%00b", {}, "job_id"),
        ("/tiles/WebMercatorQuad/12/1/1", {"plan": NUL}, "plan"),
        ("/collections/grids/tiles/WebMercatorQuad/12/1/1", {"plan": NUL}, "plan"),
        ("/workers", {"grid_code": NUL}, "grid_code"),
        ("/patrols/compliance", {"date": "2026-11-02", "community": NUL}, "community"),
    ],
)
def test_nul_characters_are_refused_naming_the_parameter(hostile, unchanged, url, params, field):
    client, _, headers, _ = hostile
    response = client.get(url, params=params, headers=headers["planner"])
    assert response.status_code == 400, response.text
    assert response.json()["detail"]["field"] == field
    assert "NUL character" in response.json()["description"]


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/collections/grids/items", {"offset": 10**20}, "offset"),
        ("/collections/grids/items", {"limit": 10**20}, "limit"),
        ("/workers/99999999999", {}, "worker_id"),
        ("/workers/99999999999/photo", {}, "worker_id"),
        ("/patrols/tracks", {"date": "2026-11-02", "worker": 99999999999}, "worker"),
        ("/patrols/workers/99999999999/calendar.png", {}, "worker_id"),
        ("/patrols/workers/1/calendar.png", {"month": "9999-12"}, "month"),
        ("/collections/grids/items", {"bbox": "nan,nan,nan,nan"}, "bbox"),
        ("/public/locate", {"lon": "nan", "lat": "nan"}, "lon"),
    ],
)
def test_numbers_beyond_the_store_are_refused_naming_the_parameter(hostile, unchanged, url, params, field):
    client, _, headers, _ = hostile
    response = client.get(url, params=params, headers=headers["planner"])
    assert response.status_code in (400, 422), response.text
    assert field in response.text


def _gpx() -> bytes:
    return (
        b'<?xml version="1.0"?><gpx version="1.1" creator="t"><trk><trkseg>'
        b'<trkpt lat="22.55" lon="114.06"><time>2026-11-02T01:00:00Z</time></trkpt>'
        b'<trkpt lat="22.551" lon="114.061"><time>2026-11-02T01:00:10Z</time></trkpt>'
        b"</trkseg></trk></gpx>"
    )


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (b"", "text/csv", "body is empty"),
        (_gpx()[: len(_gpx()) // 2], "application/gpx+xml", "file 'walk.gpx'"),
        (b"device,time,lat,lon\nx,2026-11-02T09:00:00+08:00,NaN,114\n", "text/csv", "file 'walk.gpx'"),
        (b"device,time,lat,lon\nx\x00,2026-11-02T09:00:00+08:00,22.5,114\n", "text/csv", "NUL character"),
        (b'{"points": "none"}', "application/json", "field 'points'"),
        (b'{"device": "a\\u0000", "points": []}', "application/json", "NUL character"),
        (b"\xff\xfe\x00garbage", "application/octet-stream", "NUL character"),
        (b"\xff\xfegarbage", "application/octet-stream", "Content-Type"),
    ],
)
def test_damaged_patrol_uploads_are_refused_and_store_nothing(hostile, unchanged, body, kind, message):
    client, _, headers, _ = hostile
    response = client.post(
        "/patrols", params={"name": "walk.gpx"}, content=body, headers={**headers["planner"], "content-type": kind}
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["description"], response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grid_code": "{a}", "name": "x", "work_phone": "0755-1", "photo_base64": "not base64!"}, "photo_base64"),
        (
            {
                "grid_code": "{a}",
                "name": "x",
                "work_phone": "0755-1234 5678",
                "photo_base64": base64.b64encode(b"GIF89a"),
            },
            "photo",
        ),
        ({"grid_code": "{a}", "name": "x\x00y", "work_phone": "0755-1234 5678"}, "body"),
        ({"grid_code": "' OR 1=1 --", "name": "x", "work_phone": "0755-1234 5678"}, "grid"),
        ({"grid_code": "{a}", "name": "x", "work_phone": "call me maybe"}, "work_phone"),
    ],
)
def test_damaged_worker_bodies_are_refused_and_store_nothing(hostile, unchanged, body, field):
    client, _, headers, stored = hostile
    body = {k: (v.decode() if isinstance(v, bytes) else v.format(a=stored["codes"][0])) for k, v in body.items()}
    response = client.post("/workers", json=body, headers=headers["planner"])
    assert response.status_code in (400, 404, 422), response.text
    assert field in response.text


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/plans", b'{"name": "\xff\xfe"}'),  # not UTF-8: FastAPI's own 400
        ("PATCH", "/plans/x0/assignment", b"\xff"),
        ("POST", "/workers", b"{not json"),
    ],
)
def test_bodies_that_do_not_parse_get_the_error_body(hostile, unchanged, method, url, body):
    """FastAPI's own answers to unparsable bodies carry the documented error body, like every other 4xx."""
    client, _, headers, _ = hostile
    response = client.request(
        method, url, content=body, headers={**headers["planner"], "content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    if response.status_code == 400:
        assert {"code", "description"} <= response.json().keys(), response.text


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/incidents", {"category": "sanitation.garbage", "lon": "{lon}", "lat": "{lat}", "description": "a\x00b"}),
        ("/incidents", {"category": "sanitation.garbage", "lon": "{lon}", "lat": "{lat}", "reporter_name": "\x00"}),
    ],
)
def test_nul_characters_in_reports_are_refused(hostile, unchanged, url, body):
    client, _, headers, stored = hostile
    lon, lat = stored["point"]
    body = {k: float(v.format(lon=lon, lat=lat)) if v in ("{lon}", "{lat}") else v for k, v in body.items()}
    response = client.post(url, json=body, headers=headers["planner"])
    assert response.status_code == 400, response.text
    assert "NUL character" in response.json()["description"]


def test_nul_characters_in_open311_requests_are_refused(hostile, unchanged):
    client, _, _, stored = hostile
    lon, lat = stored["point"]
    form = {"service_code": "sanitation.garbage", "lat": str(lat), "long": str(lon), "description": "a\x00b"}
    response = client.post("/open311/v2/requests.json", data=form)
    assert response.status_code == 400, response.text
    assert "NUL character" in response.json()["description"]


# -- the second hardening round (issue 22): bodies that reached a parser, and then a 500 --------------------

_REPORT = '{{"category": "sanitation.garbage", "lon": {lon}, "lat": {lat}, "description": {description}}}'


def _report(stored: dict, description: str) -> bytes:
    lon, lat = stored["point"]
    return _REPORT.format(lon=lon, lat=lat, description=description).encode()


@pytest.mark.parametrize(
    ("method", "url", "kind", "body", "field", "says"),
    [
        # NUL bytes under the content types the first NUL guard skipped
        ("POST", "/open311/v2/requests.json", "application/octet-stream", b"service_code=a\x00", "body", "NUL"),
        ("POST", "/open311/v2/requests.json", None, b'{"service_code": "a\x00"}', "body", "NUL"),
        ("POST", "/incidents", "multipart/mixed; boundary=x", b"--x\r\n\r\na\x00b\r\n--x--", "body", "NUL"),
        ("POST", "/incidents", "application/vnd.x+json", b'{"category": "a\\u0000"}', "body.category", "NUL"),
        ("POST", "/workers", "application/vnd.x+json", b'{"name": "a\x00"}', "body", "NUL"),
        # invalid UTF-8 in an Open311 form, raw and percent-encoded
        ("POST", "/open311/v2/requests.json", "application/x-www-form-urlencoded", b"service_code=\xff\xfe", "body",
         "not UTF-8"),
        ("POST", "/open311/v2/requests.json", "application/x-www-form-urlencoded",
         b"service_code=sanitation.garbage&lat=1&long=2&description=%ff%fe", "description", "not UTF-8"),
        # a lone surrogate, NaN and Infinity in JSON
        ("POST", "/incidents", "application/json", "report:\"\\ud800\"", "body.description", "lone surrogate"),
        ("POST", "/open311/v2/requests.json", "application/json",
         b'{"service_code": "sanitation.garbage", "first_name": "\\udfff"}', "body.first_name", "lone surrogate"),
        ("POST", "/incidents", "application/json", b'{"category": "x", "lon": NaN, "lat": 22.5}', "body", "NaN"),
        ("POST", "/workers", "application/json", b'{"grid_code": "x", "name": Infinity}', "body", "Infinity"),
        ("POST", "/incidents/1/transitions", "application/json", b'{"to": -Infinity}', "body", "Infinity"),
        # JSON nested 1,000+ deep (the parser's RecursionError), and deeper than anything takes
        ("POST", "/open311/v2/requests.json", "application/json", b"[" * 1500 + b"]" * 1500, "body", "deeper"),
        ("POST", "/patrols", "application/json", b'{"points": ' + b"[" * 5000 + b"]" * 5000 + b"}", "body",
         "deeper"),
        ("POST", "/patrols", "application/json", b'{"points": ' + b"[" * 40 + b"]" * 40 + b"}", "body.points",
         "deeper"),
        ("PATCH", "/plans/x0/assignment", None, b"[" * 3000 + b"]" * 3000, "body", "deeper"),
    ],
)  # fmt: skip
def test_hostile_bodies_get_a_4xx_naming_the_field(hostile, unchanged, method, url, kind, body, field, says):
    client, _, headers, stored = hostile
    if isinstance(body, str):  # a report around the given description
        body = _report(stored, body.removeprefix("report:"))
    sent = {**headers["planner"], **({"content-type": kind} if kind else {})}
    for caller in (sent, {k: v for k, v in sent.items() if k != "Authorization"}):  # planner, anonymous
        response = client.request(method, url, content=body, headers=caller)
        if response.status_code == 401:  # the route needs a role: the planner's answer is the one that counts
            continue
        assert response.status_code in (400, 422), response.text
        assert response.json()["detail"]["field"] == field, response.text
        assert says in response.json()["description"], response.text


@pytest.mark.parametrize(
    ("collection", "field"),
    [
        ({"type": "FeatureCollection", "features": [1]}, "features"),
        ({"type": "FeatureCollection", "features": "x"}, None),
        ({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": "x"}]}, "geometry"),
        ({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": 5}]}, "properties"),
        (
            {"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"time": "2026-11-02T09:00:00+08:00"},
                 "geometry": {"type": "Point", "coordinates": ["114.06", "22.55"]}}]},
            "coordinates",
        ),
        (
            {"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"coordTimes": 7},
                 "geometry": {"type": "LineString", "coordinates": [[114.0, 22.5], [114.1, 22.6]]}}]},
            "coordTimes",
        ),
        (
            {"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"coordTimes": ["a"]},
                 "geometry": {"type": "LineString", "coordinates": "x"}}]},
            "coordinates",
        ),
        ({"type": "FeatureCollection", "crs": {"properties": {"name": 5}}, "features": [{}]}, "crs"),
        ({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": ["x"]}}]}, "geometry"),
    ],
)  # fmt: skip
def test_malformed_geojson_tracks_are_refused_naming_the_field(hostile, unchanged, collection, field):
    import json

    client, _, headers, _ = hostile
    for kind in ("application/geo+json", "application/json"):
        response = client.post(
            "/patrols",
            params={"name": "walk.geojson"},
            content=json.dumps(collection).encode(),
            headers={**headers["planner"], "content-type": kind},
        )
        assert response.status_code == 400, response.text
        assert "walk.geojson" in response.json()["description"] or kind == "application/json", response.text
        if field is not None:
            assert response.json()["detail"]["field"] == field, response.text


def test_the_year_9999_is_refused_before_anything_is_stored(hostile, unchanged):
    client, _, headers, stored = hostile
    lon, lat = stored["point"]
    body = {"category": "sanitation.garbage", "lon": lon, "lat": lat, "reported_at": "9999-12-31T00:00:00Z"}
    response = client.post("/incidents", json=body, headers=headers["planner"])
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] == "reported_at"
    assert "9999" in response.json()["description"]
    for params in ({"date": "9999-12-31"}, {"date": "0"}, {"date": "20261102"}):
        response = client.get("/patrols/compliance", params=params, headers=headers["planner"])
        assert response.status_code == 422, response.text
        assert response.json()["detail"]["field"] == "date", response.text
    response = client.get("/open311/v2/requests.json", params={"start_date": "0"})
    assert response.status_code == 422 and "not the number" in response.json()["description"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/incidents", "description"),
        ("/incidents", "reporter_name"),
        ("/incidents", "reporter_phone"),
        ("/incidents/{incident}/transitions", "note"),
        ("/open311/v2/requests.json", "description"),
        ("/open311/v2/requests.json", "first_name"),
        ("/workers", "name"),
        ("/workers", "duties"),
    ],
)
def test_text_fields_have_length_limits_that_the_schema_documents(hostile, unchanged, url, field):
    client, _, headers, stored = hostile
    lon, lat = stored["point"]
    base = {
        "/incidents": {"category": "sanitation.garbage", "lon": lon, "lat": lat},
        "/incidents/{incident}/transitions": {"to": "accepted"},
        "/open311/v2/requests.json": {"service_code": "sanitation.garbage", "lat": str(lat), "long": str(lon)},
        "/workers": {"grid_code": stored["codes"][0], "work_phone": "0755-8888 1234", "name": "x"},
    }[url]
    huge = "x" * 490_000 if url == "/open311/v2/requests.json" else "长" * 50_000  # the attack's 490 KB
    sent = {**base, field: huge}
    path = url.format(incident=stored["incidents"][0])
    if url.startswith("/open311"):
        response = client.post(path, data=sent)
    else:
        response = client.post(path, json=sent, headers=headers["planner"])
    assert response.status_code in (413, 422, 400), response.text[:500]
    if response.status_code != 413:
        assert response.json()["detail"]["field"] == field, response.text[:500]
        assert huge not in response.text  # the 422 names the field, not the whole input
    # the limit is in the OpenAPI document
    schema = client.get("/openapi.json").json()
    text_ = str(schema)
    assert "'maxLength'" in text_


def test_open311_fields_over_their_length_are_refused(hostile, unchanged):
    client, _, _, stored = hostile
    lon, lat = stored["point"]
    form = {"service_code": "sanitation.garbage", "lat": str(lat), "long": str(lon), "description": "x" * 4001}
    response = client.post("/open311/v2/requests.json", data=form)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["detail"]["field"] == "description"
    body = client.get("/openapi.json").json()["paths"]["/open311/v2/requests.json"]["post"]["requestBody"]
    form_schema = body["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form_schema["properties"]["description"]["maxLength"] == 4000
