"""Small synthetic districts for property tests of the partition engine.

A district is a lattice of rectangles in metres (EPSG:3826, TWD97 / TM2) whose columns
and rows have jittered widths, like city blocks::

    y3 +-----+-------+----+
       |  6  |   7   |  8 |     communities: unions of whole columns (or rows)
    y2 +-----+---~~~-+----+     river (hard): one inner lattice line, end to end
       |  3  |   4   |  5 |     streets (soft): other lattice lines
    y1 +-----+-------+----+     compounds: 2–3 neighbouring units of one row, on one
       |  0  |   1   |  2 |                side of the river, in one community
    y0 +-----+-------+----+
       x0    x1      x2   x3

Units hold 0–160 households (zeros included) of 2–3.5 residents each; now and then one
unit holds more than a grid may. The point variant keeps each unit's centroid as its
address point and always comes with community polygons to tessellate in.

The plain builders (`lattice_units`, `square_lattice`, `band_communities`, `district_from`)
make the hand-drawn districts of the example tests; `districts` draws whole districts for
the invariants.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import strategies as st

from gis.columns import (
    ADMIN_CODE,
    COMMUNITY,
    COMMUNITY_ID,
    COMMUNITY_NAME,
    COMPOUND,
    HARD,
    HOUSEHOLDS,
    POPULATION,
    UNIT_ID,
)

__all__ = [
    "CRS",
    "ORIGIN",
    "District",
    "band_communities",
    "counts",
    "district_from",
    "districts",
    "lattice_units",
    "lattices",
    "square_lattice",
]

CRS = "EPSG:3826"
ORIGIN = (300_000.0, 2_770_000.0)  # TWD97 / TM2 metres, near Taipei
NO_COMMUNITY = "district"  # the one container of a district without communities
RIVER_OVERHANG = 20.0  # metres the river runs past the lattice on each side


@dataclass(frozen=True, repr=False)
class District:
    """A drawn district and what the tests know about it without running the engine.

    ``community_of`` maps each unit id to the community it must nest in (``"district"``
    when there are no communities); ``outlines`` is the area each community's grids
    must tile; ``river`` is the hard barrier line, if any.
    """

    units: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame | None
    barriers: gpd.GeoDataFrame | None
    community_of: dict[str, str]
    outlines: dict[str, shapely.Geometry]
    river: shapely.LineString | None
    points: bool

    def __repr__(self) -> str:
        # hypothesis prints falsifying examples with repr: show every row, not pandas' summary
        def rows(frame: gpd.GeoDataFrame | None) -> str:
            if frame is None:
                return "None"
            table = frame.drop(columns=frame.geometry.name).assign(wkt=frame.geometry.to_wkt())
            return repr(table.to_dict("records"))

        return (
            f"District(points={self.points}, units={rows(self.units)}, "
            f"communities={rows(self.communities)}, barriers={rows(self.barriers)})"
        )

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        # hypothesis' pretty printer looks for this before falling back to dataclass fields
        printer.text(repr(self))

    def kwargs(self) -> dict:
        """Keyword arguments of ``partition()`` besides the units."""
        return {"communities": self.communities, "barriers": self.barriers, "crs": CRS}

    def fingerprint(self) -> str:
        """Text that differs whenever the inputs differ, to reuse one engine run per district."""
        parts = [self.units.to_json(sort_keys=True)]
        for frame in (self.communities, self.barriers):
            parts.append("" if frame is None else frame.to_json(sort_keys=True))
        return "\n".join(parts)


def lattice_units(
    xs: Sequence[float],
    ys: Sequence[float],
    households: Sequence[int],
    population: Sequence[int],
    *,
    crs: str = CRS,
) -> gpd.GeoDataFrame:
    """Rectangular units between column edges ``xs`` and row edges ``ys``, row by row from the south.

    Unit ``r*cols + c`` (id ``"u{r}_{c}"``) is the rectangle of row ``r`` and column ``c``.

    Examples
    --------
    >>> lattice_units([0, 100, 200], [0, 100], [1, 2], [3, 6])[UNIT_ID].tolist()
    ['u0_0', 'u0_1']
    """
    cols, rows = len(xs) - 1, len(ys) - 1
    boxes = [shapely.box(xs[c], ys[r], xs[c + 1], ys[r + 1]) for r in range(rows) for c in range(cols)]
    ids = [f"u{r}_{c}" for r in range(rows) for c in range(cols)]
    return gpd.GeoDataFrame(
        {
            UNIT_ID: ids,
            HOUSEHOLDS: np.asarray(households, dtype=np.int64),
            POPULATION: np.asarray(population, dtype=np.int64),
        },
        geometry=boxes,
        crs=crs,
    )


def square_lattice(
    cols: int, rows: int, households: Sequence[int], population: Sequence[int], *, size: float = 100.0
) -> gpd.GeoDataFrame:
    """`lattice_units` with ``cols`` × ``rows`` squares of ``size`` metres from `ORIGIN`.

    Examples
    --------
    >>> square_lattice(2, 1, [1, 2], [3, 6]).total_bounds.tolist()
    [300000.0, 2770000.0, 300200.0, 2770100.0]
    """
    xs = [ORIGIN[0] + size * c for c in range(cols + 1)]
    ys = [ORIGIN[1] + size * r for r in range(rows + 1)]
    return lattice_units(xs, ys, households, population)


def band_communities(
    xs: Sequence[float],
    ys: Sequence[float],
    cuts: Sequence[int],
    *,
    by: str = "columns",
    admin_codes: bool = True,
    crs: str = CRS,
) -> gpd.GeoDataFrame:
    """Communities ``C1``, ``C2``, … as bands of whole lattice columns (or rows) split at ``cuts``.

    ``cuts`` are inner lattice line indices; with admin codes community ``i`` gets
    ``630100001`` + ``i`` as three digits (12 digits in all).

    Examples
    --------
    >>> band_communities([0, 1, 2, 3], [0, 1], [2])[ADMIN_CODE].tolist()
    ['630100001001', '630100001002']
    """
    edges = list(xs if by == "columns" else ys)
    stops = [0, *sorted(cuts), len(edges) - 1]
    geoms = []
    for a, b in itertools.pairwise(stops):
        if by == "columns":
            geoms.append(shapely.box(edges[a], ys[0], edges[b], ys[-1]))
        else:
            geoms.append(shapely.box(xs[0], edges[a], xs[-1], edges[b]))
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            COMMUNITY_ID: [f"C{i}" for i in range(1, n + 1)],
            COMMUNITY_NAME: [f"Village {i}" for i in range(1, n + 1)],
            ADMIN_CODE: [f"630100001{i:03d}" if admin_codes else None for i in range(1, n + 1)],
        },
        geometry=geoms,
        crs=crs,
    )


def district_from(
    units: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
) -> District:
    """A `District` from hand-made frames, working out what the tests expect.

    A unit's community is its ``community`` value, else the community polygon holding its
    representative point; the outlines are the community polygons, else the union of the
    units (polygon units only); the river is the union of the hard barrier lines.
    """
    points = bool((shapely.get_type_id(units.geometry.values) == 0).all())
    if communities is None:
        if points:
            raise ValueError("point districts need community polygons to tessellate in")
        community_of = dict.fromkeys(units[UNIT_ID], NO_COMMUNITY)
        outlines = {NO_COMMUNITY: shapely.union_all(units.geometry.values)}
    else:
        ids = communities[COMMUNITY_ID].to_numpy()
        if COMMUNITY in units.columns:
            owner = units[COMMUNITY].to_numpy()
        else:
            anchors = shapely.point_on_surface(units.geometry.values)
            polygons = np.asarray(communities.geometry.values, dtype=object)
            inside = shapely.contains(polygons[:, None], anchors[None, :])
            owner = ids[inside.argmax(axis=0)]
        community_of = dict(zip(units[UNIT_ID], owner, strict=True))
        outlines = dict(zip(ids, communities.geometry.values, strict=True))
    river = None
    if barriers is not None and barriers[HARD].any():
        river = shapely.union_all(barriers.geometry.values[barriers[HARD].to_numpy(dtype=bool)])
    return District(units, communities, barriers, community_of, outlines, river, points)


@st.composite
def lattices(
    draw: st.DrawFn,
    *,
    min_cols: int = 2,
    max_cols: int = 9,
    min_rows: int = 2,
    max_rows: int = 9,
    max_units: int = 80,
) -> tuple[list[float], list[float]]:
    """Column and row edges (metres) of a lattice of at most ``max_units`` rectangles 60–140 m wide."""
    cols = draw(st.integers(min_cols, max_cols))
    rows = draw(st.integers(min_rows, max(min_rows, min(max_rows, max_units // cols))))
    widths = draw(st.lists(st.integers(60, 140), min_size=cols, max_size=cols))
    heights = draw(st.lists(st.integers(60, 140), min_size=rows, max_size=rows))
    xs = (ORIGIN[0] + np.concatenate([[0], np.cumsum(widths)])).tolist()
    ys = (ORIGIN[1] + np.concatenate([[0], np.cumsum(heights)])).tolist()
    return xs, ys


@st.composite
def counts(draw: st.DrawFn, n: int, *, oversized: bool | None = None) -> tuple[list[int], list[int]]:
    """Households (0–160, a quarter or half of them 0) and residents (2–3.5 a household) of ``n`` units.

    With ``oversized`` (drawn when ``None``) one unit holds 501–650 households, more than
    any grid may.
    """
    # half the districts have many empty units (parks, industry), where pieces with nobody form
    if draw(st.booleans()):
        some = st.one_of(st.just(0), st.integers(1, 160))
    else:
        some = st.one_of(st.just(0), st.integers(1, 160), st.integers(20, 160), st.integers(20, 160))
    households = draw(st.lists(some, min_size=n, max_size=n))
    sizes = draw(st.lists(st.floats(2.0, 3.5), min_size=n, max_size=n))
    if oversized is None:
        oversized = draw(st.integers(0, 5)) == 0
    if oversized:
        households[draw(st.integers(0, n - 1))] = draw(st.integers(501, 650))
    population = [round(h * s) for h, s in zip(households, sizes, strict=True)]
    return households, population


def _band_of(index: int, cuts: Sequence[int]) -> int:
    return int(np.searchsorted(sorted(cuts), index, side="right"))


@st.composite
def districts(
    draw: st.DrawFn,
    *,
    points: bool | None = False,
    communities: bool | None = None,
    barriers: bool | None = None,
    compounds: bool | None = None,
    shared_spots: bool | None = False,
    max_units: int = 80,
) -> District:
    """A small district; each option is drawn when ``None`` and forced otherwise.

    Parameters
    ----------
    points
        Units as address points (centroids) instead of rectangles; implies communities.
    communities
        1–3 communities as bands of columns or rows, with or without admin codes, named
        on the units (``community`` column) or found by the engine from the polygons.
    barriers
        A hard river along one inner lattice line plus 0–2 soft streets.
    compounds
        Runs of 2–3 neighbouring units of one row sharing a compound id.
    shared_spots
        With points, 1–2 more units (``d0``, ``d1``) at the very spot of others, as when
        two buildings are geocoded to one address.
    max_units
        Upper bound on the number of units.
    """
    if points is None:
        points = draw(st.booleans())
    if communities is None:
        communities = True if points else draw(st.booleans())
    if points and not communities:
        raise ValueError("point districts need community polygons to tessellate in")
    if barriers is None:
        barriers = draw(st.booleans())
    if compounds is None:
        compounds = draw(st.booleans())
    xs, ys = draw(lattices(max_units=max_units))
    cols, rows = len(xs) - 1, len(ys) - 1
    n = cols * rows
    households, population = draw(counts(n))
    units = lattice_units(xs, ys, households, population)
    col_of = np.tile(np.arange(cols), rows)
    row_of = np.repeat(np.arange(rows), cols)

    river_side = np.zeros(n, dtype=np.int64)
    lines, hard = [], []
    if barriers:
        vertical = draw(st.booleans())
        at = draw(st.integers(1, (cols if vertical else rows) - 1))
        if vertical:
            ends = [(xs[at], ys[0] - RIVER_OVERHANG), (xs[at], ys[-1] + RIVER_OVERHANG)]
            river_side = (col_of >= at).astype(np.int64)
        else:
            ends = [(xs[0] - RIVER_OVERHANG, ys[at]), (xs[-1] + RIVER_OVERHANG, ys[at])]
            river_side = (row_of >= at).astype(np.int64)
        lines.append(shapely.LineString(ends))
        hard.append(True)
        for _ in range(draw(st.integers(0, 2))):
            # a street from the lattice's edge along an inner line, maybe not all the way across
            if draw(st.booleans()):
                x = xs[draw(st.integers(1, cols - 1))]
                lines.append(shapely.LineString([(x, ys[0]), (x, ys[draw(st.integers(1, rows))])]))
            else:
                y = ys[draw(st.integers(1, rows - 1))]
                lines.append(shapely.LineString([(xs[0], y), (xs[draw(st.integers(1, cols))], y)]))
            hard.append(False)
    bars = gpd.GeoDataFrame({HARD: hard}, geometry=lines, crs=CRS) if lines else None

    comm = None
    band = np.zeros(n, dtype=np.int64)
    if communities:
        by = draw(st.sampled_from(["columns", "rows"]))
        inner = cols if by == "columns" else rows
        k = draw(st.integers(1, min(3, inner)))
        cuts = sorted(draw(st.lists(st.integers(1, inner - 1), min_size=k - 1, max_size=k - 1, unique=True)))
        comm = band_communities(xs, ys, cuts, by=by, admin_codes=draw(st.booleans()))
        band = np.array([_band_of(i, cuts) for i in (col_of if by == "columns" else row_of)])
        if draw(st.booleans()):
            units[COMMUNITY] = comm[COMMUNITY_ID].to_numpy()[band]

    if compounds:
        compound = np.full(n, None, dtype=object)
        i = 0
        while i < n:
            length = draw(st.sampled_from([0, 0, 2, 3]))
            run = [i + j for j in range(length) if i + j < n and row_of[i + j] == row_of[i]]
            together = len(run) >= 2 and all(band[j] == band[i] and river_side[j] == river_side[i] for j in run)
            if together:
                compound[run] = f"K{i}"
            i += max(1, len(run))
        units[COMPOUND] = compound

    if points:
        units = units.set_geometry(units.geometry.centroid)
        if shared_spots is None:
            shared_spots = draw(st.booleans())
        if shared_spots:
            hosts = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True))
            extra_h, extra_p = draw(counts(len(hosts), oversized=False))
            extra = units.iloc[hosts].assign(
                **{
                    UNIT_ID: [f"d{i}" for i in range(len(hosts))],
                    HOUSEHOLDS: np.asarray(extra_h, dtype=np.int64),
                    POPULATION: np.asarray(extra_p, dtype=np.int64),
                }
            )
            if COMPOUND in extra.columns:
                extra[COMPOUND] = None
            units = gpd.GeoDataFrame(pd.concat([units, extra], ignore_index=True), crs=CRS)
    return district_from(units, communities=comm, barriers=bars)
