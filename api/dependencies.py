"""FastAPI dependencies: parsed, validated request values and database connections."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.engine import Connection

from api.settings import Settings
from gis.errors import InputError
from gis.plans.store import ACTOR_OPTION
from gis.store import connect

__all__ = ["BBox", "Conn", "connection", "parse_bbox", "settings"]


def settings(request: Request) -> Settings:
    return request.app.state.settings


def connection(request: Request) -> Iterator[Connection]:
    """A connection for one request, returned to the pool afterwards.

    It carries the caller's user name (execution option ``commgrid_actor``), so the
    store functions that write the audit log name who acted when a route does not.
    """
    with connect(request.app.state.engine) as conn:
        name = getattr(getattr(request.state, "caller", None), "name", None)
        if name is not None:
            conn.execution_options(**{ACTOR_OPTION: name})
        yield conn


def parse_bbox(
    bbox: Annotated[
        str | None,
        Query(description="min_lon,min_lat,max_lon,max_lat in EPSG:4326", examples=["114.0,22.5,114.1,22.6"]),
    ] = None,
) -> tuple[float, float, float, float] | None:
    """``bbox=minx,miny,maxx,maxy`` as four floats, or a 400 naming what is wrong."""
    if bbox is None:
        return None
    parts = bbox.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise InputError(f"bbox must be four numbers separated by commas, got {bbox!r}", field="bbox") from None
    if len(values) != 4:
        raise InputError(f"bbox must have 4 numbers (2D), got {len(values)}", field="bbox")
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError(f"bbox {bbox!r} is not lon/lat in EPSG:4326 with min <= max", field="bbox")
    return values  # type: ignore[return-value]


Conn = Annotated[Connection, Depends(connection)]
BBox = Annotated[tuple[float, float, float, float] | None, Depends(parse_bbox)]
