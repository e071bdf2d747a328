"""What the planner's workbench reads and starts: a plan's layers in one answer, and draft copies.

The workbench (``/editor``) paints a whole district at once, so it takes the plan's
units (with their grid), grids, communities and stored streets as GeoJSON in a single
response built by PostGIS, rather than thousands of feature requests or tiles that
would lag behind each edit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis.errors import ConflictError, InputError
from gis.plans.edits import plan_targets
from gis.plans.store import acting_user
from gis.store import lookup
from gis.store.audit import record
from gis.store.engine import atomic

__all__ = ["LAYERS", "copy_plan", "workbench_layers"]

# six decimals of a degree are about 0.1 m: exact enough to paint, a third lighter than full precision
_PRECISION = 6


def _collection(features: str, source: str) -> str:
    return (
        "(SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg("
        f"{features}), '[]')) FROM {source})"
    )


def _feature(key: str, properties: str, geom: str | None) -> str:
    shape = f"ST_AsGeoJSON({geom}, {_PRECISION})::json" if geom is not None else "NULL::json"
    return (
        f"json_build_object('type', 'Feature', 'id', {key}, 'properties', json_build_object({properties}), "
        f"'geometry', {shape})"
    )


def _layer_sql(outlines: bool) -> dict[str, str]:
    """Each layer: one subquery over the plan ``p`` (id, district_id) answering a FeatureCollection.

    Without ``outlines`` the features carry their properties only (geometry null): the
    workbench draws the shapes from the vector tiles and keeps the attributes to edit.
    """

    def geom(column: str) -> str | None:
        return column if outlines else None

    return {
        "units": _collection(
            _feature(
                "u.id",
                "'unit_id', u.unit_id, 'households', u.households, 'population', u.population, "
                "'compound', u.compound, 'community', c.community_id, 'grid', g.code, "
                "'anchor', json_build_array(round(ST_X(a.pt)::numeric, 6), round(ST_Y(a.pt)::numeric, 6))",
                geom("u.geom"),
            )
            + " ORDER BY u.unit_id",
            "p JOIN unit u ON u.district_id = p.district_id "
            "CROSS JOIN LATERAL (SELECT ST_PointOnSurface(u.geom) AS pt) a "
            "LEFT JOIN grid_assignment x ON x.plan_id = p.id AND x.unit_id = u.id LEFT JOIN grid g ON g.id = x.grid_id "
            "LEFT JOIN community c ON c.id = u.community_id",
        ),
        "grids": _collection(
            _feature(
                "g.id",
                "'code', g.code, 'community', c.community_id, 'community_name', c.name, 'households', g.households, "
                "'population', g.population, 'units', g.n_units, 'status', g.status, 'reason', g.reason, "
                "'locked', l.grid_id IS NOT NULL",
                geom("g.geom"),
            )
            + " ORDER BY g.code",
            "p JOIN grid g ON g.plan_id = p.id LEFT JOIN community c ON c.id = g.community_id "
            "LEFT JOIN grid_lock l ON l.grid_id = g.id",
        ),
        "communities": _collection(
            _feature("c.id", "'community_id', c.community_id, 'name', c.name", geom("c.geom"))
            + " ORDER BY c.community_id",
            "p JOIN community c ON c.district_id = p.district_id",
        ),
        "streets": _collection(
            _feature("b.id", "'class', b.barrier_class, 'hard', b.hard, 'name', b.name", geom("b.geom")),
            "p JOIN barrier b ON b.district_id = p.district_id",
        ),
    }


_LAYERS = {True: _layer_sql(True), False: _layer_sql(False)}
LAYERS = tuple(_LAYERS[True])


def workbench_layers(
    conn: Connection, plan: str, layers: tuple[str, ...] = LAYERS, *, outlines: bool = True
) -> dict[str, Any]:
    """A plan, its district's published plan, and its layers as GeoJSON (EPSG:4326), for the workbench.

    ``units`` carry their grid code in the plan, counts, compound and an ``anchor`` point
    inside them; ``grids`` their counts, status and reason; ``streets`` are the district's
    stored barriers (empty when none were loaded). ``layers`` picks some of :data:`LAYERS`.
    Without ``outlines`` the features carry no geometry (the workbench paints from the
    vector tiles and keeps only the attributes). ``plan.bounds`` is the district's extent
    (``[[west, south], [east, north]]``), for the first view.

    Raises
    ------
    NotFoundError
        For an unknown plan (the message lists the plans).
    InputError
        For a layer name not in :data:`LAYERS`.
    """
    found = lookup.plan(conn, plan, None)
    head = conn.execute(
        text(
            """
            SELECT p.name, p.status, p.version, p.params, d.name AS district,
                   (SELECT q.name FROM grid_plan q WHERE q.district_id = p.district_id AND q.status = 'published')
                       AS published,
                   (SELECT json_build_array(json_build_array(ST_XMin(e), ST_YMin(e)),
                                             json_build_array(ST_XMax(e), ST_YMax(e)))
                    FROM (SELECT ST_Extent(u.geom) AS e FROM unit u WHERE u.district_id = p.district_id) AS x
                    WHERE e IS NOT NULL) AS bounds
            FROM grid_plan p JOIN district d ON d.id = p.district_id WHERE p.id = :p
            """
        ),
        {"p": found.id},
    ).one()
    unknown = sorted(set(layers) - set(LAYERS))
    if unknown:
        raise InputError(f"unknown layers {unknown}; the workbench has {', '.join(LAYERS)}", field="layers")
    wanted = [name for name in LAYERS if name in layers]
    columns = ", ".join(f"{_LAYERS[outlines][name]} AS {name}" for name in wanted)
    found_layers = conn.execute(
        text(f"WITH p AS (SELECT id, district_id FROM grid_plan WHERE id = :p) SELECT {columns}"), {"p": found.id}
    ).one()
    (h_lo, h_hi), (p_lo, p_hi) = plan_targets(head.params)
    return {
        "plan": {
            "name": head.name,
            "status": head.status,
            "version": head.version,
            "district": head.district,
            "published": head.published,
            "targets": {"households": [h_lo, h_hi], "population": [p_lo, p_hi]},
            "bounds": head.bounds,
        },
        **{name: getattr(found_layers, name) for name in wanted},
    }


def copy_plan(conn: Connection, source: str, name: str, *, actor: str | None = None) -> int:
    """Store a draft copy of a plan (usually the published one) under a new name, to edit.

    Raises
    ------
    NotFoundError
        For an unknown source plan.
    ConflictError
        When a plan named ``name`` exists.
    InputError
        For a blank name.
    """
    if not name.strip():
        raise InputError("name the new draft", field="name")
    with atomic(conn):
        src = lookup.plan(conn, source, None)
        if conn.execute(text("SELECT 1 FROM grid_plan WHERE name = :n"), {"n": name}).first() is not None:
            raise ConflictError(f"a plan named {name!r} exists; choose another name")
        plan_id = conn.execute(
            text(
                """
                INSERT INTO grid_plan (district_id, name, status, params, report)
                SELECT district_id, :n, 'draft', params || jsonb_build_object('copied_from', name), report
                FROM grid_plan WHERE id = :s RETURNING id
                """
            ),
            {"n": name, "s": src.id},
        ).scalar_one()
        conn.execute(
            text(
                """
                INSERT INTO grid (plan_id, code, name, community_id, households, population, n_units,
                                  polsby_popper, status, reason, geom)
                SELECT :p, code, name, community_id, households, population, n_units,
                       polsby_popper, status, reason, geom
                FROM grid WHERE plan_id = :s
                """
            ),
            {"p": plan_id, "s": src.id},
        )
        conn.execute(
            text(
                """
                INSERT INTO grid_assignment (plan_id, unit_id, grid_id, households, population)
                SELECT :p, x.unit_id, n.id, x.households, x.population FROM grid_assignment x
                JOIN grid o ON o.id = x.grid_id
                JOIN grid n ON n.plan_id = :p AND n.code = o.code
                WHERE x.plan_id = :s
                """
            ),
            {"p": plan_id, "s": src.id},
        )
        record(
            conn,
            actor=acting_user(conn, actor),
            action="plan.copy",
            target=f"plan:{plan_id}",
            detail={"plan": name, "from": source},
        )
    return plan_id
