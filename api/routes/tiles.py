"""OGC API – Tiles: tile matrix sets, tilesets per collection and for the dataset, MVT tiles, TileJSON.

Tiles are addressed ``{z}/{y}/{x}`` (tileMatrix/tileRow/tileCol, as the standard orders
them). Each response carries an ETag made from the data versions the tile was cut
from; ``If-None-Match`` with the current one answers 304 without touching PostGIS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from api.access import COLLECTION_ROLES, Caller, Role, caller, require
from api.routes.features import COLLECTIONS, Collection, PlanParam
from gis.errors import InputError
from tiles.layers import LABELS, Layer
from tiles.matrix import MAX_ZOOM, TMS, TMS_ID, check_tile, tile_matrix_set
from tiles.service import TileService

router = APIRouter(tags=["tiles"])

MVT = "application/vnd.mapbox-vector-tile"
TEMPLATE = "{tileMatrix}/{tileRow}/{tileCol}"
Who = Annotated[Caller, Depends(caller)]
TmsParam = Annotated[str, Path(description="tile matrix set id", examples=[TMS_ID])]
ZParam = Annotated[int, Path(description="zoom level (tileMatrix)", ge=0, le=MAX_ZOOM)]
YParam = Annotated[int, Path(description="tile row, from the north", ge=0)]
XParam = Annotated[int, Path(description="tile column, from the west", ge=0)]
CollectionsParam = Annotated[
    str | None, Query(description="comma-separated collections (default: every one the caller may read)")
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _serve(request: Request, layers: list[Layer], z: int, y: int, x: int, plan: str | None, private: bool):
    service: TileService = request.app.state.tiles
    tile = check_tile(TMS_ID, z, x, y)
    result = await service.tile(layers, tile, plan=plan, if_none_match=request.headers.get("if-none-match"))
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


def tilejson(request: Request, name: str, layers: list[Layer], tiles_path: str, plan: str | None) -> dict:
    """A TileJSON 3.0.0 document for ``layers`` served under ``tiles_path``."""
    url = f"{_base(request)}{tiles_path}/{TMS_ID}/{{z}}/{{y}}/{{x}}"
    if plan is not None:
        url += f"?plan={plan}"
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
    readable = who.readable(COLLECTIONS)
    if wanted is None:
        return _with_labels(readable)
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    for n in names:
        if n not in COLLECTIONS:
            raise InputError(f"unknown collection {n!r}; collections: {', '.join(COLLECTIONS)}", field="collections")
        if n not in readable:
            require(who, COLLECTION_ROLES[n], f"tiles of {n!r}")
    return _with_labels(names)


def _with_labels(names: list[str]) -> list[Layer]:
    layers = [COLLECTIONS[n].layer for n in names]
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
    request: Request, who: Who, tms_id: TmsParam, plan: PlanParam = None, collections: CollectionsParam = None
) -> dict:
    _check_tms(tms_id)
    return tilejson(request, "commgrid", _dataset_layers(who, collections), "/tiles", plan)


@router.get(
    "/tiles/{tms_id}/{z}/{y}/{x}",
    operation_id="dataset_tile",
    summary="One tile holding every layer the caller may read (or ?collections=)",
    response_class=Response,
    responses={200: {"content": {MVT: {}}}, 204: {"description": "no features in this tile"}, 304: {}},
)
async def dataset_tile(
    request: Request,
    who: Who,
    tms_id: TmsParam,
    z: ZParam,
    y: YParam,
    x: XParam,
    plan: PlanParam = None,
    collections: CollectionsParam = None,
) -> Response:
    _check_tms(tms_id)
    layers = _dataset_layers(who, collections)
    return await _serve(request, layers, z, y, x, plan, private=who.role > Role.PUBLIC)


def _collection_routes(c: Collection) -> None:
    path = f"/collections/{c.id}/tiles"
    private = COLLECTION_ROLES[c.id] > Role.PUBLIC

    def tilesets(request: Request) -> dict:
        return _tilesets(request, c.title, path)

    def tileset(request: Request, tms_id: TmsParam) -> dict:
        _check_tms(tms_id)
        return _tileset(request, c.title, [c.layer], path)

    def tilejson_doc(request: Request, tms_id: TmsParam, plan: PlanParam = None) -> dict:
        _check_tms(tms_id)
        return tilejson(request, c.id, [c.layer], path, plan)

    async def tile(request: Request, tms_id: TmsParam, z: ZParam, y: YParam, x: XParam, plan: PlanParam = None):
        _check_tms(tms_id)
        return await _serve(request, [c.layer], z, y, x, plan, private)

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
                "responses": {200: {"content": {MVT: {}}}, 204: {"description": "no features"}, 304: {}},
            },
        ),
    ]
    for route_path, endpoint, op, summary, extra in routes:
        router.add_api_route(
            route_path, endpoint, methods=["GET"], operation_id=f"{c.id}_{op}", summary=summary, **extra
        )


for _c in COLLECTIONS.values():
    _collection_routes(_c)
