"""A deterministic synthetic city district for the demo and for fast tests.

``generate_district(seed=...)`` draws a district the way a Chinese city street office
sees it: arterial (major) roads and a river cut it into superblocks, minor streets cut
those into blocks, blocks hold residential compounds (小区) of 2–8 buildings, standalone
towers, shop rows and unpopulated plots (schools, parks, offices). Every building sits on
a parcel and the parcels of a block tile it. Superblocks are grouped into 3–6 communities
(社区) of 3,000–8,000 households whose borders follow the major roads and the river.
Incidents cluster in a few hotspots and follow a daily rhythm; patrol GPS tracks walk the
street network along networkx shortest paths.

Geometry is built in metres in a local metric CRS (``SampleDistrict.working_crs``) and
every frame is returned in EPSG:4326. The same seed gives identical frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely
import shapely.ops

from gis import columns as col
from gis.partition_inputs import PartitionInputs

__all__ = [
    "HOUSEHOLD_SIZES",
    "HOUSEHOLD_SIZE_SHARES",
    "INCIDENT_CATEGORIES",
    "SampleDistrict",
    "generate_district",
    "write_district",
]

# Persons per household and their shares, close to China's 2020 census (mean ≈ 2.6);
# "6+" is split over 6 and 7 so the tail is not a single spike.
HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6, 7)
HOUSEHOLD_SIZE_SHARES = (0.25, 0.29, 0.21, 0.14, 0.065, 0.03, 0.015)

INCIDENT_CATEGORIES = (
    "dispute",
    "safety_hazard",
    "fire_hazard",
    "sanitation",
    "street_order",
    "emergency",
    "request",
)
_CATEGORY_SHARES = np.array([0.17, 0.13, 0.07, 0.23, 0.21, 0.03, 0.16])

# Reports per hour of day: quiet nights, a morning and an afternoon peak, busy evenings.
_HOURLY_WEIGHTS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 5, 4, 4, 4.5, 5, 5, 4.5, 4, 4.5, 4, 3, 2, 1.4]
)

DEFAULT_ORIGIN = (114.06, 22.55)
DEFAULT_START = datetime(2024, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai"))

# Households per m² of the whole district (roads and parks included), tuned so the drawn
# buildings hold about the requested number before the final exact adjustment.
_GROSS_DENSITY = 0.014
_MAJOR_HALF_WIDTH = 14.0
_MINOR_HALF_WIDTH = 6.0
# Real compounds (小区) run from a few hundred to a few thousand households; one larger than
# a grid's maximum is divided along its buildings by the partition engine.
_COMPOUND_MAX_HOUSEHOLDS = 1200
_BUILDING_MAX_HOUSEHOLDS = 150
_BUILDING_MIN_HOUSEHOLDS = 20
_WALK_SPEED = 1.2  # m/s
_GPS_INTERVAL = 10  # s

_NAME_HEADS = tuple("春秋翠碧青金锦明安和兴华新长永瑞嘉宝福祥荔桂梅竹松枫莲兰桃杏")
_NAME_TAILS = tuple("园林湖山河田岭景苑源溪湾峰云霞泉")

# Lot kinds: what a lot between streets is used for.
_RESIDENTIAL, _COMPOUND, _SHOPS, _SCHOOL, _PARK, _OFFICE = (
    "residential",
    "compound",
    "shops",
    "school",
    "park",
    "office",
)
_LOT_KINDS = np.array([_COMPOUND, _RESIDENTIAL, _SHOPS, _SCHOOL, _PARK, _OFFICE])
_LOT_KIND_SHARES = np.array([0.52, 0.22, 0.04, 0.08, 0.06, 0.08])


@dataclass(frozen=True, eq=False)
class SampleDistrict:
    """A generated district; every frame is in EPSG:4326.

    Attributes
    ----------
    working_crs
        The metric CRS the geometry was built in (a CGCS2000 3-degree Gauss–Krüger zone
        in China, else the local UTM zone); use it for areas and distances.
    boundary
        One polygon, the district.
    communities
        ``community_id``, ``name``, ``admin_code`` (12 digits), ``households``,
        ``population``; polygons tiling ``boundary``.
    barriers
        Road and river centre lines: ``barrier_class`` (major, minor, river), ``hard``
        (True for the river), ``name``.
    blocks
        ``block_id``, ``community``; the land between roads and river.
    units
        One row per building: ``unit_id``, ``households``, ``population``, ``compound``
        (None for standalone buildings), ``building``, ``community``, ``kind``; the
        building's parcel polygon. Parcels tile their block.
    buildings
        ``building``, ``unit_id``, ``kind``, ``floors``; footprint polygons (for posters).
    incidents
        ``incident_id``, ``category``, ``reported_at``, ``community``; points.
    tracks
        ``worker_id``, ``patrol_id``, ``recorded_at``, ``community``; GPS points.
    seed
        The seed the district was drawn with.
    """

    working_crs: pyproj.CRS
    boundary: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    barriers: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    tracks: gpd.GeoDataFrame
    seed: int


def generate_district(
    *,
    seed: int = 0,
    households: int = 25_000,
    n_communities: int | None = None,
    origin: tuple[float, float] = DEFAULT_ORIGIN,
    start: datetime = DEFAULT_START,
    incident_days: int = 90,
    workers: int = 6,
    patrol_days: int = 3,
) -> SampleDistrict:
    """Draw a synthetic city district.

    Parameters
    ----------
    seed
        Seed of the only random generator used; the same seed gives identical frames.
    households
        Total households of the district (met exactly).
    n_communities
        Number of communities, from 1 to one per 1000 households; by default
        ``households / 5000`` rounded and clipped to 3–6.
    origin
        ``(lon, lat)`` of the district's centre.
    start
        First moment of the incident period and of the patrols.
    incident_days
        Length of the incident period; about one incident per 50 households per 90 days.
    workers
        Number of grid workers who patrol.
    patrol_days
        Days with patrols (two of about one hour per worker and day).

    Returns
    -------
    SampleDistrict
        The frames, all in EPSG:4326, and the metric ``working_crs``.

    Raises
    ------
    ValueError
        If ``households`` is below 3,000, ``n_communities`` is outside its range or a
        count parameter is negative.

    Examples
    --------
    >>> district = generate_district(seed=1, households=5_000)
    >>> int(district.units["households"].sum())
    5000
    >>> len(district.communities)
    3
    """
    if households < 3000:
        raise ValueError(
            f"households={households} is too small for a district of communities; expected at least "
            "3000 (smaller ones leave communities without residents). Pass households=3000 or more."
        )
    if n_communities is None:
        n_communities = int(np.clip(round(households / 5000), 3, 6))
    if not 1 <= n_communities <= households // 1000:
        raise ValueError(
            f"n_communities={n_communities} is outside 1–{households // 1000} for {households} households; "
            "pass at least 1 and at most one community per 1000 households, or None."
        )
    if min(incident_days, workers, patrol_days) < 0:
        raise ValueError(
            f"incident_days={incident_days}, workers={workers}, patrol_days={patrol_days}: "
            "expected counts of 0 or more."
        )
    rng = np.random.default_rng(seed)
    crs = _working_crs(*origin)
    shift = np.array(pyproj.Transformer.from_crs(4326, crs, always_xy=True).transform(*origin))

    town = _draw_town(rng, households, n_communities)
    units = _draw_units(rng, town["blocks"], households)
    labels = _group_cells(rng, town, units, n_communities)
    frames = _assemble(rng, town, units, labels)
    graph = _street_graph(town["roads"])
    incidents = _draw_incidents(rng, units, frames["unit_community"], households, start, incident_days)
    tracks = _draw_tracks(rng, graph, frames["community_geoms"], frames["community_ids"], start, workers, patrol_days)

    def to_frame(data: dict, geoms: np.ndarray) -> gpd.GeoDataFrame:
        moved = shapely.transform(geoms, lambda xy: xy + shift)
        return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(moved, crs=crs)).to_crs(4326)

    incidents_frame = to_frame(
        {
            "incident_id": [f"E{i + 1:06d}" for i in range(len(incidents["geometry"]))],
            "category": incidents["category"],
            "reported_at": incidents["reported_at"],
            col.COMMUNITY: np.asarray(frames["community_ids"], dtype=object)[incidents["community"]],
        },
        incidents["geometry"],
    )
    tracks_frame = to_frame({k: v for k, v in tracks.items() if k != "geometry"}, tracks["geometry"])
    return SampleDistrict(
        working_crs=crs,
        boundary=to_frame({"name": [town["name"]]}, np.array([town["boundary"]])),
        communities=to_frame(frames["communities"], frames["community_geoms"]),
        barriers=to_frame(town["barriers"], town["barrier_geoms"]),
        blocks=to_frame(frames["blocks"], frames["block_geoms"]),
        units=to_frame(frames["units"], frames["unit_geoms"]),
        buildings=to_frame(frames["buildings"], frames["building_geoms"]),
        incidents=incidents_frame,
        tracks=tracks_frame,
        seed=seed,
    )


def write_district(district: SampleDistrict, folder: Path) -> dict[str, Path]:
    """Write a district's frames as GeoPackages plus a README of fields.

    Parameters
    ----------
    district
        The district from :func:`generate_district`.
    folder
        Output folder, created if missing; existing files of the same names are replaced.

    Returns
    -------
    dict[str, Path]
        Layer name (``units``, ``communities``, ``barriers``, ``boundary``, ``blocks``,
        ``buildings``, ``incidents``, ``tracks``, ``readme``) to the written file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in ("units", "communities", "barriers", "boundary", "blocks", "buildings", "incidents", "tracks"):
        path = folder / f"{name}.gpkg"
        _utc(getattr(district, name)).to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        written[name] = path
    readme = folder / "README.txt"
    readme.write_text(_README.format(seed=district.seed, crs=district.working_crs.to_string()), encoding="utf-8")
    written["readme"] = readme
    return written


