"""OGC API – Features Part 1 Core: conformance and the collections the caller may read."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.access import Who, collection_role, require
from api.dependencies import Conn
from api.routes.features import GeoJSONResponse, Shown
from gis.errors import NotFoundError
from gis.store.features import plan_extent
from tiles.catalogue import CATALOGUE, Collection

router = APIRouter(tags=["features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
]


def _collection(collection_id: str) -> Collection:
    if collection_id not in CATALOGUE:
        raise NotFoundError(f"no collection {collection_id!r}; collections: {', '.join(CATALOGUE)}")
    return CATALOGUE[collection_id]


def _describe(request: Request, c: Collection, bbox: list[float] | None) -> dict:
    base = str(request.base_url).rstrip("/")
    here = f"{base}/collections/{c.id}"
    out = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            {"rel": "self", "type": "application/json", "href": here},
            {"rel": "items", "type": "application/geo+json", "href": f"{here}/items"},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "href": f"{here}/queryables",
            },
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                "type": "application/json",
                "href": f"{here}/tiles",
            },
        ],
    }
    if bbox is not None:
        out["extent"] = {"spatial": {"bbox": [bbox], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    return out


@router.get("/conformance", operation_id="conformance", summary="Conformance classes this service implements")
def conformance() -> dict:
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", operation_id="collections", summary="The collections the caller may read")
def collections(request: Request, conn: Conn, who: Who, shown: Shown) -> dict:
    _, bbox = plan_extent(conn, plan=shown.plan, district=shown.district, private=shown.drafts)
    base = str(request.base_url).rstrip("/")
    return {
        "links": [{"rel": "self", "type": "application/json", "href": f"{base}/collections"}],
        "collections": [_describe(request, CATALOGUE[c], bbox) for c in who.readable(CATALOGUE)],
    }


@router.get("/collections/{collection_id}", operation_id="collection", summary="One collection")
def collection(request: Request, conn: Conn, who: Who, collection_id: str, shown: Shown) -> dict:
    c = _collection(collection_id)
    require(who, collection_role(c.id), f"collection {c.id!r}")
    _, bbox = plan_extent(conn, plan=shown.plan, district=shown.district, private=shown.drafts)
    return _describe(request, c, bbox)


# Known collections have their own routes, registered before these; what reaches these is unknown.
@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSONResponse,
    operation_id="unknown_collection_items",
    include_in_schema=False,
)
def unknown_items(collection_id: str) -> GeoJSONResponse:
    _collection(collection_id)
    raise NotFoundError(f"no collection {collection_id!r}")


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=GeoJSONResponse,
    operation_id="unknown_collection_feature",
    include_in_schema=False,
)
def unknown_feature(collection_id: str, feature_id: str) -> GeoJSONResponse:
    _collection(collection_id)
    raise NotFoundError(f"no collection {collection_id!r}")
