"""OGC API – Tiles: tile matrix sets, tilesets per collection and for the dataset, MVT tiles, TileJSON.

Tiles are addressed ``{z}/{y}/{x}`` (tileMatrix/tileRow/tileCol, as the standard orders
them). Each response carries an ETag made from the data versions the tile was cut
from; ``If-None-Match`` with the current one answers 304 without touching PostGIS.

Tile requests are the bulk of a map's traffic, so :class:`TileShortcut` answers them
before FastAPI routes them; the routes below stay the documented endpoints and answer
every request the shortcut passes on (see its docstring).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.access import PUBLIC, ROUTE_ROLES, Caller, Role, Who, caller, collection_role, require
from api.routes.common import NOT_MODIFIED, answering
from api.routes.features import PlanChoice, Shown, sees_drafts
from gis.errors import CommgridError, InputError
from tiles.catalogue import CATALOGUE, Collection
from tiles.layers import LABELS, Layer
from tiles.matrix import MAX_ZOOM, TMS, TMS_ID, check_tile, tile_matrix_set
from tiles.service import Tile, TileService

__all__ = ["TileShortcut", "router", "tile_answer"]

router = APIRouter(tags=["tiles"])

MVT = "application/vnd.mapbox-vector-tile"
TEMPLATE = "{tileMatrix}/{tileRow}/{tileCol}"
TmsParam = Annotated[str, Path(description="tile matrix set id", examples=[TMS_ID])]
ZParam = Annotated[int, Path(description="zoom level (tileMatrix)", ge=0, le=MAX_ZOOM)]
YParam = Annotated[int, Path(description="tile row, from the north", ge=0)]
XParam = Annotated[int, Path(description="tile column, from the west", ge=0)]
CollectionsParam = Annotated[
    str | None, Query(description="comma-separated collections (default: every one the caller may read)")
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _headers(result: Tile, private: bool) -> dict[str, str]:
    return {
        "ETag": result.etag,
        # no-cache: keep it, but ask every time; the ETag makes asking cheap and never stale
        "Cache-Control": "private, no-cache" if private else "public, no-cache",
        "Vary": "Authorization",
    }


def tile_response(result, *, private: bool) -> Response:
    """The HTTP answer for a :class:`tiles.service.Tile`-like result: 304, 204 or the MVT, with cache headers."""
    headers = {
        "ETag": result.etag,
        # no-cache: keep it, but ask every time; the ETag makes asking cheap and never stale
        "Cache-Control": "private, no-cache" if private else "public, no-cache",
        "Vary": "Authorization",
    }
    if result.not_modified:
        return Response(status_code=304, headers=headers)
    if not result.body:
        return Response(status_code=204, headers=headers)
    return Response(result.body, media_type=MVT, headers=headers)


async def tile_answer(
    service: TileService,
    layers: list[Layer],
    tile: tuple[int, int, int],
    *,
    plan: str | None,
    if_none_match: str | None,
    private: bool,
    since: int | None = None,
    district: str | None = None,
    drafts: bool = False,
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a tile request (the routes and the shortcut share it).

    ``tile`` is ``(z, y, x)`` as in the URL. 304 when ``if_none_match`` holds the current
    ETag, 204 when no feature is in the tile. ``since``: the request's ticket of the
    version probe (see :meth:`tiles.freshness.VersionProbe.current`). ``district`` narrows
    to one district; ``drafts``: the caller may name drafts and archived plans.

    Raises
    ------
    InputError
        For an address outside the tile matrix set.
    NotFoundError, DatabaseUnavailableError
        From :meth:`tiles.service.TileService.tile`.
    """
    z, y, x = tile
    at = check_tile(TMS_ID, z, x, y)
    result = await service.tile(
        layers, at, plan=plan, if_none_match=if_none_match, since=since, district=district, private=drafts
    )
    headers = _headers(result, private)
    if result.not_modified:
        return 304, headers, b""
    if not result.body:
        return 204, headers, b""
    headers["Content-Type"] = MVT
    return 200, headers, result.body


async def _serve(
    request: Request,
    layers: list[Layer],
    tile: tuple[int, int, int],
    shown: PlanChoice,
    private: bool,
):
    status, headers, body = await tile_answer(
        request.app.state.tiles,
        layers,
        tile,
        plan=shown.plan,
        if_none_match=request.headers.get("if-none-match"),
        private=private,
        district=shown.district,
        drafts=shown.drafts,
    )
    return Response(body, status_code=status, headers=headers)