def sample_partition_inputs(paths: dict[str, Path], *, seed: int = 0) -> PartitionInputs:
    """How to partition a district written by :func:`write_district`: its files and field names.

    The demo, the test fixtures and the benches all partition the sample this one way.
    """
    return PartitionInputs(
        paths["units"],
        id_field="unit_id",
        households_field="households",
        population_field="population",
        compound="compound",
        communities=paths["communities"],
        community_id="community_id",
        community_name="name",
        community_code="admin_code",
        barriers=paths["barriers"],
        barrier_class="barrier_class",
        seed=seed,
    )


def _utc(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy with time-zone-aware timestamps in UTC, the only zone GeoPackage allows."""
    zoned = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    return frame.assign(**{c: frame[c].dt.tz_convert("UTC") for c in zoned}) if zoned else frame


_README = """commgrid sample district (synthetic, seed {seed})
All layers are EPSG:4326; the geometry was built in {crs} (metres).

units.gpkg        one row per building, geometry = the building's parcel (parcels tile each block)
  unit_id         U00001...
  households      households living in the building (0 for schools, parks, offices)
  population      residents (sum of household sizes, mean about 2.6 per household)
  compound        residential compound id XQ0001... (2-8 buildings, <= 1,200 households) or empty
  building        building id LD00001...
  community       community id SQ01...
  kind            compound, residential, shops, school, park, office
buildings.gpkg    building footprints: building, unit_id, kind, floors
blocks.gpkg       land between roads and river: block_id, community
communities.gpkg  community_id SQ01..., name (e.g. 桂园社区), admin_code (12 digits: 6 county +
                  3 street + 3 community), households, population; polygons tile the boundary
barriers.gpkg     road and river centre lines: barrier_class (major, minor, river), hard (river), name
boundary.gpkg     the district polygon
incidents.gpkg    incident_id, category, reported_at (UTC), community; points clustered in space and time
tracks.gpkg       patrol GPS points every 10 s: worker_id, patrol_id, recorded_at (UTC), community
"""


# --------------------------------------------------------------------------- geometry


def _working_crs(lon: float, lat: float) -> pyproj.CRS:
    """CGCS2000 3-degree Gauss–Krüger zone inside China's extent, else the UTM zone."""
    if 73.5 <= lon <= 136.5 and 3.0 <= lat <= 54.0:
        return pyproj.CRS.from_epsg(4534 + round((lon - 75.0) / 3.0))
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _draw_town(rng: np.random.Generator, households: int, n_communities: int) -> dict:
    """Boundary, river, major and minor roads, superblock cells and blocks, in local metres."""
    area = households / _GROSS_DENSITY
    aspect = rng.uniform(0.75, 1.33)
    width, height = np.sqrt(area * aspect), np.sqrt(area / aspect)
    # about five superblocks per community, so communities can follow major roads, but
    # arterials no closer than a few blocks apart
    spacing = max(np.sqrt(area / (5.0 * n_communities)), 300.0)
    names = _NameDrawer(rng)

    boundary = _draw_boundary(rng, width, height)
    river, river_along_x, river_offset = _draw_river(rng, width, height)
    river_half_width = rng.uniform(18.0, 30.0)
    long_majors = _draw_major_roads(rng, width, height, spacing, river_along_x, river_offset)
    majors = _clip_lines(long_majors, boundary)
    river_clipped = _clip_lines(np.array([river]), boundary.buffer(60.0))
    river_in = _clip_lines(river_clipped, boundary)

    # lines that cross the boundary ring get noded on it; clipped ones might stop a hair short
    cells = _polygon_faces(boundary, np.concatenate([long_majors, [river]]))
    river_space = shapely.buffer(river_clipped, river_half_width).tolist()
    river_space = shapely.union_all(river_space)
    minors = _draw_minor_roads(rng, cells, boundary, river_space)

    road_space = shapely.union_all(
        np.concatenate(
            [
                shapely.buffer(majors, _MAJOR_HALF_WIDTH, cap_style="flat"),
                shapely.buffer(minors, _MINOR_HALF_WIDTH, cap_style="flat"),
                [river_space],
            ]
        )
    )
    blocks = shapely.get_parts(shapely.difference(boundary, road_space))
    # slivers between a road and the river or the boundary are not buildable land
    keep = (shapely.area(blocks) >= 400.0) & ~shapely.is_empty(shapely.buffer(blocks, -6.0))
    blocks = blocks[keep]
    block_cell = _locate(shapely.point_on_surface(blocks), cells)

    major_names = [names.draw("大道" if i == 0 else "路") for i in range(len(majors))]
    minor_names = [names.draw(str(rng.choice(["街", "巷", "路"]))) for _ in range(len(minors))]
    river_name = names.draw("河")
    barrier_geoms = np.concatenate([majors, minors, river_in])
    barriers = {
        col.BARRIER_CLASS: ["major"] * len(majors) + ["minor"] * len(minors) + ["river"] * len(river_in),
        col.HARD: [False] * (len(majors) + len(minors)) + [True] * len(river_in),
        "name": major_names + minor_names + [river_name] * len(river_in),
    }
    return {
        "boundary": shapely.union_all(cells),
        "cells": cells,
        "blocks": blocks,
        "block_cell": block_cell,
        "river": river_in,
        "roads": np.concatenate([majors, minors]),
        "barriers": barriers,
        "barrier_geoms": barrier_geoms,
        "name": names.draw("街道"),
    }


def _draw_boundary(rng: np.random.Generator, width: float, height: float) -> shapely.Polygon:
    """A rectangle whose edges wander in and out a little, as district borders do."""
    perimeter = 2 * (width + height)
    t = np.arange(0.0, perimeter, 120.0)
    wobble = np.zeros_like(t)
    for k, amplitude in ((2, 0.025), (3, 0.02), (7, 0.008)):
        wobble += amplitude * min(width, height) * np.sin(2 * np.pi * k * t / perimeter + rng.uniform(0, 2 * np.pi))
    x, y, nx_, ny_ = np.empty_like(t), np.empty_like(t), np.empty_like(t), np.empty_like(t)
    edges = np.cumsum([0.0, width, height, width, height])
    w2, h2 = width / 2, height / 2
    for i, (x0, y0, dx, dy, nx0, ny0) in enumerate(
        [(-w2, -h2, 1, 0, 0, -1), (w2, -h2, 0, 1, 1, 0), (w2, h2, -1, 0, 0, 1), (-w2, h2, 0, -1, -1, 0)]
    ):
        on = (t >= edges[i]) & (t < edges[i + 1])
        s = t[on] - edges[i]
        x[on], y[on], nx_[on], ny_[on] = x0 + dx * s, y0 + dy * s, nx0, ny0
    ring = np.column_stack([x + nx_ * wobble, y + ny_ * wobble])
    polygon = shapely.make_valid(shapely.Polygon(ring))
    parts = shapely.get_parts(polygon)
    return parts[np.argmax(shapely.area(parts))]


def _draw_river(rng: np.random.Generator, width: float, height: float) -> tuple[shapely.LineString, bool, float]:
    """A meandering centre line crossing the district, roughly along x or along y."""
    along_x = bool(rng.random() < 0.5)
    span, across = (width, height) if along_x else (height, width)
    u = np.arange(-span, span + 1.0, 15.0)
    offset = rng.uniform(-0.2, 0.2) * across
    v = (
        offset
        + 0.09 * across * np.sin(2 * np.pi * u / (rng.uniform(0.8, 1.3) * span) + rng.uniform(0, 2 * np.pi))
        + 0.03 * across * np.sin(2 * np.pi * u / (rng.uniform(0.25, 0.4) * span) + rng.uniform(0, 2 * np.pi))
        + np.tan(np.radians(rng.uniform(-12, 12))) * u
    )
    xy = np.column_stack([u, v] if along_x else [v, u])
    return shapely.LineString(xy), along_x, offset


def _draw_major_roads(
    rng: np.random.Generator,
    width: float,
    height: float,
    spacing: float,
    river_along_x: bool,
    river_offset: float,
) -> np.ndarray:
    """Two families of slightly bent arterials; none runs right beside the river."""
    lines = []
    for along_x, span, across in ((True, width, height), (False, height, width)):
        # roads along x are spaced across y
        n = max(1, round(across / spacing) - 1)
        positions = -across / 2 + across * (np.arange(n) + 1) / (n + 1)
        positions = positions + rng.uniform(-0.12, 0.12, n) * spacing
        for p in positions:
            if along_x == river_along_x and abs(p - river_offset) < 0.45 * spacing:
                continue
            u = np.array([-span, -span / 4, span / 4, span])
            v = p + rng.normal(0.0, 0.035 * spacing, 4)
            lines.append(shapely.LineString(np.column_stack([u, v] if along_x else [v, u])))
    return np.array(lines, dtype=object)


def _clip_lines(lines: np.ndarray, area: shapely.Geometry) -> np.ndarray:
    """Single-part pieces of lines inside an area, shorter than 5 m dropped."""
    parts = shapely.get_parts(shapely.intersection(np.asarray(lines), area))
    parts = parts[shapely.get_type_id(parts) == 1]
    return parts[shapely.length(parts) >= 5.0]


def _polygon_faces(boundary: shapely.Polygon, lines: np.ndarray) -> np.ndarray:
    """Faces the lines cut the boundary into; they tile it exactly.

    Crumbs where a road meets the wobbly boundary join a neighbour, so that no
    community is made of one.
    """
    noded = shapely.union_all(np.concatenate([[boundary.exterior], lines]))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.within(shapely.point_on_surface(faces), boundary)]
    return _absorb_slivers(faces, np.zeros(len(faces), dtype=int), min_area=2000.0)[0]


