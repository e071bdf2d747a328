"""Views of incidents: hot and cold spots (Getis-Ord Gi*, FDR), per-grid statistics, density tiles, heat maps.

Hot spots, grid statistics and heat maps need the analyst role. Density tiles are open to all, but
callers below the analyst role (the public, grid workers) get the public view: only
incidents flagged public of categories marked public, reported at least
``incident_public_delay_hours`` ago (24 by default), in bins holding at least
``incident_public_min_count`` of them (3 by default; smaller bins are left out). Nothing
here carries reporter data or raw points. Density tiles are summed from the stored bins
where they can be (:mod:`tiles.density`), so they stay fast at low zooms whatever the
number of incidents; their ``cells`` (bins across a tile) is a power of two from 4 to 64.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AfterValidator

from api.access import Role, Who
from api.dependencies import Conn, Instant
from api.routes.common import answering
from api.routes.incidents import Tax
from api.routes.tiles import TmsParam, XParam, YParam, ZParam, tile_response
from gis import clock
from gis.errors import InputError
from gis.incidents import STATES
from gis.incidents.hotspots import LEVELS, incident_hotspots
from gis.incidents.store import IncidentWindow, grid_counts, incident_points
from gis.plans.store import list_districts
from gis.store import lookup
from tiles.density import CELLS, DensityQuery, density_tile
from tiles.matrix import check_tile

__all__ = ["router"]

router = APIRouter(tags=["analytics"])

Category = Annotated[str | None, Query(description="a taxonomy code; its sub-categories count too")]
Start = Annotated[Instant | None, Query(alias="from", description="reported at or after (ISO 8601)")]
End = Annotated[Instant | None, Query(alias="to", description="reported before (ISO 8601)")]
District = Annotated[str | None, Query(description="only this district (name or id); the whole city when absent")]


def check_cells(value: int) -> int:
    """Bins across a tile must be one of :data:`tiles.density.CELLS` (one lattice per level)."""
    if value not in CELLS:
        raise ValueError(f"cells={value}: expected one of {list(CELLS)} (bins across a tile, powers of two)")
    return value


Cells = Annotated[int, AfterValidator(check_cells), Query(description=f"bins across a tile: one of {list(CELLS)}")]


@router.get(
    "/analytics/hotspots",
    operation_id="analytics_hotspots",
    summary="Hot and cold spots of incidents per grid or hexagon: Gi*, FDR-corrected, 90/95/99 % (analyst)",
    **answering("application/geo+json", response_class=JSONResponse),
)
def analytics_hotspots(
    conn: Conn,
    tax: Tax,
    unit: Annotated[Literal["grid", "hex"], Query(description="grids of the published plan, or hexagons")] = "grid",
    category: Category = None,
    start: Start = None,
    end: End = None,
    district: District = None,
    size: Annotated[float, Query(ge=50, le=5000, description="hexagon circumradius in metres")] = 250.0,
) -> JSONResponse:
    if category:
        tax.find(category)
    frame = incident_hotspots(
        conn, unit=unit, district=district, category=category, start=start, end=end, hex_size=size
    )
    body: dict[str, Any] = json.loads(frame.to_json(drop_id=True))
    body["parameters"] = {
        "unit": unit,
        "category": category,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "hex_size_m": size if unit == "hex" else None,
        "statistic": "Getis-Ord Gi* (queen contiguity, binary weights, normal approximation)",
        "correction": "Benjamini-Hochberg false discovery rate",
        "levels": [level for level, _ in LEVELS],
    }
    return JSONResponse(body, media_type="application/geo+json")


@router.get(
    "/analytics/grids",
    operation_id="analytics_grids",
    summary="Incidents per grid of the published plan: counts, open ones, rate per 1,000 residents (analyst)",
)
def analytics_grids(
    conn: Conn, tax: Tax, category: Category = None, start: Start = None, end: End = None, district: District = None
) -> dict[str, Any]:
    if category:
        tax.find(category)
    district_id = None if district is None else lookup.district_id(conn, district)
    frame = grid_counts(conn, IncidentWindow(district_id, category, start, end))
    rows = frame.drop(columns=["geom", "grid_id"]).astype(object).where(frame.notna(), None)
    return {"district": _place(conn, district_id), "category": category, "grids": rows.to_dict(orient="records")}


def _place(conn: Conn, district_id: int | None) -> str | None:
    """The district read: the one asked for, else the only one with a published plan (None for a city of several)."""
    named = [d.name for d in list_districts(conn) if d.published and district_id in (None, d.id)]
    return named[0] if len(named) == 1 else None


@router.get(
    "/collections/incident-density/tiles/{tms_id}/{z}/{y}/{x}",
    operation_id="incident_density_tile",
    summary="Incident counts in hexagon or square bins as a vector tile, layer incident_density "
    "(public view: public categories, bins of at least k, after a delay)",
    **answering("application/vnd.mapbox-vector-tile", others={204: {"description": "no bins"}}),
)
async def incident_density_tile(
    request: Request,
    who: Who,
    tax: Tax,
    tms_id: TmsParam,
    z: ZParam,
    y: YParam,
    x: XParam,
    shape: Annotated[Literal["hex", "square"], Query(alias="bin", description="bin shape")] = "hex",
    cells: Cells = 16,
    category: Category = None,
    state: Annotated[str | None, Query(alias="status", description="states, comma-separated")] = None,
    start: Start = None,
    end: End = None,
) -> Response:
    tile = check_tile(tms_id, z, x, y)
    if category:
        tax.find(category)
    statuses = None if state is None else tuple(s.strip() for s in state.split(",") if s.strip())
    for value in statuses or ():
        if value not in STATES:
            raise InputError(f"unknown state {value!r} in status: expected some of {list(STATES)}", field="status")
    query = DensityQuery(
        shape=shape, cells=cells, category=category, statuses=statuses, start=_aware(start), end=_aware(end)
    )
    private = who.role >= Role.ANALYST
    if not private:
        query = public_view(query, tax, request.app.state.settings)
    result = await density_tile(
        request.app.state.tiles, tile, query, if_none_match=request.headers.get("if-none-match")
    )
    return tile_response(result, private=private)


def _aware(moment: datetime | None) -> datetime | None:
    """Times without an offset are UTC (the query parameters document ISO 8601 with one)."""
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def public_view(query: DensityQuery, tax: Any, settings: Any, *, now: datetime | None = None) -> DensityQuery:
    """``query`` as the public may see it: public categories, bins of at least k, reported before the delay.

    The cut-off is rounded down to the hour so that public tiles stay cacheable for an hour.
    """
    delay = timedelta(hours=float(settings.incident_public_delay_hours))
    cutoff = ((now or clock.now()) - delay).replace(minute=0, second=0, microsecond=0)
    end = cutoff if query.end is None else min(query.end, cutoff)
    start = None if query.start is None else min(query.start, end)  # a window after the cut-off shows nothing
    return replace(
        query,
        public=tuple(c.code for c in tax if c.public),
        min_count=max(query.min_count, int(settings.incident_public_min_count)),
        start=start,
        end=end,
    )


@router.get(
    "/analytics/heatmap.html",
    operation_id="analytics_heatmap",
    summary="A folium heat map of incidents to save as one HTML file (analyst)",
    response_class=HTMLResponse,
)
def analytics_heatmap(
    conn: Conn, tax: Tax, category: Category = None, start: Start = None, end: End = None, district: District = None
) -> HTMLResponse:
    if category:
        tax.find(category)
    district_id = None if district is None else lookup.district_id(conn, district)
    lon, lat = incident_points(conn, IncidentWindow(district_id, category, start, end))
    from tiles.webmaps import heat_map  # folium is loaded only when a heat map is asked for

    html = heat_map(lon, lat).get_root().render()
    name = f"incidents-{_place(conn, district_id) or 'city'}.html".replace('"', "")
    return HTMLResponse(html, headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private"})
