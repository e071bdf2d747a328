"""Grid features of a plan as GeoJSON (the start of OGC API – Features)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.dependencies import BBox, Conn
from gis.errors import InputError
from gis.store.features import FeaturePage, community_features, grid_features

router = APIRouter(tags=["features"])


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


def _collection(request: Request, page: FeaturePage, limit: int, offset: int) -> GeoJSONResponse:
    features = [{**f, "geometry": json.loads(f["geometry"])} for f in page.features]
    links = [{"rel": "self", "type": "application/geo+json", "href": str(request.url)}]
    if offset + len(features) < page.number_matched:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"rel": "next", "type": "application/geo+json", "href": str(nxt)})
    if offset > 0:
        prev = request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append({"rel": "prev", "type": "application/geo+json", "href": str(prev)})
    body = {
        "type": "FeatureCollection",
        "plan": page.plan,
        "numberMatched": page.number_matched,
        "numberReturned": len(features),
        "features": features,
        "links": links,
    }
    return GeoJSONResponse(body)


def _page_size(request: Request, limit: int | None) -> int:
    settings = request.app.state.settings
    limit = settings.items_limit if limit is None else limit
    if limit > settings.items_limit_max:
        raise InputError(f"limit may be at most {settings.items_limit_max}, got {limit}", field="limit")
    return limit


PlanParam = Annotated[str | None, Query(description="plan name; the published plan when absent")]
LimitParam = Annotated[int | None, Query(ge=1, description="page size")]
OffsetParam = Annotated[int, Query(ge=0)]


@router.get(
    "/collections/grids/items",
    response_class=GeoJSONResponse,
    operation_id="grids_items",
    summary="Grids of the published plan (or ?plan=NAME) as a GeoJSON FeatureCollection",
)
def grid_items(
    request: Request,
    conn: Conn,
    bbox: BBox,
    plan: PlanParam = None,
    limit: LimitParam = None,
    offset: OffsetParam = 0,
) -> GeoJSONResponse:
    size = _page_size(request, limit)
    return _collection(request, grid_features(conn, plan=plan, bbox=bbox, limit=size, offset=offset), size, offset)


@router.get(
    "/collections/communities/items",
    response_class=GeoJSONResponse,
    operation_id="communities_items",
    summary="Communities of the published plan's district (or ?plan=NAME) as a GeoJSON FeatureCollection",
)
def community_items(
    request: Request,
    conn: Conn,
    bbox: BBox,
    plan: PlanParam = None,
    limit: LimitParam = None,
    offset: OffsetParam = 0,
) -> GeoJSONResponse:
    size = _page_size(request, limit)
    page = community_features(conn, plan=plan, bbox=bbox, limit=size, offset=offset)
    return _collection(request, page, size, offset)