def _draw_minor_roads(
    rng: np.random.Generator, cells: np.ndarray, boundary: shapely.Polygon, river_space: shapely.Geometry
) -> np.ndarray:
    """Streets across each superblock every 120–190 m; some skipped, some dead ends."""
    lines = []
    for cell in cells:
        x0, y0, x1, y1 = cell.bounds
        spacing = rng.uniform(120.0, 190.0)
        for along_x, lo, hi, a, b in ((True, y0, y1, x0, x1), (False, x0, x1, y0, y1)):
            n = round((hi - lo) / spacing) - 1
            if n < 1:
                continue
            positions = lo + (hi - lo) * (np.arange(n) + 1) / (n + 1) + rng.uniform(-12, 12, n)
            tilt = rng.normal(0.0, 0.03, n)
            for p, s in zip(positions, tilt, strict=True):
                fate = rng.random()
                if fate < 0.12:
                    continue
                u = np.array([a - 10.0, b + 10.0])
                v = p + s * (u - (a + b) / 2)
                line = shapely.LineString(np.column_stack([u, v] if along_x else [v, u]))
                # reach 1.5 m past the cell edge so the street meets the arterial in a node
                pieces = shapely.get_parts(shapely.intersection(line, cell.buffer(1.5)))
                for piece in pieces:
                    if shapely.get_type_id(piece) != 1:
                        continue
                    if fate < 0.22 and piece.length > 120:
                        keep = rng.uniform(0.4, 0.7) * piece.length
                        piece = (
                            shapely.ops.substring(piece, 0.0, keep)
                            if rng.random() < 0.5
                            else (shapely.ops.substring(piece, piece.length - keep, piece.length))
                        )
                    lines.append(piece)
    if not lines:
        return np.array([], dtype=object)
    lines = np.array(lines, dtype=object)
    return _clip_lines(shapely.difference(lines, river_space), boundary)


