"""OGC API – Features Part 1 Core: conformance, the collections and single features."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request

from api.dependencies import Conn
from api.routes.features import COLLECTIONS, Collection, GeoJSONResponse, PlanParam
from gis.errors import NotFoundError
from gis.store.features import plan_extent

router = APIRouter(tags=["features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]


def _collection(collection_id: str) -> Collection:
    if collection_id not in COLLECTIONS:
        raise NotFoundError(f"no collection {collection_id!r}; collections: {', '.join(COLLECTIONS)}")
    return COLLECTIONS[collection_id]


def _describe(request: Request, c: Collection, bbox: list[float] | None) -> dict:
    base = str(request.base_url).rstrip("/")
    out = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/collections/{c.id}"},
            {"rel": "items", "type": "application/geo+json", "href": f"{base}/collections/{c.id}/items"},
        ],
    }
    if bbox is not None:
        out["extent"] = {"spatial": {"bbox": [bbox], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    return out


@router.get("/conformance", operation_id="conformance", summary="Conformance classes this service implements")
def conformance() -> dict:
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", operation_id="collections", summary="The public collections")
def collections(request: Request, conn: Conn, plan: PlanParam = None) -> dict:
    _, bbox = plan_extent(conn, plan=plan)
    base = str(request.base_url).rstrip("/")
    return {
        "links": [{"rel": "self", "type": "application/json", "href": f"{base}/collections"}],
        "collections": [_describe(request, c, bbox) for c in COLLECTIONS.values()],
    }


@router.get("/collections/{collection_id}", operation_id="collection", summary="One collection")
def collection(request: Request, conn: Conn, collection_id: str, plan: PlanParam = None) -> dict:
    c = _collection(collection_id)
    _, bbox = plan_extent(conn, plan=plan)
    return _describe(request, c, bbox)


@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSONResponse,
    operation_id="unknown_collection_items",
    include_in_schema=False,
)
def unknown_items(collection_id: str) -> GeoJSONResponse:
    _collection(collection_id)  # known collections have their own routes, registered first
    raise NotFoundError(f"no collection {collection_id!r}")


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=GeoJSONResponse,
    operation_id="feature",
    summary="One feature by id (a grid's code, a community's id)",
)
def feature(request: Request, conn: Conn, collection_id: str, feature_id: str, plan: PlanParam = None):
    c = _collection(collection_id)
    f = c.feature(conn, feature_id, plan=plan)
    base = str(request.base_url).rstrip("/")
    f = {**f, "geometry": json.loads(f["geometry"])}
    f["links"] = [
        {"rel": "self", "type": "application/geo+json", "href": str(request.url)},
        {"rel": "collection", "type": "application/json", "href": f"{base}/collections/{c.id}"},
    ]
    return GeoJSONResponse(f)
