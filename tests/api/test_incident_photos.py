"""Incident photos: the reporter adds and reads them, others in no scope do not, no public view shows them."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from sqlalchemy import text
from sqlalchemy.engine import URL

from api.app import create_app
from api.settings import Settings
from gis import migrations
from gis.cluster import DATABASE
from gis.incidents.photos import MAX_PHOTOS
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer
from tests.gis.patrols import tiny


@pytest.fixture(scope="module")
def photos_app(create_database: Callable[..., URL]) -> tuple[TestClient, URL, dict]:
    """The tiny district; an analyst and grid workers gw1, gw2 (not linked: they reach what they reported)."""
    url = create_database("incident_photos_api", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    with begin(engine) as conn:
        tiny.make_district(conn)
        headers = {"analyst": bearer(add_user(conn, "analyst", role="analyst"))}
        headers |= {name: bearer(add_user(conn, name, role="grid_worker")) for name in ("gw1", "gw2")}
    engine.dispose()
    # public views without delay or minimum count, so a public incident would show at once
    settings = Settings(
        database_url=url.render_as_string(hide_password=False),
        incident_public_delay_hours=0,
        incident_public_min_count=1,
    )
    with TestClient(create_app(settings)) as client:
        yield client, url, headers


def phone_jpeg(size=(640, 480)) -> bytes:
    """A JPEG as phones write them: EXIF with the maker and the place it was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (31, 14, 0)})
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, format="JPEG", exif=exif)
    assert b"PhoneMaker" in out.getvalue()
    return out.getvalue()


def report(client: TestClient, who: dict, public: bool = True) -> int:
    lon, lat = tiny.lonlat([(100, 100)])[0]
    made = client.post(
        "/incidents",
        json={"category": "sanitation.garbage", "lon": lon, "lat": lat, "public": public, "description": "垃圾堆放"},
        headers=who,
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


def test_the_reporter_adds_a_photo_and_reads_it_back_without_exif(photos_app):
    client, url, headers = photos_app
    new = report(client, headers["gw1"])
    added = client.post(
        f"/incidents/{new}/photos", content=phone_jpeg(), headers={**headers["gw1"], "content-type": "image/jpeg"}
    )
    assert added.status_code == 201, added.text
    photo = added.json()
    assert added.headers["location"] == photo["url"] == f"/incidents/{new}/photos/{photo['id']}"
    assert max(photo["width"], photo["height"]) <= 1600  # capped in pixels (gis.incidents.photos.PHOTO_BOX)
    detail = client.get(f"/incidents/{new}", headers=headers["gw1"]).json()
    assert [p["id"] for p in detail["photos"]] == [photo["id"]]
    got = client.get(photo["url"], headers=headers["gw1"])
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.headers["cache-control"] == "private, no-store"
    image = Image.open(io.BytesIO(got.content))
    assert image.format == "JPEG" and not image.getexif() and b"PhoneMaker" not in got.content
    # the office reads it too, and the read is audited as personal data
    assert client.get(photo["url"], headers=headers["analyst"]).status_code == 200
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT added_by_user_id IS NOT NULL, jpeg FROM incident_photo WHERE id = :p"),
                              {"p": photo["id"]}).one()  # fmt: skip
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'personal.read' AND target = :path"),
            {"path": photo["url"]},
        ).scalar_one()
    engine.dispose()
    assert stored[0] and stored[1] == got.content
    assert audited >= 1


def test_others_outside_the_scope_and_the_public_get_nothing(photos_app):
    client, _, headers = photos_app
    new = report(client, headers["gw1"])
    jpeg = phone_jpeg()
    photo = client.post(
        f"/incidents/{new}/photos", content=jpeg, headers={**headers["gw1"], "content-type": "image/jpeg"}
    ).json()
    other = client.post(
        f"/incidents/{new}/photos", content=jpeg, headers={**headers["gw2"], "content-type": "image/jpeg"}
    )
    assert other.status_code == 403 and "outside your scope" in other.json()["description"]
    assert client.get(photo["url"], headers=headers["gw2"]).status_code == 403
    assert client.get(photo["url"]).status_code == 401
    assert (
        client.post(f"/incidents/{new}/photos", content=jpeg, headers={"content-type": "image/jpeg"}).status_code == 401
    )
    assert client.get(f"/incidents/{new}/photos/{photo['id'] + 1000}", headers=headers["gw1"]).status_code == 404
    assert (
        client.post(
            "/incidents/999999/photos", content=jpeg, headers={**headers["analyst"], "content-type": "image/jpeg"}
        ).status_code
        == 404
    )


def test_open311_views_show_no_photos(photos_app):
    client, _, headers = photos_app
    new = report(client, headers["analyst"], public=True)
    client.post(
        f"/incidents/{new}/photos", content=phone_jpeg(), headers={**headers["analyst"], "content-type": "image/jpeg"}
    )
    listed = client.get("/open311/v2/requests.json", params={"service_request_id": str(new)})
    assert listed.status_code == 200 and [r["service_request_id"] for r in listed.json()] == [str(new)]
    assert "photo" not in listed.text and "/photos/" not in listed.text
    one = client.get(f"/open311/v2/requests/{new}.json")
    assert one.status_code in (200, 404) and "photo" not in one.text


def test_a_body_that_is_no_image_names_the_field(photos_app):
    client, _, headers = photos_app
    new = report(client, headers["gw1"])
    url = f"/incidents/{new}/photos"
    bad = client.post(url, content=b"not a picture", headers={**headers["gw1"], "content-type": "image/jpeg"})
    assert bad.status_code == 400, bad.text
    assert bad.json()["detail"]["field"] == "photo" and "cannot be read as an image" in bad.json()["description"]
    kind = client.post(url, content=b"%PDF-1.4", headers={**headers["gw1"], "content-type": "application/pdf"})
    assert kind.status_code == 400 and kind.json()["detail"]["field"] == "photo"
    assert "image/jpeg" in kind.json()["description"]
    assert client.get(f"/incidents/{new}", headers=headers["gw1"]).json()["photos"] == []


def test_an_incident_keeps_at_most_its_photo_limit(photos_app):
    client, _, headers = photos_app
    new = report(client, headers["gw1"])
    png = io.BytesIO()
    Image.new("RGBA", (300, 200), (0, 120, 200, 255)).save(png, format="PNG")
    for _ in range(MAX_PHOTOS):
        added = client.post(
            f"/incidents/{new}/photos", content=png.getvalue(), headers={**headers["gw1"], "content-type": "image/png"}
        )
        assert added.status_code == 201, added.text
    refused = client.post(
        f"/incidents/{new}/photos", content=png.getvalue(), headers={**headers["gw1"], "content-type": "image/png"}
    )
    assert refused.status_code == 409
    assert f"already has {MAX_PHOTOS} photos" in refused.json()["description"]
    assert len(client.get(f"/incidents/{new}", headers=headers["gw1"]).json()["photos"]) == MAX_PHOTOS
