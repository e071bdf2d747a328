"""Features of the public collections as GeoJSON (OGC API – Features items)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.dependencies import BBox, Conn
from gis.errors import InputError
from gis.store.features import (
    FeaturePage,
    community_feature,
    community_features,
    grid_feature,
    grid_features,
)

router = APIRouter(tags=["features"])


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


@dataclass(frozen=True)
class Collection:
    """A public collection: how to describe it, page through it and fetch one feature."""

    id: str
    title: str
    description: str
    page: Callable[..., FeaturePage]  # (conn, *, plan, bbox, limit, offset)
    feature: Callable[..., dict]  # (conn, feature_id, *, plan)


COLLECTIONS = {
    c.id: c
    for c in (
        Collection(
            "grids",
            "Grids",
            "Grid polygons of the published plan (?plan=NAME for another): code, community, households, "
            "residents and status.",
            grid_features,
            grid_feature,
        ),
        Collection(
            "communities",
            "Communities",
            "Communities (社区) of the published plan's district: id, name and admin code.",
            community_features,
            community_feature,
        ),
    )
}


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


def _items_route(c: Collection) -> Callable[..., GeoJSONResponse]:
    def items(
        request: Request,
        conn: Conn,
        bbox: BBox,
        plan: PlanParam = None,
        limit: LimitParam = None,
        offset: OffsetParam = 0,
    ) -> GeoJSONResponse:
        size = _page_size(request, limit)
        return _collection(request, c.page(conn, plan=plan, bbox=bbox, limit=size, offset=offset), size, offset)

    return items


# one path per collection, so the OpenAPI document names each; the generic
# /collections/{collection_id}/items in collections.py answers 404 for the rest
for _c in COLLECTIONS.values():
    router.add_api_route(
        f"/collections/{_c.id}/items",
        _items_route(_c),
        methods=["GET"],
        response_class=GeoJSONResponse,
        operation_id=f"{_c.id}_items",
        summary=f"{_c.title} as a GeoJSON FeatureCollection (published plan, or ?plan=NAME)",
    )
