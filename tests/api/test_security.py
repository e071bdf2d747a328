"""Request size limits (413), rate limits on anonymous callers (429, tiles included) and CORS."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from api.app import create_app
from api.limits import TokenBuckets, client_key
from api.settings import Settings
from tests.api.conftest import bearer

TILE = "/collections/grids/tiles/WebMercatorQuad/0/0/0"  # answered by TileShortcut (204: no grids at z0)
SERVED = (200, 204)


def app_client(api_db: URL, **settings) -> Iterator[TestClient]:
    url = api_db.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(database_url=url, **settings))) as client:
        yield client


@pytest.fixture(scope="module")
def limited(api_db: URL) -> Iterator[TestClient]:
    """Bursts of 3, refilled at one request in 1,000 s: nothing refills while the tests run."""
    yield from app_client(api_db, rate_limit_per_second=0.001, rate_limit_burst=3)


@pytest.fixture(scope="module")
def small_bodies(api_db: URL) -> Iterator[TestClient]:
    yield from app_client(api_db, max_body_bytes=1000, max_upload_bytes=5000)


# -- rate limits -------------------------------------------------------------------------------


def test_an_anonymous_client_beyond_its_burst_gets_429_also_for_tiles(limited, tokens):
    assert all(limited.get(p).status_code in SERVED for p in ("/", TILE, "/conformance"))
    refused = limited.get(TILE)
    assert refused.status_code == 429
    assert 900 <= int(refused.headers["retry-after"]) <= 1000
    assert refused.json()["code"] == "TooManyRequestsError"
    assert "too many requests from testclient" in refused.json()["description"]
    # a user's token lifts the limit; a made-up one does not
    assert limited.get(TILE, headers=bearer(tokens["analyst"])).status_code in SERVED
    assert limited.get("/", headers=bearer("made-up")).status_code == 429


def test_the_bucket_refills_at_the_rate_and_says_when():
    now = [0.0]
    buckets = TokenBuckets(rate=2, burst=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a"), buckets.take("a")] == [0.0, 0.0, 0.5]
    assert buckets.take("b") == 0.0  # per key
    now[0] = 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") == 0.5


def test_idle_buckets_are_forgotten_when_too_many_are_kept():
    now = [0.0]
    buckets = TokenBuckets(rate=1, burst=1, clock=lambda: now[0], max_keys=2)
    buckets.take("a")
    buckets.take("b")
    now[0] = 10.0  # both full again
    buckets.take("c")
    assert set(buckets._buckets) == {"c"}


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_clients_are_limited_by_address_and_ipv6_hosts_by_their_64(host, key):
    assert client_key({"client": None if host is None else (host, 1234)}) == key


def test_rate_limits_can_be_turned_off(api_db):
    for client in app_client(api_db, rate_limit_per_second=0, rate_limit_burst=1):
        assert {client.get(TILE).status_code for _ in range(5)} <= set(SERVED)


# -- request bodies ----------------------------------------------------------------------------


def test_a_body_over_the_limit_gets_413_naming_the_limit(small_bodies, tokens):
    r = small_bodies.patch("/plans/v0/assignment", content=b"x" * 1001, headers=bearer(tokens["planner"]))
    assert r.status_code == 413
    assert r.json()["code"] == "RequestTooLargeError"
    assert "PATCH /plans/v0/assignment has 1,001 bytes; at most 1,000 bytes" in r.json()["description"]


def test_routes_taking_files_allow_the_upload_limit(small_bodies, tokens):
    body = json.dumps({"grid_code": "nope", "name": "x", "work_phone": "0755-1234 5678", "duties": "d" * 1500})
    assert 1000 < len(body) < 5000
    answered = small_bodies.post("/workers", content=body, headers=bearer(tokens["planner"]))
    assert answered.status_code not in (413, 500)  # the route judged it
    too_big = small_bodies.post("/workers", content=b"x" * 5001, headers=bearer(tokens["planner"]))
    assert too_big.status_code == 413 and "at most 5,000 bytes" in too_big.text


def test_a_body_without_length_is_cut_off_at_the_limit(small_bodies, tokens):
    def chunks() -> Iterator[bytes]:
        yield from (b"y" * 400 for _ in range(5))

    r = small_bodies.patch("/plans/v0/assignment", content=chunks(), headers=bearer(tokens["planner"]))
    assert r.status_code == 413 and "more than 1,000 bytes" in r.json()["description"]
    small = small_bodies.patch("/plans/v0/assignment", content=iter([b"{", b"}"]), headers=bearer(tokens["planner"]))
    assert small.status_code == 422  # under the limit: the body reaches the route whole


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(live_url):
    """The server answers on the headers alone: the 10 MiB body is never sent."""
    parts = urlsplit(live_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"POST /open311/v2/requests.json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10485760\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


# -- CORS --------------------------------------------------------------------------------------


def test_cors_is_off_unless_origins_are_configured(client):
    r = client.get("/", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers


def test_configured_origins_may_call_the_api_from_a_browser(api_db, monkeypatch):
    monkeypatch.setenv("COMMGRID_CORS_ORIGINS", "https://map.example, https://city.example")
    monkeypatch.setenv("COMMGRID_CORS_METHODS", "GET")
    for client in app_client(api_db):
        pre = client.options(
            "/collections/grids/items",
            headers={
                "Origin": "https://city.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://city.example"
        assert "authorization" in pre.headers["access-control-allow-headers"].lower()
        tile = client.get(TILE, headers={"Origin": "https://map.example"})
        assert tile.headers["access-control-allow-origin"] == "https://map.example"
        assert "etag" in tile.headers["access-control-expose-headers"].lower()
        assert "access-control-allow-origin" not in client.get("/", headers={"Origin": "https://evil.example"}).headers
        refused = client.options(
            "/plans", headers={"Origin": "https://map.example", "Access-Control-Request-Method": "POST"}
        )
        assert refused.status_code == 400
