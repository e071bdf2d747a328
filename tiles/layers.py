"""The layers commgrid cuts into vector tiles: what each holds and how PostGIS builds it.

A layer is one SQL ``SELECT`` of feature rows within the tile (``env.box``, with
``env.wide`` the envelope plus a buffer so lines and labels continue across tile
edges) over the Web Mercator copies of the geometries. ``plans`` is the set of plans
the request is about: every published plan, or the one named by ``%(plan)s``.
Which collection a layer serves, and who may see it, is :mod:`tiles.catalogue`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass

from gis.store.lookup import VISIBLE_PLANS_SQL

__all__ = ["COMMUNITIES", "EXTENT", "GRIDS", "INCIDENTS", "LABELS", "STREETS", "UNITS", "Layer", "statement"]

EXTENT = 4096  # tile coordinate space
BUFFER = 64  # in tile units: outlines and labels run on past the tile edge


@dataclass(frozen=True)
class Layer:
    """One vector-tile layer."""

    id: str
    title: str
    geometry: str  # "polygon" | "point" | "line"
    depends_on: tuple[str, ...]  # data-version layers whose changes alter its tiles
    fields: dict[str, str]  # attribute -> TileJSON type ("String" | "Number")
    rows: str  # SELECT of the attributes and an MVT geometry named geom
    minzoom: int = 0
    maxzoom: int = 22

    def aggregate(self) -> str:
        """SQL yielding this layer's tile as bytea (empty when nothing is in the tile)."""
        return f"(SELECT coalesce(ST_AsMVT(t, '{self.id}', {EXTENT}, 'geom'), ''::bytea) FROM ({self.rows}) AS t)"


def _mvt_geom(column: str) -> str:
    return f"ST_AsMVTGeom({column}, env.box, {EXTENT}, {BUFFER}, true) AS geom"


GRIDS = Layer(
    id="grids",
    title="Grids",
    geometry="polygon",
    depends_on=("plans", "communities", "workers"),
    fields={
        "code": "String",
        "name": "String",
        "community": "String",
        "community_name": "String",
        "households": "Number",
        "population": "Number",
        "status": "String",
        "worker": "String",
        "worker_phone": "String",
    },
    rows=f"""
        SELECT g.code, g.name, c.community_id AS community, c.name AS community_name,
               g.households, g.population, g.status, w.name AS worker, w.work_phone AS worker_phone,
               {_mvt_geom("g.geom_3857")}
        FROM env
        JOIN grid AS g ON g.geom_3857 && env.wide
        JOIN plans AS p ON p.id = g.plan_id
        LEFT JOIN community AS c ON c.id = g.community_id
        LEFT JOIN LATERAL (
            SELECT gw.name, gw.work_phone FROM grid_worker AS gw
            WHERE gw.district_id = p.district_id AND gw.grid_code = g.code AND gw.active
            ORDER BY gw.id LIMIT 1
        ) AS w ON true
    """,
)

COMMUNITIES = Layer(
    id="communities",
    title="Communities",
    geometry="polygon",
    depends_on=("communities", "plans"),
    fields={"community_id": "String", "name": "String", "admin_code": "String"},
    rows=f"""
        SELECT c.community_id, c.name, c.admin_code, {_mvt_geom("c.geom_3857")}
        FROM env
        JOIN community AS c ON c.geom_3857 && env.wide
        WHERE c.district_id IN (SELECT district_id FROM plans)
    """,
)

UNITS = Layer(
    id="units",
    title="Units",
    geometry="polygon",
    depends_on=("units", "plans", "communities"),
    fields={
        "unit_id": "String",
        "households": "Number",
        "population": "Number",
        "compound": "String",
        "community": "String",
        "grid": "String",
    },
    rows=f"""
        SELECT u.unit_id, coalesce(a.households, u.households) AS households,
               coalesce(a.population, u.population) AS population, u.compound, c.community_id AS community,
               g.code AS grid, {_mvt_geom("u.geom_3857")}
        FROM env
        JOIN unit AS u ON u.geom_3857 && env.wide
        JOIN (SELECT DISTINCT district_id FROM plans) AS d ON d.district_id = u.district_id
        LEFT JOIN community AS c ON c.id = u.community_id
        LEFT JOIN grid_assignment AS a ON a.unit_id = u.id AND a.plan_id IN (SELECT id FROM plans)
        LEFT JOIN grid AS g ON g.id = a.grid_id
    """,
    minzoom=12,
)

