"""Open311 GeoReport v2: services, posting requests, and a public view without reporters or points."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from api.app import create_app
from api.settings import Settings
from gis import clock, migrations
from gis.cluster import DATABASE
from gis.incidents.store import create_incident, read_incident
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer
from tests.gis.patrols import tiny

TWO_DAYS_AGO = clock.now() - timedelta(days=2)


@pytest.fixture(scope="module")
def open311(create_database: Callable[..., URL]) -> tuple[TestClient, URL, dict]:
    """The tiny district: three public reports in grid A, one in B, a private dispute in A, two days ago."""
    url = create_database("incidents_open311", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    with begin(engine) as conn:
        tiny.make_district(conn)
        for category, xy in [("sanitation.garbage", (100, 100))] * 3 + [
            ("sanitation.garbage", (600, 100)),
            ("dispute.neighbour", (120, 120)),
        ]:
            lon, lat = tiny.lonlat([xy])[0]
            create_incident(
                conn,
                category=category,
                lon=lon,
                lat=lat,
                actor="clerk",
                reporter_name="李先生",
                reporter_phone="139",
                reported_at=TWO_DAYS_AGO,
            )
        headers = bearer(add_user(conn, "analyst", role="analyst"))
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as client:
        yield client, url, headers


def test_services_are_the_categories_in_either_language(open311):
    client = open311[0]
    services = client.get("/open311/v2/services.json").json()
    garbage = next(s for s in services if s["service_code"] == "sanitation.garbage")
    assert garbage == {
        "service_code": "sanitation.garbage",
        "service_name": "Piled garbage",
        "description": "垃圾堆放",
        "metadata": False,
        "type": "realtime",
        "keywords": "",
        "group": "Sanitation",
    }
    zh = client.get("/open311/v2/services.json", params={"lang": "zh"}).json()
    assert next(s for s in zh if s["service_code"] == "sanitation.garbage")["service_name"] == "垃圾堆放"


def test_the_public_view_shows_public_grids_of_at_least_three_without_reporters(open311):
    client = open311[0]
    shown = client.get("/open311/v2/requests.json").json()
    assert len(shown) == 3 and {r["address"] for r in shown} == {"grid A"}  # B holds one: suppressed
    assert {r["service_code"] for r in shown} == {"sanitation.garbage"}  # disputes are not public
    assert all(r["description"] is None and r["status"] == "open" for r in shown)
    assert len({(r["lat"], r["long"]) for r in shown}) == 1  # the grid's point, not the incidents'
    text = client.get("/open311/v2/requests.json").text
    assert "李先生" not in text and "139" not in text
    one = client.get("/open311/v2/requests.json", params={"service_request_id": shown[0]["service_request_id"]})
    assert [r["service_request_id"] for r in one.json()] == [shown[0]["service_request_id"]]
    assert client.get("/open311/v2/requests.json", params={"status": "closed"}).json() == []


def test_anyone_may_post_a_request_form_encoded_or_as_json(open311):
    client, url, _ = open311
    lon, lat = tiny.lonlat([(500, 300)])[0]
    form = {"service_code": "street_order.parking", "lat": lat, "long": lon, "first_name": "Li", "phone": "137"}
    posted = client.post("/open311/v2/requests.json", data=form)
    assert posted.status_code == 201, posted.text
    new = int(posted.json()[0]["service_request_id"])
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = read_incident(conn, new)
    engine.dispose()
    assert (stored["grid_code"], stored["source"], stored["reporter"]) == (
        "B",
        "open311",
        {"name": "Li", "phone": "137"},
    )
    assert client.post("/open311/v2/requests.json", json={**form, "service_code": "x"}).status_code == 400
    missing = client.post("/open311/v2/requests.json", json={"service_code": "street_order.parking", "lat": lat})
    assert missing.status_code == 400 and "'long' is missing" in missing.json()["description"]
    # the new request is not shown before the publication delay
    assert str(new) not in {r["service_request_id"] for r in client.get("/open311/v2/requests.json").json()}
