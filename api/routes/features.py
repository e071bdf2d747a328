"""OGC API – Features: items, single features and queryables of each collection.

Every collection gets its own routes (``/collections/grids/items`` ...), so the OpenAPI
document names each and :data:`api.access.ROUTE_ROLES` can give each its role.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from api.access import Caller, Role, Who
from api.dependencies import BBox, Conn
from api.routes.common import MAX_ID
from gis import clock
from gis.errors import InputError
from gis.store.features import FeaturePage, TimeFilter, feature, features
from tiles.catalogue import CATALOGUE, Collection

__all__ = ["GeoJSONResponse", "PlanChoice", "Shown", "parse_datetime", "sees_drafts"]

router = APIRouter(tags=["features"])


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


class SchemaJSONResponse(JSONResponse):
    media_type = "application/schema+json"


RESERVED = {"bbox", "limit", "offset", "plan", "district", "datetime", "f"}


def sees_drafts(who: Caller) -> bool:
    """Whether the caller may name drafts and archived plans: planners (and admins) only."""
    return who.role >= Role.PLANNER


def parse_datetime(value: str | None) -> TimeFilter | None:
    """An RFC 3339 instant or ``start/end`` interval (``..`` or empty for an open end).

    Times without a zone are taken as UTC; a bare date means its midnight.
    """
    if value is None:
        return None

    def one(text: str) -> datetime | None:
        text = text.strip()
        if text in ("", ".."):
            return None
        try:
            t = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(
                f"datetime {text!r} is not RFC 3339 (e.g. 2026-01-31T08:00:00Z or 2026-01-31)", field="datetime"
            ) from None
        return t if t.tzinfo is not None else t.replace(tzinfo=UTC)

    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = one(start_text), one(end_text)
        if start is None and end is None:
            raise InputError("datetime interval '../..' has no end at all; give at least one", field="datetime")
        if start is not None and end is not None and start > end:
            raise InputError(f"datetime interval {value!r} ends before it starts", field="datetime")
        return TimeFilter(start, end)
    t = one(value)
    if t is None:
        raise InputError("datetime needs an instant or an interval", field="datetime")
    return TimeFilter(t, t)


def _body(request: Request, page: FeaturePage, limit: int, offset: int) -> dict:
    feats = [{**f, "geometry": json.loads(f["geometry"])} for f in page.features]
    links = [{"rel": "self", "type": "application/geo+json", "href": str(request.url)}]
    if offset + len(feats) < page.number_matched:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"rel": "next", "type": "application/geo+json", "href": str(nxt)})
    if offset > 0:
        prev = request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append({"rel": "prev", "type": "application/geo+json", "href": str(prev)})
    return {
        "type": "FeatureCollection",
        "plan": page.plan,
        "plans": page.plans,
        "numberMatched": page.number_matched,
        "numberReturned": len(feats),
        "timeStamp": clock.now().isoformat(timespec="seconds"),
        "features": feats,
        "links": links,
    }


def _page_size(request: Request, limit: int | None) -> int:
    settings = request.app.state.settings
    limit = settings.items_limit if limit is None else limit
    if limit > settings.items_limit_max:
        raise InputError(f"limit may be at most {settings.items_limit_max}, got {limit}", field="limit")
    return limit


PlanParam = Annotated[
    str | None,
    Query(description="plan name (drafts and archived plans: planners only); every published plan when absent"),
]
DistrictParam = Annotated[str | None, Query(description="only this district: its name or id")]


@dataclass(frozen=True)
class PlanChoice:
    """The plans an answer shows: ``?plan=`` and ``?district=``, and whether the caller may name drafts."""

    plan: str | None
    district: str | None
    drafts: bool


def plan_choice(who: Who, plan: PlanParam = None, district: DistrictParam = None) -> PlanChoice:
    return PlanChoice(plan, district, sees_drafts(who))


# one dependency for the two query parameters every map answer takes (tipg's way with its filters)
Shown = Annotated[PlanChoice, Depends(plan_choice)]
LimitParam = Annotated[int | None, Query(ge=1, description="page size")]
OffsetParam = Annotated[int, Query(ge=0, le=MAX_ID, description="features to skip")]
DatetimeParam = Annotated[
    str | None,
    Query(
        description="RFC 3339 instant or interval (start/end, '..' for open). Grids: the plan published at "
        "that instant. Incidents: reported in the interval.",
        examples=["2026-01-01T00:00:00Z/.."],
    ),
]


def _items_route(c: Collection) -> Callable[..., GeoJSONResponse]:
    def items(
        request: Request,
        conn: Conn,
        who: Who,
        bbox: BBox,
        shown: Shown,
        datetime: DatetimeParam = None,
        limit: LimitParam = None,
        offset: OffsetParam = 0,
    ) -> GeoJSONResponse:
        size = _page_size(request, limit)
        filters = {k: v for k, v in request.query_params.items() if k not in RESERVED}
        page = features(
            conn,
            c.source,
            plan=shown.plan,
            district=shown.district,
            private=shown.drafts,
            bbox=bbox,
            filters=filters,
            time=parse_datetime(datetime),
            limit=size,
            offset=offset,
        )
        return GeoJSONResponse(_body(request, page, size, offset))

    return items


def _feature_route(c: Collection) -> Callable[..., GeoJSONResponse]:
    def one(request: Request, conn: Conn, feature_id: str, shown: Shown) -> GeoJSONResponse:
        f = feature(conn, c.source, feature_id, plan=shown.plan, district=shown.district, private=shown.drafts)
        base = str(request.base_url).rstrip("/")
        f = {**f, "geometry": json.loads(f["geometry"])}
        f["links"] = [
            {"rel": "self", "type": "application/geo+json", "href": str(request.url)},
            {"rel": "collection", "type": "application/json", "href": f"{base}/collections/{c.id}"},
        ]
        return GeoJSONResponse(f)

    return one


def _queryables_route(c: Collection) -> Callable[..., SchemaJSONResponse]:
    def queryables(request: Request) -> SchemaJSONResponse:
        props = {name: {"title": name, "type": "integer" if name == "id" else "string"} for name in c.source.filters}
        props["geometry"] = {"$ref": "https://geojson.org/schema/Geometry.json"}
        if c.source.time is not None or c.source.time_is_plan:
            props["datetime"] = {"type": "string", "format": "date-time"}
        return SchemaJSONResponse(
            {
                "$schema": "https://json-schema.org/draft/2019-09/schema",
                "$id": str(request.url),
                "type": "object",
                "title": c.title,
                "properties": props,
                "additionalProperties": False,
            },
        )

    return queryables


def _filter_params(c: Collection) -> dict:
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": f"only features whose {name} equals this value",
            }
            for name in c.source.filters
        ]
    }


def _get(
    c: Collection, path: str, endpoint: Callable, response: type[JSONResponse], op: str, summary: str, **extra
) -> None:
    router.add_api_route(
        f"/collections/{c.id}/{path}",
        endpoint,
        methods=["GET"],
        response_class=response,
        operation_id=f"{c.id}_{op}",
        summary=summary,
        **extra,
    )


for _c in CATALOGUE.values():
    _name = _c.title.lower()
    _items = f"{_c.title} as a GeoJSON FeatureCollection"
    _get(_c, "items", _items_route(_c), GeoJSONResponse, "items", _items, openapi_extra=_filter_params(_c))
    _get(_c, "items/{feature_id}", _feature_route(_c), GeoJSONResponse, "feature", f"One feature of {_name} by id")
    _queryables = f"Properties {_name} can be filtered on"
    _get(_c, "queryables", _queryables_route(_c), SchemaJSONResponse, "queryables", _queryables)