def _tileset(request: Request, title: str, layers: list[Layer], tiles_path: str) -> dict:
    return {
        "title": title,
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": TMS.uri,
        "layers": [
            {
                "id": layer.id,
                "title": layer.title,
                "dataType": "vector",
                "geometryDimension": {"point": 0, "line": 1, "polygon": 2}[layer.geometry],
                "minTileMatrix": str(layer.minzoom),
                "maxTileMatrix": str(layer.maxzoom),
                "propertiesSchema": {
                    "type": "object",
                    "properties": {
                        k: {"type": "number" if t == "Number" else "string"} for k, t in layer.fields.items()
                    },
                },
            }
            for layer in layers
        ],
        "links": [
            {"rel": "self", "type": "application/json", "href": str(request.url)},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                "type": "application/json",
                "href": f"{_base(request)}/tileMatrixSets/{TMS_ID}",
            },
            {
                "rel": "item",
                "type": MVT,
                "templated": True,
                "href": f"{_base(request)}{tiles_path}/{TMS_ID}/{TEMPLATE}",
            },
        ],
    }


def _tilesets(request: Request, title: str, tiles_path: str) -> dict:
    return {
        "tilesets": [
            {
                "title": title,
                "dataType": "vector",
                "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                "tileMatrixSetURI": TMS.uri,
                "links": [
                    {"rel": "self", "type": "application/json", "href": f"{_base(request)}{tiles_path}/{TMS_ID}"},
                    {
                        "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                        "type": "application/json",
                        "href": f"{_base(request)}/tileMatrixSets/{TMS_ID}",
                    },
                ],
            }
        ],
        "links": [{"rel": "self", "type": "application/json", "href": str(request.url)}],
    }


def tilejson(request: Request, name: str, layers: list[Layer], tiles_path: str, shown: PlanChoice) -> dict:
    """A TileJSON 3.0.0 document for ``layers`` served under ``tiles_path``."""
    url = f"{_base(request)}{tiles_path}/{TMS_ID}/{{z}}/{{y}}/{{x}}"
    query = {k: v for k, v in (("plan", shown.plan), ("district", shown.district)) if v is not None}
    if query:
        url += "?" + urlencode(query)
    return {
        "tilejson": "3.0.0",
        "name": name,
        "scheme": "xyz",
        "tiles": [url],
        "minzoom": min((layer.minzoom for layer in layers), default=0),
        "maxzoom": MAX_ZOOM,
        "bounds": [-180.0, -85.0511287798066, 180.0, 85.0511287798066],
        "vector_layers": [
            {"id": layer.id, "fields": layer.fields, "minzoom": layer.minzoom, "maxzoom": layer.maxzoom}
            for layer in layers
        ],
    }


def _check_tms(tms_id: str) -> None:
    check_tile(tms_id, 0, 0, 0)


@router.get("/tileMatrixSets", operation_id="tile_matrix_sets", summary="Tile matrix sets this service uses")
def tile_matrix_sets(request: Request) -> dict:
    return {
        "tileMatrixSets": [
            {
                "id": TMS_ID,
                "title": "Google Maps Compatible for the World",
                "uri": TMS.uri,
                "links": [
                    {
                        "rel": "self",
                        "type": "application/json",
                        "href": f"{_base(request)}/tileMatrixSets/{TMS_ID}",
                    }
                ],
            }
        ]
    }


@router.get("/tileMatrixSets/{tms_id}", operation_id="tile_matrix_set", summary="One tile matrix set")
def tile_matrix_set_doc(tms_id: TmsParam) -> JSONResponse:
    _check_tms(tms_id)
    return JSONResponse(tile_matrix_set())


def _dataset_layers(who: Caller, wanted: str | None) -> list[Layer]:
    readable = who.readable(CATALOGUE)
    if wanted is None:
        return _with_labels(readable)
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    for n in names:
        if n not in CATALOGUE:
            raise InputError(f"unknown collection {n!r}; collections: {', '.join(CATALOGUE)}", field="collections")
        if n not in readable:
            require(who, collection_role(n), f"tiles of {n!r}")
    return _with_labels(names)


