"""Grid features of a plan as GeoJSON (the start of OGC API – Features)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.dependencies import BBox, Conn
from gis.errors import InputError
from gis.store.features import grid_features

router = APIRouter(tags=["features"])


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


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
    plan: Annotated[str | None, Query(description="plan name; the published plan when absent")] = None,
    limit: Annotated[int | None, Query(ge=1, description="page size")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> GeoJSONResponse:
    settings = request.app.state.settings
    limit = settings.items_limit if limit is None else limit
    if limit > settings.items_limit_max:
        raise InputError(f"limit may be at most {settings.items_limit_max}, got {limit}", field="limit")
    page = grid_features(conn, plan=plan, bbox=bbox, limit=limit, offset=offset)
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