def _locate(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon each point lies in (nearest polygon for points on no polygon)."""
    tree = shapely.STRtree(polygons)
    found = np.full(len(points), -1)
    pairs = tree.query(points, predicate="intersects")
    found[pairs[0][::-1]] = pairs[1][::-1]  # first hit wins, deterministically
    missing = found < 0
    if missing.any():
        found[missing] = tree.nearest(points[missing])
    return found


class _NameDrawer:
    """Unique Chinese-style two-character names with a suffix (路, 街, 社区, 河...)."""

    def __init__(self, rng: np.random.Generator) -> None:
        stems = [h + t for h in _NAME_HEADS for t in _NAME_TAILS]
        self._stems = [stems[i] for i in rng.permutation(len(stems))]
        self._next = 0

    def draw(self, suffix: str) -> str:
        stem = self._stems[self._next % len(self._stems)]
        repeat = self._next // len(self._stems)
        self._next += 1
        return stem + (str(repeat + 1) if repeat else "") + suffix


# --------------------------------------------------------------------------- parcels


def _subdivide(polygons: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Cut each polygon into about ``count`` pieces that tile it.

    Pieces are cut across the long axis of their oriented envelope at a fraction
    matching the count split, so they stay compact; the two halves of every cut are an
    intersection and a difference with the same half-plane, so they tile exactly.

    Returns the pieces and, for each, the index of the polygon it came from.
    """
    pieces, origins = [], []
    work, origin, count = np.asarray(polygons), np.arange(len(polygons)), np.asarray(counts)
    while len(work):
        done = count <= 1
        pieces.append(work[done])
        origins.append(origin[done])
        work, origin, count = work[~done], origin[~done], count[~done]
        if not len(work):
            break
        first = count // 2 + (rng.random(len(count)) < 0.5) * (count % 2)
        fraction = np.clip(first / count + rng.uniform(-0.05, 0.05, len(count)), 0.1, 0.9)
        half = _half_planes(work, fraction)
        a, b = shapely.intersection(work, half), shapely.difference(work, half)
        work, origin, count = _explode(
            np.concatenate([a, b]),
            np.concatenate([origin, origin]),
            np.concatenate([first, count - first]),
        )
    return _absorb_slivers(np.concatenate(pieces), np.concatenate(origins))


def _absorb_slivers(pieces: np.ndarray, origin: np.ndarray, min_area: float = 150.0) -> tuple[np.ndarray, np.ndarray]:
    """Merge pieces under ``min_area`` into the sibling they share the longest edge with.

    Cuts through concave polygons leave crumbs no building stands on.
    """
    pieces = pieces.copy()
    alive = np.ones(len(pieces), dtype=bool)
    tree = shapely.STRtree(pieces)
    for i in np.flatnonzero(shapely.area(pieces) < min_area):
        near = tree.query(pieces[i], predicate="intersects")
        near = near[(near != i) & (origin[near] == origin[i]) & alive[near]]
        if not len(near):
            continue
        shared = shapely.length(shapely.intersection(pieces[i].boundary, shapely.boundary(pieces[near])))
        if shared.max() <= 0:
            continue
        j = near[np.argmax(shared)]
        pieces[j] = shapely.union(pieces[j], pieces[i])
        alive[i] = False
    return pieces[alive], origin[alive]


def _half_planes(polygons: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Quadrilaterals covering the first ``fraction`` of each polygon's long axis."""
    envelope = shapely.oriented_envelope(polygons)
    corners = shapely.get_coordinates(shapely.get_exterior_ring(envelope)).reshape(-1, 5, 2)[:, :4]
    p0, e1, e2 = corners[:, 0], corners[:, 1] - corners[:, 0], corners[:, 3] - corners[:, 0]
    long_first = np.linalg.norm(e1, axis=1) >= np.linalg.norm(e2, axis=1)
    u = np.where(long_first[:, None], e1, e2)
    v = np.where(long_first[:, None], e2, e1)
    unit_u = u / np.linalg.norm(u, axis=1)[:, None]
    unit_v = v / np.linalg.norm(v, axis=1)[:, None]
    m = 20.0
    cut = p0 + fraction[:, None] * u
    quad = np.stack(
        [
            p0 - m * unit_u - m * unit_v,
            cut - m * unit_v,
            cut + v + m * unit_v,
            p0 + v - m * unit_u + m * unit_v,
        ],
        axis=1,
    )
    return shapely.polygons(quad)


def _explode(geoms: np.ndarray, origin: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split multi-part pieces; the largest part keeps the count, the others get one."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    area = shapely.area(parts)
    keep = area > 0.5
    parts, index, area = parts[keep], index[keep], area[keep]
    order = np.lexsort((-area, index))
    first = np.zeros(len(parts), dtype=bool)
    first[order[np.r_[True, index[order][1:] != index[order][:-1]]]] = True
    return parts, origin[index], np.where(first, count[index], 1)


def _draw_units(rng: np.random.Generator, blocks: np.ndarray, target: int) -> dict:
    """Lots per block, a use per lot, parcels per lot, households and residents per parcel."""
    block_area = shapely.area(blocks)
    lot_counts = np.maximum(1, np.round(block_area / rng.uniform(10000, 18000, len(blocks)))).astype(int)
    lots, lot_block = _subdivide(blocks, lot_counts, rng)
    # small districts have few lots, so land use can miss the target badly: redraw it then
    best, best_gap = None, np.inf
    for _ in range(30):
        drawn = _draw_land_use(rng, lots)
        gap = abs(np.log(target / max(drawn["households"].sum(), 1)))
        if gap < best_gap:
            best, best_gap = drawn, gap
        if gap < np.log(1.15):
            break
    parcels, kind, compound_key = best["geometry"], best["kind"], best["compound_key"]
    adjustable = np.isin(kind, [_COMPOUND, _RESIDENTIAL])
    households = _adjust_households(rng, best["households"], adjustable, compound_key, target)
    sizes = rng.choice(np.array(HOUSEHOLD_SIZES), size=int(households.sum()), p=HOUSEHOLD_SIZE_SHARES)
    population = np.bincount(np.repeat(np.arange(len(parcels)), households), weights=sizes, minlength=len(parcels))
    return {
        "geometry": parcels,
        "lot": best["lot"],
        "block": lot_block[best["lot"]],
        "kind": kind,
        "compound_key": compound_key,
        "households": households,
        "population": population.astype(int),
    }


def _draw_land_use(rng: np.random.Generator, lots: np.ndarray) -> dict:
    """A use per lot, the lot cut into building parcels, and households per building."""
    lot_area = shapely.area(lots)
    kind = rng.choice(_LOT_KINDS, size=len(lots), p=_LOT_KIND_SHARES)
    kind = np.where((lot_area < 2500) & np.isin(kind, [_COMPOUND, _PARK]), _SHOPS, kind)

    n_parcels = np.ones(len(lots), dtype=int)
    is_compound = kind == _COMPOUND
    n_parcels[is_compound] = np.minimum(rng.integers(2, 9, is_compound.sum()), lot_area[is_compound] // 900)
    is_res = kind == _RESIDENTIAL
    n_parcels[is_res] = np.round(lot_area[is_res] / rng.uniform(1800, 3000, is_res.sum()))
    is_shop = kind == _SHOPS
    n_parcels[is_shop] = np.minimum(np.round(lot_area[is_shop] / rng.uniform(500, 900, is_shop.sum())), 6)
    is_office = kind == _OFFICE
    n_parcels[is_office] = rng.integers(1, 3, is_office.sum())
    n_parcels = np.maximum(n_parcels, 1)

    parcels, parcel_lot = _subdivide(lots, n_parcels, rng)
    parcel_kind = kind[parcel_lot]
    per_lot = np.bincount(parcel_lot, minlength=len(lots))
    # a compound needs 2–8 buildings; other sizes are standalone residential buildings
    odd = (parcel_kind == _COMPOUND) & ~np.isin(per_lot[parcel_lot], np.arange(2, 9))
    parcel_kind = np.where(odd, _RESIDENTIAL, parcel_kind)

    households = np.zeros(len(parcels), dtype=int)
    compound_mask = parcel_kind == _COMPOUND
    # per-building cap keeps every compound within _COMPOUND_MAX_HOUSEHOLDS by design
    cap = np.minimum(_BUILDING_MAX_HOUSEHOLDS, _COMPOUND_MAX_HOUSEHOLDS // per_lot[parcel_lot])
    low = np.maximum(_BUILDING_MIN_HOUSEHOLDS, (0.45 * cap).astype(int))
    households[compound_mask] = rng.integers(low[compound_mask], cap[compound_mask] + 1)
    res_mask = parcel_kind == _RESIDENTIAL
    households[res_mask] = np.round(rng.triangular(20, 80, 150, res_mask.sum()))
    shop_mask = parcel_kind == _SHOPS
    households[shop_mask] = rng.integers(1, 11, shop_mask.sum())
    return {
        "geometry": parcels,
        "lot": parcel_lot,
        "kind": parcel_kind,
        "compound_key": np.where(compound_mask, parcel_lot, -1),
        "households": households,
    }


def _adjust_households(
    rng: np.random.Generator,
    households: np.ndarray,
    adjustable: np.ndarray,
    compound_key: np.ndarray,
    target: int,
) -> np.ndarray:
    """Scale residential buildings so the district holds ``target`` households.

    Buildings stay within 20–150 households and compounds within 1,200; the total is
    exact unless the buildings cannot hold it within those limits.
    """
    households = households.copy()
    in_compound = compound_key >= 0
    key = np.where(in_compound, compound_key, 0)
    n_keys = int(key.max()) + 1 if len(key) else 1

    def compound_totals() -> np.ndarray:
        return np.bincount(key[in_compound], weights=households[in_compound], minlength=n_keys).astype(int)

    fixed = households[~adjustable].sum()
    factor = (target - fixed) / max(households[adjustable].sum(), 1)
    scaled = np.round(households[adjustable] * factor).astype(int)
    households[adjustable] = np.clip(scaled, _BUILDING_MIN_HOUSEHOLDS, _BUILDING_MAX_HOUSEHOLDS)
    totals = compound_totals()
    over = in_compound & (totals[key] > _COMPOUND_MAX_HOUSEHOLDS)
    shrink = _COMPOUND_MAX_HOUSEHOLDS / np.maximum(totals[key], 1)
    households[over] = np.maximum(np.floor(households[over] * shrink[over]), _BUILDING_MIN_HOUSEHOLDS)

    # one household at a time, at most one building per compound per round, so the
    # compound cap is checked against up-to-date totals
    first_of_key = np.where(in_compound, key, -1 - np.arange(len(households)))
    for _ in range(10 * _BUILDING_MAX_HOUSEHOLDS):
        totals = compound_totals()
        over = in_compound & (totals[key] > _COMPOUND_MAX_HOUSEHOLDS)
        residual = target - households.sum()
        if residual == 0 and not over.any():
            break
        order = rng.permutation(len(households))
        _, first = np.unique(first_of_key[order], return_index=True)
        candidate = np.zeros(len(households), dtype=bool)
        candidate[order[first]] = True
        candidate &= adjustable
        can_drop = candidate & (households > _BUILDING_MIN_HOUSEHOLDS)
        step = np.zeros(len(households), dtype=int)
        if over.any():
            step[can_drop & over] = -1
        elif residual > 0:
            room = ~in_compound | (totals[key] < _COMPOUND_MAX_HOUSEHOLDS)
            pick = np.flatnonzero(candidate & room & (households < _BUILDING_MAX_HOUSEHOLDS))
            step[rng.permutation(pick)[:residual]] = 1
        else:
            step[rng.permutation(np.flatnonzero(can_drop))[:-residual]] = -1
        if not step.any():
            break
        households += step
    return households


# --------------------------------------------------------------------------- communities


def _group_cells(rng: np.random.Generator, town: dict, units: dict, n: int) -> np.ndarray:
    """Group superblocks into ``n`` contiguous communities of similar household totals.

    Communities stay on one side of the river unless a side is too small for one.
    """
    cells = town["cells"]
    unit_cell = town["block_cell"][units["block"]]
    load = np.bincount(unit_cell, weights=units["households"], minlength=len(cells))
    pairs = shapely.STRtree(cells).query(cells, predicate="touches")
    pairs = pairs[:, pairs[0] < pairs[1]]
    shared = shapely.intersection(shapely.boundary(cells[pairs[0]]), shapely.boundary(cells[pairs[1]]))
    length = shapely.length(shared)
    on_river = np.zeros(len(length), dtype=bool)
    if len(town["river"]):
        river_zone = shapely.buffer(shapely.union_all(town["river"]), 0.5)
        on_river = shapely.length(shapely.intersection(shared, river_zone)) > 0.5 * length
    edges = pairs[:, length > 1.0]
    river_edge = on_river[length > 1.0]

    land = nx.Graph()
    land.add_nodes_from(range(len(cells)))
    land.add_edges_from(edges[:, ~river_edge].T.tolist())
    ideal = load.sum() / n
    for _ in range(len(cells)):
        sides = [sorted(c) for c in nx.connected_components(land)]
        small = {c for s in sides if load[s].sum() < 0.6 * ideal or len(sides) > n for c in s}
        bridges = [(a, b) for a, b in edges[:, river_edge].T.tolist() if (a in small or b in small)]
        bridges = [(a, b) for a, b in bridges if not land.has_edge(a, b)]
        if not small or not bridges:
            break
        # a sliver cut off by the river joins its neighbours rather than forming a tiny community
        land.add_edges_from(bridges)
    sides = [sorted(c) for c in nx.connected_components(land)]
    sides.sort(key=lambda s: -load[s].sum())
    shares = np.array([load[s].sum() for s in sides]) / load.sum() * n
    quota = np.maximum(1, np.floor(shares)).astype(int)
    while quota.sum() < n:
        quota[np.argmax(shares - quota)] += 1
    while quota.sum() > n:
        quota[np.argmax(np.where(quota > 1, quota - shares, -np.inf))] -= 1

    labels = np.full(len(cells), -1)
    next_label = 0
    centroids = shapely.get_coordinates(shapely.centroid(cells))
    for side, k in zip(sides, quota, strict=True):
        grouped = _grow_regions(rng, land.subgraph(side), load, centroids, k)
        for cell, g in grouped.items():
            labels[cell] = next_label + g
        next_label += k
    return labels


def _grow_regions(
    rng: np.random.Generator, graph: nx.Graph, load: np.ndarray, centroids: np.ndarray, k: int
) -> dict[int, int]:
    """Best of a few seeded region-growing runs splitting a connected graph into k regions."""
    nodes = sorted(graph.nodes)
    if k == 1:
        return dict.fromkeys(nodes, 0)
    best, best_score = None, np.inf
    for _ in range(40):
        seeds = [nodes[rng.integers(len(nodes))]]
        while len(seeds) < k:
            d = np.min(np.linalg.norm(centroids[nodes][:, None] - centroids[seeds][None], axis=2), axis=1)
            seeds.append(nodes[int(np.argmax(d * rng.uniform(0.8, 1.0, len(nodes))))])
        region = {s: i for i, s in enumerate(seeds)}
        totals = np.array([load[s] for s in seeds], dtype=float)
        while len(region) < len(nodes):
            grown = False
            for g in np.argsort(totals):
                frontier = sorted({m for c, r in region.items() if r == g for m in graph[c] if m not in region})
                if frontier:
                    pick = frontier[rng.integers(len(frontier))]
                    region[pick] = int(g)
                    totals[g] += load[pick]
                    grown = True
                    break
            if not grown:
                break
        if len(region) < len(nodes):
            continue
        totals = _rebalance(graph, region, load, totals)
        score = np.max(np.abs(totals - totals.mean()))
        if score < best_score:
            best, best_score = region, score
    return best


def _rebalance(graph: nx.Graph, region: dict[int, int], load: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Move border cells from heavier to lighter neighbours while that narrows the spread.

    Changes ``region`` in place (it is the caller's scratch copy) and returns new totals.
    """
    totals = totals.copy()
    ideal = totals.mean()
    for _ in range(4 * len(region)):
        best = None
        for c, a in sorted(region.items()):
            for b in sorted({region[m] for m in graph[c]} - {a}):
                before = max(abs(totals[a] - ideal), abs(totals[b] - ideal))
                after = max(abs(totals[a] - load[c] - ideal), abs(totals[b] + load[c] - ideal))
                if after < before - 1e-9 and (best is None or before - after > best[0]):
                    rest = [m for m, r in region.items() if r == a and m != c]
                    if rest and nx.is_connected(graph.subgraph(rest)):
                        best = (before - after, c, a, b)
        if best is None:
            break
        _, c, a, b = best
        region[c] = b
        totals[a] -= load[c]
        totals[b] += load[c]
    return totals


# --------------------------------------------------------------------------- assembly


def _assemble(rng: np.random.Generator, town: dict, units: dict, labels: np.ndarray) -> dict:
    """Ids, names, admin codes and attribute tables, ordered north-west to south-east."""
    cells = town["cells"]
    n = labels.max() + 1
    community_geoms = np.array([shapely.union_all(cells[labels == g]) for g in range(n)], dtype=object)
    centre = shapely.get_coordinates(shapely.point_on_surface(community_geoms))
    order = np.lexsort((centre[:, 0], -np.round(centre[:, 1] / 400.0)))
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    community_geoms = community_geoms[order]
    community_ids = [f"SQ{i + 1:02d}" for i in range(n)]

    block_community = rank[labels[town["block_cell"]]]
    unit_community = block_community[units["block"]]
    names = _NameDrawer(np.random.default_rng(rng.integers(2**63)))
    street = f"440304{rng.integers(1, 13):03d}"
    households = np.bincount(unit_community, weights=units["households"], minlength=n).astype(int)
    population = np.bincount(unit_community, weights=units["population"], minlength=n).astype(int)
    communities = {
        col.COMMUNITY_ID: community_ids,
        col.COMMUNITY_NAME: [names.draw("社区") for _ in range(n)],
        col.ADMIN_CODE: [f"{street}{i + 1:03d}" for i in range(n)],
        col.HOUSEHOLDS: households,
        col.POPULATION: population,
    }

    blocks = town["blocks"]
    block_xy = shapely.get_coordinates(shapely.centroid(blocks))
    block_order = np.lexsort((block_xy[:, 0], -np.round(block_xy[:, 1] / 150.0), block_community))
    block_rank = np.empty(len(blocks), dtype=int)
    block_rank[block_order] = np.arange(len(blocks))

    parcels = units["geometry"]
    unit_xy = shapely.get_coordinates(shapely.centroid(parcels))
    unit_order = np.lexsort((unit_xy[:, 0], -unit_xy[:, 1], units["lot"], block_rank[units["block"]]))
    parcels = parcels[unit_order]
    compound_key = units["compound_key"][unit_order]
    kind = units["kind"][unit_order]
    hh = units["households"][unit_order]
    compound_ids = {}
    for key in compound_key[compound_key >= 0]:
        compound_ids.setdefault(key, f"XQ{len(compound_ids) + 1:04d}")
    compound = [compound_ids.get(k) for k in compound_key]
    building = [f"LD{i + 1:05d}" for i in range(len(parcels))]
    unit_ids = [f"U{i + 1:05d}" for i in range(len(parcels))]
    community_of_unit = unit_community[unit_order]

    # footprints: the parcel shrunk by a setback that grows with the parcel
    setback = np.clip(0.18 * np.sqrt(shapely.area(parcels)), 3.0, 18.0)
    footprints = shapely.buffer(parcels, -setback, join_style="mitre")
    footprints = np.where(shapely.is_empty(footprints), shapely.buffer(parcels, -1.0, join_style="mitre"), footprints)
    floors = np.where(
        hh >= _BUILDING_MIN_HOUSEHOLDS,
        np.ceil(hh / rng.integers(4, 9, len(hh))),
        rng.integers(2, 7, len(hh)),
    ).astype(int)
    return {
        "communities": communities,
        "community_geoms": community_geoms,
        "community_ids": community_ids,
        "blocks": {
            "block_id": [f"K{i + 1:04d}" for i in range(len(blocks))],
            col.COMMUNITY: [community_ids[c] for c in block_community[block_order]],
        },
        "block_geoms": blocks[block_order],
        "units": {
            col.UNIT_ID: unit_ids,
            col.HOUSEHOLDS: hh,
            col.POPULATION: units["population"][unit_order],
            col.COMPOUND: compound,
            col.BUILDING: building,
            col.COMMUNITY: [community_ids[c] for c in community_of_unit],
            "kind": kind,
        },
        "unit_geoms": parcels,
        "unit_community": unit_community,
        "buildings": {col.BUILDING: building, col.UNIT_ID: unit_ids, "kind": kind, "floors": floors},
        "building_geoms": footprints,
    }


# --------------------------------------------------------------------------- streets and patrols


def _street_graph(roads: np.ndarray) -> nx.Graph:
    """Undirected street graph: nodes at junctions and ends, edges carry length and coordinates."""
    segments = shapely.get_parts(shapely.union_all(roads))
    graph = nx.Graph()
    for seg in segments:
        xy = shapely.get_coordinates(seg)
        a, b = tuple(np.round(xy[0], 2)), tuple(np.round(xy[-1], 2))
        if a == b:
            continue
        length = float(seg.length)
        if not graph.has_edge(a, b) or graph[a][b]["length"] > length:
            graph.add_edge(a, b, length=length, xy=xy)
    largest = max(nx.connected_components(graph), key=len)
    return graph.subgraph(largest).copy()


def _draw_tracks(
    rng: np.random.Generator,
    graph: nx.Graph,
    community_geoms: np.ndarray,
    community_ids: list[str],
    start: datetime,
    workers: int,
    days: int,
) -> dict:
    """Two patrols of about an hour per worker and day, walking shortest paths between stops."""
    nodes = np.array(list(graph.nodes))
    # the streets on a community's border are its patrol area too
    near = shapely.STRtree(shapely.points(nodes)).query(community_geoms, predicate="dwithin", distance=10.0)
    day0 = pd.Timestamp(start).normalize()
    out = {"worker_id": [], "patrol_id": [], "recorded_at": [], col.COMMUNITY: [], "geometry": []}
    for w in range(workers):
        home = w % len(community_geoms)
        mine = np.sort(near[1][near[0] == home])
        if len(mine) < 2:
            mine = np.arange(len(nodes))
        for day in range(days):
            for shift_name, hour in (("am", 9.0), ("pm", 14.5)):
                begin = day0 + pd.Timedelta(days=day, hours=hour, seconds=int(rng.integers(-1800, 1800)))
                duration = rng.uniform(50, 70) * 60
                xy = _walk(rng, graph, nodes, mine, _WALK_SPEED * duration * 1.1)
                times, points = _sample_gps(rng, xy, duration)
                n = len(points)
                out["worker_id"] += [f"W{w + 1:02d}"] * n
                out["patrol_id"] += [f"W{w + 1:02d}-{day + 1:02d}{shift_name}"] * n
                out["recorded_at"].append(begin + pd.to_timedelta(times, unit="s"))
                out[col.COMMUNITY] += [community_ids[home]] * n
                out["geometry"].append(points)
    if not out["recorded_at"]:
        out["recorded_at"] = pd.DatetimeIndex([], tz=day0.tz)
        out["geometry"] = np.array([], dtype=object)
    else:
        out["recorded_at"] = out["recorded_at"][0].append(out["recorded_at"][1:])
        out["geometry"] = np.concatenate(out["geometry"])
    return out


def _walk(
    rng: np.random.Generator, graph: nx.Graph, nodes: np.ndarray, mine: np.ndarray, distance: float
) -> np.ndarray:
    """Coordinates of a walk through shortest paths to random stops in the worker's community."""
    i = int(rng.integers(len(mine)))
    here = tuple(nodes[mine[i]])
    pieces, walked = [np.array([here])], 0.0
    while walked < distance:
        # any other stop: skip over the current one so every leg moves
        i = (i + 1 + int(rng.integers(len(mine) - 1))) % len(mine)
        there = tuple(nodes[mine[i]])
        path = nx.shortest_path(graph, here, there, weight="length")
        for a, b in pairwise(path):
            xy = graph[a][b]["xy"]
            if np.linalg.norm(xy[0] - np.array(a)) > 0.05:
                xy = xy[::-1]
            pieces.append(xy[1:])
            walked += graph[a][b]["length"]
        here = there
    return np.concatenate(pieces)


def _sample_gps(rng: np.random.Generator, xy: np.ndarray, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """GPS fixes every 10 s along a walk, with pauses and a few metres of noise."""
    line = shapely.LineString(xy)
    times = np.arange(0.0, duration, _GPS_INTERVAL)
    speed = np.clip(rng.normal(_WALK_SPEED, 0.15, len(times)), 0.3, None)
    speed[rng.random(len(times)) < 0.12] = 0.0  # stops to talk to residents or check a site
    travelled = np.minimum(np.concatenate([[0.0], np.cumsum(speed[:-1] * _GPS_INTERVAL)]), line.length)
    points = shapely.get_coordinates(shapely.line_interpolate_point(line, travelled))
    points = points + rng.normal(0.0, 4.0, points.shape)
    return times, shapely.points(points)


# --------------------------------------------------------------------------- incidents


def _draw_incidents(
    rng: np.random.Generator,
    units: dict,
    unit_community: np.ndarray,
    households: int,
    start: datetime,
    days: int,
) -> dict:
    """Incidents near a few hotspots plus a population-weighted background, with a daily rhythm."""
    n = round(households / 50 * days / 90)
    parcels, pop = units["geometry"], units["population"].astype(float)
    xy = shapely.get_coordinates(shapely.centroid(parcels))
    n_hot = int(rng.integers(3, 7))
    hot = rng.choice(len(parcels), size=n_hot, replace=False, p=(pop + 1) / (pop + 1).sum())
    hot_categories = rng.dirichlet(_CATEGORY_SHARES * 15, n_hot)
    hot_episodes = rng.uniform(0, max(days, 1), (n_hot, 3))

    from_hotspot = rng.random(n) < 0.5
    which = rng.integers(n_hot, size=n)
    unit = np.empty(n, dtype=int)
    weights_bg = pop + 5.0
    unit[~from_hotspot] = rng.choice(len(parcels), size=(~from_hotspot).sum(), p=weights_bg / weights_bg.sum())
    category = rng.choice(len(INCIDENT_CATEGORIES), size=n, p=_CATEGORY_SHARES)
    day = rng.uniform(0, max(days, 1), n)
    for h in range(n_hot):
        mine = from_hotspot & (which == h)
        d2 = np.sum((xy - xy[hot[h]]) ** 2, axis=1)
        w = np.exp(-d2 / (2 * rng.uniform(80, 160) ** 2)) * (pop + 20)
        unit[mine] = rng.choice(len(parcels), size=mine.sum(), p=w / w.sum())
        category[mine] = rng.choice(len(INCIDENT_CATEGORIES), size=mine.sum(), p=hot_categories[h])
        # hotspot reports come in bursts around a few episodes
        episode = hot_episodes[h, rng.integers(3, size=mine.sum())]
        day[mine] = np.clip(episode + rng.normal(0, 2.5, mine.sum()), 0, max(days, 1) - 1e-6)
    hour = rng.choice(24, size=n, p=_HOURLY_WEIGHTS / _HOURLY_WEIGHTS.sum())
    seconds = np.floor(day) * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    reported = pd.Timestamp(start) + pd.to_timedelta(np.sort(seconds), unit="s")
    order = np.argsort(seconds, kind="stable")
    unit, category = unit[order], category[order]

    # a point inside the parcel: part way from an inner point towards its edge
    inner = shapely.get_coordinates(shapely.point_on_surface(parcels[unit]))
    edge = shapely.get_coordinates(
        shapely.line_interpolate_point(shapely.get_exterior_ring(parcels[unit]), rng.random(n), normalized=True)
    )
    t = rng.uniform(0.0, 0.85, n)[:, None]
    points = shapely.points(inner + t * (edge - inner))
    return {
        "geometry": points,
        "category": np.array(INCIDENT_CATEGORIES)[category],
        "reported_at": reported,
        "community": unit_community[unit],
    }