def _with_labels(names: list[str]) -> list[Layer]:
    layers = [CATALOGUE[n].layer for n in names]
    return layers + [LABELS[n] for n in names if n in LABELS]


@router.get("/tiles", operation_id="dataset_tilesets", summary="Tilesets of all the collections together")
def dataset_tilesets(request: Request) -> dict:
    return _tilesets(request, "commgrid: every layer the caller may read", "/tiles")


@router.get("/tiles/{tms_id}", operation_id="dataset_tileset", summary="The multi-layer tileset")
def dataset_tileset(request: Request, who: Who, tms_id: TmsParam, collections: CollectionsParam = None) -> dict:
    _check_tms(tms_id)
    return _tileset(request, "commgrid", _dataset_layers(who, collections), "/tiles")


@router.get(
    "/tiles/{tms_id}/tilejson.json",
    operation_id="dataset_tilejson",
    summary="TileJSON of the multi-layer tiles",
)
def dataset_tilejson(
    request: Request,
    who: Who,
    tms_id: TmsParam,
    shown: Shown,
    collections: CollectionsParam = None,
) -> dict:
    _check_tms(tms_id)
    return tilejson(request, "commgrid", _dataset_layers(who, collections), "/tiles", shown)


@router.get(
    "/tiles/{tms_id}/{z}/{y}/{x}",
    operation_id="dataset_tile",
    summary="One tile holding every layer the caller may read (or ?collections=)",
    **answering(MVT, others={204: {"description": "no features in this tile"}, **NOT_MODIFIED}),
)
async def dataset_tile(
    request: Request,
    who: Who,
    tms_id: TmsParam,
    z: ZParam,
    y: YParam,
    x: XParam,
    shown: Shown,
    collections: CollectionsParam = None,
) -> Response:
    _check_tms(tms_id)
    return await _serve(request, _dataset_layers(who, collections), (z, y, x), shown, private=who.role > Role.PUBLIC)


def _collection_routes(c: Collection) -> None:
    path = f"/collections/{c.id}/tiles"
    private = collection_role(c.id) > Role.PUBLIC

    def tilesets(request: Request) -> dict:
        return _tilesets(request, c.title, path)

    def tileset(request: Request, tms_id: TmsParam) -> dict:
        _check_tms(tms_id)
        return _tileset(request, c.title, [c.layer], path)

    def tilejson_doc(request: Request, tms_id: TmsParam, shown: Shown) -> dict:
        _check_tms(tms_id)
        return tilejson(request, c.id, [c.layer], path, shown)

    async def tile(
        request: Request,
        tms_id: TmsParam,
        z: ZParam,
        y: YParam,
        x: XParam,
        shown: Shown,
    ):
        _check_tms(tms_id)
        return await _serve(request, [c.layer], (z, y, x), shown, private)

    routes: list[tuple[str, Callable, str, str, dict]] = [
        (path, tilesets, "tilesets", f"Tilesets of {c.title.lower()}", {}),
        (f"{path}/{{tms_id}}", tileset, "tileset", f"The {c.title.lower()} tileset", {}),
        (f"{path}/{{tms_id}}/tilejson.json", tilejson_doc, "tilejson", f"TileJSON of {c.title.lower()}", {}),
        (
            f"{path}/{{tms_id}}/{{z}}/{{y}}/{{x}}",
            tile,
            "tile",
            f"One Mapbox Vector Tile of {c.title.lower()}",
            {
                "response_class": Response,
                "responses": {200: {"content": {MVT: {}}}, 204: {"description": "no features"}, **NOT_MODIFIED},
            },
        ),
    ]
    for route_path, endpoint, op, summary, extra in routes:
        router.add_api_route(
            route_path, endpoint, methods=["GET"], operation_id=f"{c.id}_{op}", summary=summary, **extra
        )


for _c in CATALOGUE.values():
    _collection_routes(_c)


# -- the shortcut ------------------------------------------------------------------------

_COLLECTION_TILE = re.compile(r"/collections/([^/]+)/tiles/([^/]+)/(\d{1,3})/(\d{1,10})/(\d{1,10})")
_DATASET_TILE = re.compile(r"/tiles/([^/]+)/(\d{1,3})/(\d{1,10})/(\d{1,10})")
_QUERY = {"dataset_tile": frozenset({"plan", "district", "collections"})}
_PLAN_ONLY = frozenset({"plan", "district"})