INCIDENTS = Layer(
    id="incidents",
    title="Incidents",
    geometry="point",
    depends_on=("incidents", "plans"),
    fields={
        "id": "Number",
        "category": "String",
        "handling_class": "String",
        "status": "String",
        "reported_at": "Number",
    },
    rows=f"""
        SELECT i.id, i.category, i.handling_class, i.status,
               extract(epoch FROM i.reported_at)::bigint AS reported_at, {_mvt_geom("i.geom_3857")}
        FROM env
        JOIN incident AS i ON i.geom_3857 && env.wide
        WHERE i.district_id IN (SELECT district_id FROM plans)
        LIMIT %(limit)s
    """,
    minzoom=12,
)

# Streets, rivers and railways as stored (EPSG:4326 only: they are few, and drawn from z12)
STREETS = Layer(
    id="streets",
    title="Streets",
    geometry="line",
    depends_on=("plans",),  # stored with a plan, in its transaction
    fields={"name": "String", "class": "String"},
    rows=f"""
        SELECT b.name, b.barrier_class AS class, {_mvt_geom("ST_Transform(b.geom, 3857)")}
        FROM env
        JOIN barrier AS b ON b.geom && ST_Transform(env.wide, 4326)
        WHERE b.district_id IN (SELECT district_id FROM plans)
    """,
    minzoom=12,
)

# One label point per feature: a polygon cut by tile edges would otherwise get a label in
# every tile it touches. The point is drawn only by the tile that holds it.
GRID_LABELS = Layer(
    id="grid_labels",
    title="Grid labels",
    geometry="point",
    depends_on=("plans",),
    fields={"code": "String", "name": "String", "households": "Number"},
    rows="""
        SELECT g.code, g.name, g.households, ST_AsMVTGeom(pt, env.box, 4096, 0, true) AS geom
        FROM env
        JOIN grid AS g ON g.geom_3857 && env.wide
        JOIN plans AS p ON p.id = g.plan_id
        CROSS JOIN LATERAL ST_PointOnSurface(g.geom_3857) AS pt
        WHERE pt && env.box
    """,
)

COMMUNITY_LABELS = Layer(
    id="community_labels",
    title="Community labels",
    geometry="point",
    depends_on=("communities", "plans"),
    fields={"community_id": "String", "name": "String"},
    rows="""
        SELECT c.community_id, c.name, ST_AsMVTGeom(pt, env.box, 4096, 0, true) AS geom
        FROM env
        JOIN community AS c ON c.geom_3857 && env.wide
        CROSS JOIN LATERAL ST_PointOnSurface(c.geom_3857) AS pt
        WHERE c.district_id IN (SELECT district_id FROM plans) AND pt && env.box
    """,
)

# label layers that travel with a collection in the multi-layer tile
LABELS: dict[str, Layer] = {"grids": GRID_LABELS, "communities": COMMUNITY_LABELS}


def statement(layers: list[Layer]) -> str:
    """One SQL statement returning the tile holding ``layers`` (in that order) as bytea.

    Parameters are ``z``, ``x``, ``y``, ``plan`` (a plan name, or NULL for every published
    plan), ``district`` (a name or id as text, or NULL for every district), ``private``
    (whether drafts and archived plans may be named; see
    :data:`gis.store.lookup.VISIBLE_PLANS_SQL`) and ``limit`` (most features of a point layer
    in one tile).
    """
    body = " || ".join(layer.aggregate() for layer in layers) if layers else "''::bytea"
    return f"""
        WITH env AS (
            SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS box,
                   ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {BUFFER / EXTENT}) AS wide
        ),
        plans AS ({VISIBLE_PLANS_SQL})
        SELECT {body}
    """
