"""The public map as a static site: what ``commgrid export-public DIR`` writes.

A city's residents scan QR codes by the hundred thousand, and the public map changes only
when a plan is published: so it can be written once as files any static host or CDN
serves, with no Python or database behind it::

    DIR/index.html            the page (search, map, the grid's posted contact)
    DIR/assets/               MapLibre GL JS and the PMTiles reader, from the npm vendor folder
    DIR/tiles.pmtiles         grids, communities, streets and their labels (tiles.archive)
    DIR/style.json            the public map style, drawing from tiles.pmtiles
    DIR/data/contacts.json    per grid code: the posted contact, as /public/contacts/{code} gives it
    DIR/data/search.json      grids, communities and streets with their boxes, for the search box
    DIR/photos/<hash>.jpg     posted worker photos

Only what the public routes show leaves the store: a worker's posted name, work phone,
duties and photo, and a community's office phone and service hours.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from api.routes.map import VENDOR
from api.routes.public import contact_fields, public_html
from api.style import map_style
from gis.errors import InputError
from gis.store.models import Barrier, Community, Grid, GridPlan, PlanStatus
from tiles.archive import ArchiveSummary, write_public_archive
from tiles.paper.poster import read_poster

__all__ = ["SiteSummary", "export_public_site"]

PMTILES_JS = VENDOR.parents[1] / "pmtiles" / "dist" / "pmtiles.js"
_FILES = ("index.html", "style.json", "tiles.pmtiles", "assets", "data", "photos")


@dataclass(frozen=True)
class SiteSummary:
    """What :func:`export_public_site` wrote."""

    folder: Path
    grids: int
    photos: int
    archive: ArchiveSummary


def _search_index(conn: Connection, contacts: dict[str, dict]) -> list[dict]:
    published = select(GridPlan.district_id).where(GridPlan.status == PlanStatus.PUBLISHED)

    def box(geom) -> list:
        return [func.ST_XMin(geom), func.ST_YMin(geom), func.ST_XMax(geom), func.ST_YMax(geom)]

    entries = [
        {"kind": "grid", "id": code, "label": c["grid"] + " · " + code, "detail": c["community"], "bbox": c["bbox"]}
        for code, c in contacts.items()
    ]
    for r in conn.execute(
        select(Community.community_id, Community.name, *box(Community.geom)).where(Community.district_id.in_(published))
    ):
        entries.append({"kind": "community", "id": r[0], "label": r[1], "detail": "", "bbox": _floats(r[2:])})
    extent = func.ST_Extent(Barrier.geom)
    for r in conn.execute(
        select(Barrier.name, func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent), func.ST_YMax(extent))
        .where(Barrier.district_id.in_(published), Barrier.name.is_not(None))
        .group_by(Barrier.name, Barrier.district_id)
    ):
        entries.append({"kind": "street", "id": r[0], "label": r[0], "detail": "", "bbox": _floats(r[1:])})
    return entries


def _floats(values) -> list[float]:
    return [round(float(v), 7) for v in values]


def _copy_assets(folder: Path) -> None:
    if not (VENDOR / "maplibre-gl.mjs").is_file() or not PMTILES_JS.is_file():
        raise InputError(
            f"MapLibre GL JS or the PMTiles reader is not installed in {VENDOR.parents[2]}; "
            "run `bash scripts/setup.sh`",
            field="assets",
        )
    folder.mkdir(parents=True, exist_ok=True)
    for file in VENDOR.iterdir():
        # the ES module, its shared chunk and worker, and the stylesheet; not the -dev builds or maps
        if file.name.startswith("maplibre-gl") and file.suffix in (".mjs", ".css") and "-dev" not in file.name:
            shutil.copy2(file, folder / file.name)
    shutil.copy2(PMTILES_JS, folder / "pmtiles.js")


def export_public_site(conn: Connection, folder: Path, *, minzoom: int = 10, maxzoom: int = 16) -> SiteSummary:
    """Write the public view of every published plan into ``folder`` as a static site.

    Files the export owns (see the module's list) are replaced; other files in ``folder`` stay.

    Raises
    ------
    NotFoundError
        When no plan is published.
    InputError
        When the browser libraries are not installed, or the zooms are out of order.
    """
    if not 0 <= minzoom <= maxzoom <= 18:
        raise InputError(f"zooms must satisfy 0 <= minzoom <= maxzoom <= 18, got {minzoom}..{maxzoom}", field="maxzoom")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("assets", "data", "photos"):
        shutil.rmtree(folder / name, ignore_errors=True)
    archive = write_public_archive(conn, folder / "tiles.pmtiles", minzoom=minzoom, maxzoom=maxzoom)
    codes = conn.execute(
        select(Grid.code)
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridPlan.status == PlanStatus.PUBLISHED)
        .order_by(Grid.code)
    ).scalars()
    contacts: dict[str, dict] = {}
    photos = folder / "photos"
    photos.mkdir()
    count = 0
    for code in dict.fromkeys(codes):  # a code in two districts' plans: the first, as read_poster refuses both
        poster = read_poster(conn, code, public_url="", with_map=False)
        photo = None
        if poster.contact is not None and poster.contact.photo:
            name = hashlib.sha256(poster.contact.photo).hexdigest()[:24] + ".jpg"
            (photos / name).write_bytes(poster.contact.photo)
            photo, count = f"photos/{name}", count + 1
        contacts[code] = contact_fields(poster, photo)
    data = folder / "data"
    data.mkdir()
    (data / "contacts.json").write_text(json.dumps(contacts, ensure_ascii=False), encoding="utf-8")
    index = _search_index(conn, contacts)
    (data / "search.json").write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")
    style = map_style("", ["communities", "grids", "streets"])
    style["sources"] = {"commgrid": {"type": "vector", "url": "pmtiles://tiles.pmtiles", "attribution": "commgrid"}}
    style["layers"] = [layer for layer in style["layers"] if layer.get("source") in (None, "commgrid")]
    west, south, east, north = archive.bounds
    style["center"], style["zoom"] = [(west + east) / 2, (south + north) / 2], 13
    style["metadata"] = {"commgrid:bounds": list(archive.bounds)}
    (folder / "style.json").write_text(json.dumps(style, ensure_ascii=False), encoding="utf-8")
    _copy_assets(folder / "assets")
    (folder / "index.html").write_text(public_html("public_site.html", "assets/"), encoding="utf-8")
    return SiteSummary(folder, len(contacts), count, archive)
