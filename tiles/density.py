"""Incident density tiles: hexagon or square bins with counts, summed from the stored bins where possible.

Bins come from one lattice per level over the whole Web Mercator plane: a cell of
level ``L`` measures :data:`WORLD` ``/ 2**L`` metres (a square's side, a pointy-top
hexagon's circumradius), squares counted from the origin, hexagons centred on it. A
tile of zoom ``z`` with ``2**c`` cells across uses level ``z + c``, so the same bin
has the same count in every tile it touches.

Where the counts come from (:func:`plan_parts`):

* ``incident_bin`` holds the counts per cell of the levels in :data:`LEVELS`, per
  category, status and public flag, over all time; triggers keep it exact in the same
  transaction as every change of ``incident`` (migration 0007). A tile of such a level
  without a time window sums its rows (a few thousand, whatever the number of incidents).
* A time window is met by counting the incidents inside it one by one, or, when the
  window holds most of them (the public view ends only a day ago), by the stored bins
  minus the incidents outside it. ``incident_day`` (incidents per day) tells which is
  smaller, and whether they are few enough to be read by time before place.
* Finer levels (zoom 14 and up with the default 16 cells) count the incidents in and
  around the tile, which then holds few of them.

Both ways give the same counts: the cell arithmetic here is the one of migration 0007
(``tests/tiles/test_bins_store.py`` checks it). Bins holding fewer than ``min_count``
incidents are left out after the parts are added up, so the public view's k holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import morecantile
from psycopg import AsyncConnection

from gis.errors import InputError
from tiles.layers import BUFFER, EXTENT
from tiles.service import Tile, TileService

__all__ = [
    "CELLS",
    "LEVELS",
    "SHAPES",
    "WORLD",
    "DensityQuery",
    "Part",
    "WindowCounts",
    "density_tile",
    "plan_parts",
    "tile_sql",
]

LEVELS = range(12, 18)  # the levels migration 0007 keeps in incident_bin
CELLS = (4, 8, 16, 32, 64)  # bins across a tile: powers of two, so bins follow one lattice per level
SHAPES = ("hex", "square")
WORLD = 40075016.685578488  # the Web Mercator world's width in metres
SQRT3 = math.sqrt(3.0)
_HALF = WORLD / 2


@dataclass(frozen=True)
class DensityQuery:
    """What a density tile counts.

    Parameters
    ----------
    shape
        ``hex`` or ``square``.
    cells
        Bins across a tile, one of :data:`CELLS`.
    category
        A category code; its sub-categories count too.
    statuses
        Only incidents in these states.
    start, end
        Only incidents reported in ``[start, end)`` (timezone-aware).
    public
        When given, only incidents flagged public of these categories (the public view).
    min_count
        Bins holding fewer incidents are left out.
    """

    shape: str = "hex"
    cells: int = 16
    category: str | None = None
    statuses: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    public: tuple[str, ...] | None = None
    min_count: int = 1

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise InputError(f"unknown bin shape {self.shape!r}: expected one of {list(SHAPES)}", field="bin")
        if self.cells not in CELLS:
            raise InputError(f"cells={self.cells}: expected one of {list(CELLS)} bins across a tile", field="cells")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise InputError(f"the time window ends ({self.end}) before it starts ({self.start})", field="to")

    def level(self, z: int) -> int:
        """The lattice level of the bins at zoom ``z``."""
        return z + int(math.log2(self.cells))


@dataclass(frozen=True)
class Part:
    """One source of counts: the stored bins, or the incidents reported in ``[start, end)``, added with ``sign``.

    ``by_time``: read the incidents by their time first (few of them in the range).
    """

    source: str  # "bins" | "incidents"
    sign: int = 1
    start: datetime | None = None
    end: datetime | None = None
    by_time: bool = False


@dataclass(frozen=True)
class WindowCounts:
    """Incidents reported before a time window, in it and after it (estimates, by whole days)."""

    before: int
    inside: int
    after: int


def plan_parts(query: DensityQuery, z: int, counts: WindowCounts | None = None) -> list[Part]:
    """The sources whose counts add up to the tile's.

    Parameters
    ----------
    query
        What the tile counts.
    z
        The tile's zoom.
    counts
        How many incidents lie before, in and after the query's time window (from
        ``incident_day``); needed only for a windowed query, which without them is
        counted from the incidents.

    Examples
    --------
    >>> plan_parts(DensityQuery(), 12)
    [Part(source='bins', sign=1, start=None, end=None, by_time=False)]
    >>> plan_parts(DensityQuery(), 15)
    [Part(source='incidents', sign=1, start=None, end=None, by_time=False)]
    """
    windowed = query.start is not None or query.end is not None
    if not windowed:
        return [Part("bins") if query.level(z) in LEVELS else Part("incidents")]
    if counts is None:
        return [Part("incidents", 1, query.start, query.end)]
    # Read a range by time first when it holds fewer incidents than the tile is likely to:
    # a city fills a tile of zoom 11 or so, a quarter of that a zoom further in.
    few = (counts.before + counts.inside + counts.after) / 4 ** max(0, z - 11)
    if query.level(z) not in LEVELS or counts.inside <= counts.before + counts.after:
        return [Part("incidents", 1, query.start, query.end, counts.inside <= few)]
    parts = [Part("bins")]
    if query.start is not None:
        parts.append(Part("incidents", -1, None, query.start, counts.before <= few))
    if query.end is not None:
        parts.append(Part("incidents", -1, query.end, None, counts.after <= few))
    return parts


def _cell_sql(shape: str, level: int) -> str:
    """``SELECT i, j, <columns>`` of the points of ``pts`` (x, y in EPSG:3857) in the cells of ``level``.

    The arithmetic and its constants are those of migration 0007, so a point lands in the
    same cell here as in ``incident_bin``.
    """
    if shape == "square":
        k = 2.0**level / WORLD
        return f"SELECT floor(x * {k!r})::int AS i, floor(y * {k!r})::int AS j FROM pts"
    a, b = 2.0**level / (SQRT3 * WORLD), 2.0**level / WORLD
    return f"""
        SELECT (q - r)::int AS i, r::int AS j FROM (
            SELECT floor((t + v) / 3) AS r, floor((u + t) / 3) AS q FROM (
                SELECT floor(a + b + 1) AS t, floor(2 * a + 1) AS u, floor(b - a + 1) AS v FROM (
                    SELECT x * {a!r} AS a, y * {b!r} AS b FROM pts OFFSET 0
                ) AS p1 OFFSET 0
            ) AS p2 OFFSET 0
        ) AS p3
    """


def _filters(alias: str) -> str:
    return f"""
        AND (%(category)s::text IS NULL OR {alias}.category = %(category)s OR {alias}.category LIKE %(sub)s)
        AND (%(statuses)s::text[] IS NULL OR {alias}.status = ANY(%(statuses)s::text[]))
        AND (%(public)s::text[] IS NULL OR ({alias}.public AND {alias}.category = ANY(%(public)s::text[])))
    """


def _part_sql(part: Part, n: int, shape: str, level: int) -> str:
    if part.source == "bins":
        return f"""
            SELECT b.i, b.j, sum(b.n)::bigint AS n FROM incident_bin AS b
            WHERE b.shape = %(shape)s AND b.level = %(level)s
              AND b.i BETWEEN %(i0)s AND %(i1)s AND b.j BETWEEN %(j0)s AND %(j1)s {_filters("b")}
            GROUP BY b.i, b.j
        """
    times = ""
    if part.start is not None:
        times += f" AND t.reported_at >= %(start{n})s"
    if part.end is not None:
        times += f" AND t.reported_at < %(end{n})s"
    box = "t.geom_3857 && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 3857)"
    if part.by_time:
        # the few incidents of the range by the (district_id, reported_at) index, then those in the box;
        # MATERIALIZED keeps the planner from going by the box, whose selectivity it cannot know
        rows = f"""
            WITH ranged AS MATERIALIZED (
                SELECT t.geom_3857, t.category, t.status, t.public FROM incident AS t
                WHERE t.district_id = ANY(ARRAY(SELECT id FROM district)){times}
            )
            SELECT ST_X(t.geom_3857) AS x, ST_Y(t.geom_3857) AS y FROM ranged AS t WHERE {box} {_filters("t")}
        """
    else:
        rows = f"""
            SELECT ST_X(t.geom_3857) AS x, ST_Y(t.geom_3857) AS y FROM incident AS t
            WHERE {box} {_filters("t")}{times}
        """
    return f"""
        SELECT c.i, c.j, {part.sign} * count(*) AS n FROM (
            WITH pts AS ({rows})
            {_cell_sql(shape, level)}
        ) AS c
        WHERE c.i BETWEEN %(i0)s AND %(i1)s AND c.j BETWEEN %(j0)s AND %(j1)s
        GROUP BY c.i, c.j
    """


def _polygon_sql(shape: str) -> str:
    """The bin of ``(i, j)`` at cell size ``%(size)s`` as a Web Mercator polygon."""
    if shape == "square":
        return "ST_MakeEnvelope(i * %(size)s, j * %(size)s, (i + 1) * %(size)s, (j + 1) * %(size)s, 3857)"
    corners = ", ".join(
        f"ST_MakePoint(cx + %(size)s * {math.cos(math.radians(30 + 60 * k))!r}, "
        f"cy + %(size)s * {math.sin(math.radians(30 + 60 * k))!r})"
        for k in (*range(6), 0)
    )
    return f"ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY[{corners}])), 3857)"


def tile_sql(shape: str, level: int, parts: list[Part]) -> str:
    """The statement returning the density tile (layer ``incident_density``) as bytea.

    Each bin carries ``count`` and ``per_km2`` (incidents per square kilometre of ground,
    Web Mercator's stretch undone at the bin's latitude).
    """
    union = "\n UNION ALL ".join(_part_sql(p, n, shape, level) for n, p in enumerate(parts))
    centre = (
        "SELECT i, j, n, i * %(size)s + %(size)s / 2 AS cx, j * %(size)s + %(size)s / 2 AS cy FROM counted"
        if shape == "square"
        else f"SELECT i, j, n, %(size)s * {SQRT3!r} * (i + j / 2.0) AS cx, %(size)s * 1.5 * j AS cy FROM counted"
    )
    area = "%(size)s * %(size)s" if shape == "square" else f"%(size)s * %(size)s * {1.5 * SQRT3!r}"
    return f"""
        WITH counted AS MATERIALIZED (  -- polygons per bin, not per row summed into it
            SELECT i, j, sum(n)::bigint AS n FROM ({union}) AS u GROUP BY i, j HAVING sum(n) >= %(k)s
        ), placed AS (
            SELECT n, cy, {_polygon_sql(shape)} AS geom FROM ({centre}) AS c
        ), shown AS (
            -- bins overlapping the tile, not those only touching its edge
            SELECT n, cy, geom FROM placed
            WHERE ST_Intersects(geom, ST_MakeEnvelope(%(tx0)s + 0.001, %(ty0)s + 0.001, %(tx1)s - 0.001,
                                                      %(ty1)s - 0.001, 3857))
        )
        SELECT coalesce(ST_AsMVT(t, 'incident_density', {EXTENT}, 'geom'), ''::bytea) FROM (
            SELECT n::int AS count,
                   round((n / ({area} * power(cos(2 * atan(exp(cy / 6378137.0)) - pi() / 2), 2) / 1e6))::numeric,
                         1)::float8 AS per_km2,
                   ST_AsMVTGeom(geom, ST_MakeEnvelope(%(tx0)s, %(ty0)s, %(tx1)s, %(ty1)s, 3857), {EXTENT}, {BUFFER},
                                true) AS geom
            FROM shown
        ) AS t
    """


def tile_params(query: DensityQuery, tile: morecantile.Tile, parts: list[Part]) -> dict[str, Any]:
    """Parameters of :func:`tile_sql` for ``tile``: its box, the cell range, the filters."""
    level = query.level(tile.z)
    size = WORLD / 2**level
    span = WORLD / 2**tile.z
    tx0, ty1 = -_HALF + tile.x * span, _HALF - tile.y * span
    tx1, ty0 = tx0 + span, ty1 - span
    if query.shape == "square":
        # squares nest in the tile: only points inside it count, the cells are the tile's own
        per = 2 ** (level - tile.z)
        i0 = (tile.x - 2 ** (tile.z - 1)) * per
        j0 = (2 ** (tile.z - 1) - tile.y - 1) * per
        i1, j1, margin = i0 + per - 1, j0 + per - 1, 0.0
    else:
        # every hexagon overlapping the tile, and every point of those hexagons
        j0 = math.floor((ty0 - size) / (1.5 * size)) - 1
        j1 = math.ceil((ty1 + size) / (1.5 * size)) + 1
        i0 = math.floor(tx0 / (SQRT3 * size) - 0.5 - j1 / 2) - 1
        i1 = math.ceil(tx1 / (SQRT3 * size) + 0.5 - j0 / 2) + 1
        margin = 2 * size
    params: dict[str, Any] = {
        "shape": query.shape,
        "level": level,
        "size": size,
        "i0": i0,
        "i1": i1,
        "j0": j0,
        "j1": j1,
        "x0": tx0 - margin,
        "y0": ty0 - margin,
        "x1": tx1 + margin,
        "y1": ty1 + margin,
        "tx0": tx0,
        "ty0": ty0,
        "tx1": tx1,
        "ty1": ty1,
        "k": query.min_count,
        "category": query.category,
        "sub": None if query.category is None else query.category.replace("_", r"\_") + ".%",
        "statuses": None if query.statuses is None else list(query.statuses),
        "public": None if query.public is None else list(query.public),
    }
    for n, part in enumerate(parts):
        params[f"start{n}"], params[f"end{n}"] = part.start, part.end
    return params


_DAYS = """
    SELECT coalesce(sum(n) FILTER (WHERE day < %(start)s::date), 0),
           coalesce(sum(n) FILTER (WHERE (%(start)s::date IS NULL OR day >= %(start)s::date)
                                     AND (%(end)s::date IS NULL OR day <= %(end)s::date)), 0),
           coalesce(sum(n) FILTER (WHERE day > %(end)s::date), 0)
    FROM incident_day
