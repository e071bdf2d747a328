"""The tile shortcut answers exactly as the tile routes do, and leaves them everything else."""

from __future__ import annotations

import pytest

from api.routes.tiles import _tile_request
from tests.api.conftest import bearer
from tests.api.test_tiles import tiles_over

# A query parameter the shortcut does not take, and FastAPI ignores: the request goes to the route.
TO_THE_ROUTE = "f=mvt"


def scope(path: str, query: str = "") -> dict:
    return {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": []}


@pytest.mark.parametrize(
    ("path", "query", "taken"),
    [
        ("/collections/grids/tiles/WebMercatorQuad/14/6000/13000", "", True),
        ("/collections/incidents/tiles/WebMercatorQuad/14/6000/13000", "plan=a", True),
        ("/tiles/WebMercatorQuad/14/6000/13000", "collections=grids,units&plan=a", True),
        ("/collections/grids/tiles/WebMercatorQuad/14/6000/13000", TO_THE_ROUTE, False),
        ("/collections/grids/tiles/WebMercatorQuad/14/6000/13000", "plan=a&plan=b", False),
        ("/collections/grids/tiles/WebMercatorQuad/14/6000/13000", "collections=grids", False),
        ("/collections/grids/tiles/WebMercatorQuad/23/0/0", "", False),
        ("/collections/grids/tiles/WorldCRS84Quad/3/0/0", "", False),
        ("/collections/nope/tiles/WebMercatorQuad/3/0/0", "", False),
        ("/collections/grids/tiles/WebMercatorQuad/tilejson.json", "", False),
        ("/collections/grids/items", "", False),
    ],
)
def test_the_shortcut_takes_plain_tile_requests_only(path, query, taken):
    assert (_tile_request(scope(path, query)) is not None) == taken


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/collections/grids/tiles/WebMercatorQuad/{z}/{y}/{x}", None),
        ("/collections/grids/tiles/WebMercatorQuad/{z}/{y}/{x}", "analyst"),
        ("/collections/incidents/tiles/WebMercatorQuad/{z}/{y}/{x}", "analyst"),
        ("/collections/units/tiles/WebMercatorQuad/{z}/{y}/{x}", "planner"),
        ("/tiles/WebMercatorQuad/{z}/{y}/{x}", None),
        ("/tiles/WebMercatorQuad/{z}/{y}/{x}", "planner"),
        ("/tiles/WebMercatorQuad/{z}/{y}/{x}?collections=grids", "admin"),
        ("/collections/incidents/tiles/WebMercatorQuad/{z}/{y}/{x}", None),  # 401 from the route
        ("/collections/grids/tiles/WebMercatorQuad/{z}/{y}/{x}?plan=nope", None),  # 404
        ("/collections/grids/tiles/WebMercatorQuad/3/8/0", None),  # 400: row outside the matrix
    ],
)
def test_the_shortcut_answers_as_the_route(client, tokens, path, role):
    t = tiles_over(client, 14)[0]
    url = path.format(z=t.z, y=t.y, x=t.x)
    headers = bearer(tokens[role]) if role else {}
    shortcut = client.get(url, headers=headers)
    route = client.get(url + ("&" if "?" in url else "?") + TO_THE_ROUTE, headers=headers)
    assert shortcut.status_code == route.status_code, shortcut.text
    assert shortcut.content == route.content
    for name in ("etag", "cache-control", "vary", "content-type", "content-length", "www-authenticate"):
        assert shortcut.headers.get(name) == route.headers.get(name), name
    if shortcut.status_code == 200:
        again = client.get(url, headers={**headers, "If-None-Match": shortcut.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
