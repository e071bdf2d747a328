"""The tile matrix set commgrid serves (WebMercatorQuad) and the checks on tile addresses."""

from __future__ import annotations

import json

import morecantile

from gis.errors import InputError, NotFoundError

__all__ = ["TMS", "TMS_ID", "check_tile", "tile_matrix_set"]

TMS_ID = "WebMercatorQuad"
TMS = morecantile.tms.get(TMS_ID)
MAX_ZOOM = 22


def check_tile(tms_id: str, z: int, x: int, y: int) -> morecantile.Tile:
    """A tile address that exists in the matrix set, or the error naming what is wrong.

    ``x`` is the column and ``y`` the row, as in ``{z}/{y}/{x}`` URLs.
    """
    if tms_id != TMS_ID:
        raise NotFoundError(f"unknown tile matrix set {tms_id!r}; this service serves {TMS_ID}")
    if not 0 <= z <= MAX_ZOOM:
        raise InputError(f"zoom level {z} is outside 0–{MAX_ZOOM}", field="tileMatrix")
    size = 2**z
    if not 0 <= y < size:
        raise InputError(f"tile row {y} is outside 0–{size - 1} at zoom {z}", field="tileRow")
    if not 0 <= x < size:
        raise InputError(f"tile column {x} is outside 0–{size - 1} at zoom {z}", field="tileCol")
    return morecantile.Tile(x, y, z)


def tile_matrix_set() -> dict:
    """The OGC TileMatrixSet document of WebMercatorQuad (2D TMS 2.0 JSON)."""
    return json.loads(TMS.model_dump_json(exclude_none=True))