"""


def _utc_day(moment: datetime | None) -> datetime | None:
    return None if moment is None else datetime.combine(moment.astimezone(UTC).date(), time(), UTC)


async def density_tile(
    service: TileService,
    tile: morecantile.Tile,
    query: DensityQuery,
    *,
    if_none_match: str | None = None,
) -> Tile:
    """The incident density tile (layer ``incident_density``: ``count``, ``per_km2`` per bin).

    ``query`` says what to count and how to bin it; ``service`` serves the tile through
    :meth:`~tiles.service.TileService.serve`, so ``if_none_match`` and the errors are its.
    """
    key = ("incident_density", tile.z, tile.x, tile.y, repr(query))

    async def render(conn: AsyncConnection) -> bytes:
        counts = None
        if query.start is not None or query.end is not None:
            # by whole days: an estimate is all the choice needs
            end_day = None if query.end is None else _utc_day(query.end - timedelta(microseconds=1))
            cur = await conn.execute(_DAYS, {"start": _utc_day(query.start), "end": end_day})
            counts = WindowCounts(*map(int, await cur.fetchone()))
        parts = plan_parts(query, tile.z, counts)
        sql = tile_sql(query.shape, query.level(tile.z), parts)
        cur = await conn.execute(sql, tile_params(query, tile, parts), binary=True)
        return bytes((await cur.fetchone())[0])

    return await service.serve(key, ("incidents",), render, if_none_match=if_none_match)