@dataclass(frozen=True)
class _TileRequest:
    operation: str  # the route's operation id, its key in ROUTE_ROLES
    collection: str | None  # None for the multi-layer tile
    tile: tuple[int, int, int]  # z, y, x
    query: dict[str, str]


def _route_path(scope: Scope) -> str:
    # as Starlette's router sees it: without the root path the app is mounted under
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path


def _tile_request(scope: Scope) -> _TileRequest | None:
    """The tile a request asks for, or ``None`` when it is not a plain tile request."""
    path = _route_path(scope)
    if m := _COLLECTION_TILE.fullmatch(path):
        collection, tms_id, *zyx = m.groups()
        if collection not in CATALOGUE:
            return None
        operation = f"{collection}_tile"
    elif m := _DATASET_TILE.fullmatch(path):
        collection, (tms_id, *zyx) = None, m.groups()
        operation = "dataset_tile"
    else:
        return None
    z, y, x = map(int, zyx)
    if tms_id != TMS_ID or z > MAX_ZOOM:
        return None  # the route's validation answers (404, 422)
    query: dict[str, str] = {}
    if scope["query_string"]:
        pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        query = dict(pairs)
        if len(query) != len(pairs) or not query.keys() <= _QUERY.get(operation, _PLAN_ONLY):
            return None  # repeated or other parameters: leave their reading to FastAPI
        if any("\x00" in value for value in query.values()):
            return None  # the route refuses it with a 400 (api.routes.common.reject_nul)
    return _TileRequest(operation, collection, (z, y, x), query)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


@dataclass(frozen=True)
class TileShortcut:
    """Pure-ASGI middleware answering tile requests before FastAPI routes them.

    Why: a cached tile costs microseconds to find, FastAPI's routing, dependency solving
    and validation several times that, so at thousands of tiles a second the framework
    is the bottleneck. The shortcut takes only a ``GET`` of a WebMercatorQuad tile that
    the caller may read, with no query parameters but ``plan`` (and ``collections`` for
    the multi-layer tile), and answers it with the same parts the routes use: the role
    from :data:`api.access.ROUTE_ROLES`, :func:`api.access.caller` for tokens and
    :func:`tile_answer`. Everything else (other paths, bad addresses, missing roles, bad
    tokens) goes on to the app, whose routes answer and explain it. Errors of the tile
    service itself (an unknown plan, the database down) go to the app's error handlers,
    so they are not tried twice.
    """

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            wanted = _tile_request(scope)
            if wanted is not None and await self._answer(wanted, scope, receive, send):
                return
        await self.app(scope, receive, send)

    async def _answer(self, wanted: _TileRequest, scope: Scope, receive: Receive, send: Send) -> bool:
        """Send the tile and return True, or return False to leave the request to the app."""
        app = scope["app"]
        # the token check and the tile then share one read of the data versions
        ticket = app.state.probe.ticket()
        needed = ROUTE_ROLES[wanted.operation]
        if _header(scope, b"authorization") is None:
            if needed > Role.PUBLIC:
                return False
            who = PUBLIC
        else:
            try:
                who = await caller(Request(scope, receive))
            except CommgridError:
                return False
            if who.role < needed:
                return False
        try:
            if wanted.collection is None:
                layers = _dataset_layers(who, wanted.query.get("collections"))
                private = who.role > Role.PUBLIC
            else:
                layers = [CATALOGUE[wanted.collection].layer]
                private = collection_role(wanted.collection) > Role.PUBLIC
        except CommgridError:
            return False
        try:
            status, headers, body = await tile_answer(
                app.state.tiles,
                layers,
                wanted.tile,
                plan=wanted.query.get("plan"),
                if_none_match=_header(scope, b"if-none-match"),
                private=private,
                since=ticket,
                district=wanted.query.get("district"),
                drafts=sees_drafts(who),
            )
        except CommgridError as exc:
            response = await _handler(app, exc)(Request(scope, receive), exc)
            await response(scope, receive, send)
            return True
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if body:
            raw.append((b"content-length", str(len(body)).encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
        return True


def _handler(app, exc: Exception) -> Callable:
    for cls in type(exc).__mro__:
        if cls in app.exception_handlers:
            return app.exception_handlers[cls]
    raise exc
