"""FastAPI dependencies: parsed, validated request values and database connections."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import AfterValidator, BeforeValidator
from sqlalchemy.engine import Connection

from api.settings import Settings
from gis.clock import FIRST_YEAR, LAST_YEAR
from gis.errors import InputError
from gis.plans.store import ACTOR_OPTION
from gis.store import connect

__all__ = ["BBox", "Conn", "Day", "Instant", "connection", "parse_bbox", "settings"]


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
    if minx > maxx:
        # an OGC bbox may cross the antimeridian, but no district does: refused rather than read as the world
        raise InputError(
            f"bbox {bbox!r} has min_lon > max_lon (inverted, or crossing the antimeridian); send min_lon <= max_lon, "
            "or two requests, one each side of 180°",
            field="bbox",
        )
    return values  # type: ignore[return-value]


_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def not_a_number(value: Any) -> Any:
    """Refuse a number where a date or time is expected (pydantic would read ``0`` as 1970-01-01)."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError(
            f"expected an ISO 8601 date or time such as 2026-11-02T09:30:00+08:00, not the number {value!r}"
        )
    return value


def in_years(value: date) -> date:
    """Refuse dates outside :data:`FIRST_YEAR`-:data:`LAST_YEAR` (year 9999 overflows every deadline)."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"the year {value.year} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return value


Instant = Annotated[datetime, BeforeValidator(not_a_number), AfterValidator(in_years)]
Day = Annotated[date, BeforeValidator(not_a_number), AfterValidator(in_years)]
Conn = Annotated[Connection, Depends(connection)]
BBox = Annotated[tuple[float, float, float, float] | None, Depends(parse_bbox)]
