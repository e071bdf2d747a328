"""Writing partition outputs to files and reading them back.

A plan file is one GeoPackage with layers ``grids`` (the grid polygons),
``assignment`` (unit id → grid code), ``units`` (the units as polygons, so a plan
made from address points can be loaded and drawn), ``communities`` when known, and
``report`` (the engine's JSON report as a one-row table). Writing goes through
:func:`gis.atomic.write_atomically`, so a failure never leaves half a plan behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gis.atomic import write_atomically
from gis.columns import GRID_CODE, UNIT_ID
from gis.errors import FormatError

__all__ = ["PlanFiles", "read_plan_file", "write_geojson", "write_plan_files"]

LAYERS = ("grids", "assignment", "units", "communities", "report")


@dataclass(frozen=True)
class PlanFiles:
    """A plan read back from a GeoPackage."""

    grids: gpd.GeoDataFrame
    assignment: pd.DataFrame
    units: gpd.GeoDataFrame | None
    communities: gpd.GeoDataFrame | None
    report: dict


def write_plan_files(
    path: str | Path,
    *,
    grids: gpd.GeoDataFrame,
    assignment: pd.DataFrame,
    report: dict,
    units: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
) -> Path:
    """Write a plan GeoPackage atomically and return its path.

    Parameters
    ----------
    path
        Target ``.gpkg`` file; replaced if it exists.
    grids, assignment, report
        The engine's output.
    units, communities
        Optional layers that let ``commgrid load`` store the whole plan.
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        raise FormatError("plans are written as GeoPackage; give a file name ending in .gpkg", file=path)

    def write(tmp: Path) -> None:
        grids.to_file(tmp, layer="grids", driver="GPKG", engine="pyogrio")
        pyogrio.write_dataframe(pd.DataFrame(assignment), tmp, layer="assignment", driver="GPKG")
        if units is not None:
            units.to_file(tmp, layer="units", driver="GPKG", engine="pyogrio")
        if communities is not None and len(communities):
            communities.reset_index(drop=True).to_file(tmp, layer="communities", driver="GPKG", engine="pyogrio")
        text = json.dumps(report, ensure_ascii=False, default=_json_default)
        pyogrio.write_dataframe(pd.DataFrame({"report": [text]}), tmp, layer="report", driver="GPKG")

    return write_atomically(path, write)


def write_geojson(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write a frame as RFC 7946 GeoJSON (EPSG:4326), atomically."""
    text = frame.to_crs(4326).to_json(drop_id=True, ensure_ascii=False)
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_plan_file(path: str | Path) -> PlanFiles:
    """Read a plan GeoPackage written by :func:`write_plan_files`.

    Raises
    ------
    FormatError
        When the file is missing, not a GeoPackage, or lacks the ``grids`` or
        ``assignment`` layer.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError("no such file; give the .gpkg a partition run wrote", file=path, see="partition")
    try:
        layers = {name for name, _ in pyogrio.list_layers(path)}
    except Exception as exc:  # GDAL's message says what is wrong with the file
        raise FormatError(f"cannot be read as a GeoPackage ({exc})", file=path) from None
    for needed in ("grids", "assignment"):
        if needed not in layers:
            raise FormatError(
                f"has no layer {needed!r} (layers: {sorted(layers)}); is it a plan a partition run wrote?",
                file=path,
                see="partition",
            )
    grids = gpd.read_file(path, layer="grids", engine="pyogrio")
    assignment = pyogrio.read_dataframe(path, layer="assignment", read_geometry=False)
    for frame, cols, layer in (
        (grids, (GRID_CODE,), "grids"),
        (assignment, (UNIT_ID, GRID_CODE), "assignment"),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise FormatError(f"layer {layer!r} lacks column(s) {missing}", file=path, field=missing[0])
    units = gpd.read_file(path, layer="units", engine="pyogrio") if "units" in layers else None
    communities = gpd.read_file(path, layer="communities", engine="pyogrio") if "communities" in layers else None
    report: dict = {}
    if "report" in layers:
        table = pyogrio.read_dataframe(path, layer="report", read_geometry=False)
        if len(table):
            report = json.loads(table["report"].iloc[0])
    return PlanFiles(grids, assignment, units, communities, report)


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
