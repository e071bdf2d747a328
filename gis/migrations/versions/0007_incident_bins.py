"""Incident density bins: counts per hexagon and square cell, kept by triggers in step with ``incident``.

``incident_bin`` holds, for both bin shapes and every level in :data:`LEVELS`, the number
of incidents per cell, category, status and public flag, over all time. A cell of level
``L`` measures ``40075016.68... / 2**L`` metres of Web Mercator (a square's side, a
hexagon's circumradius), so a tile of zoom ``z`` cut into ``2**c`` cells across reads
level ``z + c``. ``incident_day`` holds the incidents per UTC day of ``reported_at``; the
tile code uses it to judge how many incidents a time window holds.

Statement-level triggers with transition tables keep both tables exact, in the same
transaction as every insert, update, delete or truncate of ``incident``, whoever writes
(a ``COPY`` of a million rows fires them once). Rows whose count falls to zero are
deleted. The cell arithmetic is written out below rather than imported, as a revision
must keep building the same schema when the application code changes; ``tiles.density``
repeats it, and ``tests/tiles/test_bins_store.py`` checks that both agree.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:00:00.000000
"""

import math
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = (12, 13, 14, 15, 16, 17)
WORLD = 40075016.685578488  # the Web Mercator world's width in metres
SQRT3 = math.sqrt(3.0)
FINEST = max(LEVELS)


def _cells_sql(source: str) -> str:
    """Rows of ``source`` (x, y in EPSG:3857, category, status, public, sign) with their cell of every level.

    Squares: ``i = floor(x * 2**L / WORLD)``, ``j`` likewise from ``y``; only the finest
    level is computed, coarser ones are shifts of it. Hexagons (pointy-top, centred on the
    origin): Chambers' three-floor rounding, in axial ``q, r``, packed into one bigint so
    the grouping key stays narrow. ``OFFSET 0`` stops the planner from folding the steps
    into one expression, which would compute every shared term again.
    """
    step1 = ", ".join(f"x * {2.0**lv / (SQRT3 * WORLD)!r} AS a{lv}, y * {2.0**lv / WORLD!r} AS b{lv}" for lv in LEVELS)
    step2 = ", ".join(
        f"floor(a{lv} + b{lv} + 1) AS t{lv}, floor(2 * a{lv} + 1) AS u{lv}, floor(b{lv} - a{lv} + 1) AS v{lv}"
        for lv in LEVELS
    )
    step3 = ", ".join(f"floor((t{lv} + v{lv}) / 3) AS r{lv}, floor((u{lv} + t{lv}) / 3) AS q{lv}" for lv in LEVELS)
    step4 = ", ".join(f"((q{lv} - r{lv})::bigint << 32) | (r{lv}::bigint & 4294967295) AS h{lv}" for lv in LEVELS)
    hexes = ", ".join(f"h{lv}" for lv in LEVELS)
    return f"""
        SELECT si, sj, {hexes}, category, status, public, sign FROM (
            SELECT *, {step4} FROM (
                SELECT *, {step3} FROM (
                    SELECT *, {step2} FROM (
                        SELECT category, status, public, sign,
                               floor(x * {2.0**FINEST / WORLD!r})::bigint AS si,
                               floor(y * {2.0**FINEST / WORLD!r})::bigint AS sj, {step1}
                        FROM ({source}) AS d OFFSET 0
                    ) AS p1 OFFSET 0
                ) AS p2 OFFSET 0
            ) AS p3 OFFSET 0
        ) AS p4
    """


def _apply_sql(source: str, *, cleanup: bool) -> str:
    """Statements adding the signed rows of ``source`` to ``incident_bin`` and ``incident_day``.

    With ``cleanup`` (PL/pgSQL, for sources that take incidents off) the rows whose count
    falls to zero are deleted: only those the statement itself updated, which this
    transaction already holds, so cleaning up never waits for (or deadlocks with) a
    concurrent writer. Inserts only add, so they need none.
    """
    hexes = ", ".join(f"h{lv}" for lv in LEVELS)
    squares = ", ".join(f"si >> {FINEST - lv} AS i{lv}, sj >> {FINEST - lv} AS j{lv}" for lv in LEVELS)
    sets = [f"(i{lv}, j{lv}, category, status, public)" for lv in LEVELS]
    sets += [f"(h{lv}, category, status, public)" for lv in LEVELS]
    # GROUPING() has a bit set for every column left out of a row's grouping set: all but one
    flags = ", ".join([f"i{lv}" for lv in LEVELS] + [f"h{lv}" for lv in LEVELS])
    every = 2 ** (2 * len(LEVELS)) - 1
    which = {}
    for k, lv in enumerate(LEVELS):
        which[every ^ (1 << (2 * len(LEVELS) - 1 - k))] = ("square", lv, f"i{lv}", f"j{lv}")
        which[every ^ (1 << (len(LEVELS) - 1 - k))] = ("hex", lv, f"(h{lv} >> 32)", f"((h{lv} << 32) >> 32)")

    def case(pick) -> str:
        return "CASE g " + " ".join(f"WHEN {mask} THEN {pick(v)}" for mask, v in which.items()) + " END"

    # Rows go in key order so that concurrent writers lock bins in the same order (no deadlocks).
    insert_bins = """
        INSERT INTO incident_bin AS b (shape, level, i, j, category, status, public, n)
        SELECT shape, level, i, j, category, status, public, n FROM bins
        ORDER BY shape, level, i, j, category, status, public
        ON CONFLICT (shape, level, i, j, category, status, public) DO UPDATE SET n = b.n + excluded.n
    """
    insert_days = f"""
        INSERT INTO incident_day AS d (day, n)
        SELECT day, n FROM (
            SELECT (reported_at AT TIME ZONE 'UTC')::date AS day, sum(sign) AS n FROM ({source}) AS s GROUP BY 1
        ) AS t WHERE n <> 0 ORDER BY day
        ON CONFLICT (day) DO UPDATE SET n = d.n + excluded.n
    """
    if cleanup:
        bins_tail = f"""
            , up AS ({insert_bins} RETURNING b.shape, b.level, b.i, b.j, b.category, b.status, b.public, b.n)
            SELECT array_agg(shape), array_agg(level), array_agg(i), array_agg(j), array_agg(category),
                   array_agg(status), array_agg(public)
            INTO z_shape, z_level, z_i, z_j, z_category, z_status, z_public FROM up WHERE n = 0;
            IF z_shape IS NOT NULL THEN
                DELETE FROM incident_bin AS b
                USING unnest(z_shape, z_level, z_i, z_j, z_category, z_status, z_public)
                      AS z(shape, level, i, j, category, status, public)
                WHERE (b.shape, b.level, b.i, b.j, b.category, b.status, b.public)
                      = (z.shape, z.level, z.i, z.j, z.category, z.status, z.public) AND b.n = 0;
            END IF;
        """
        days = f"""
            WITH up AS ({insert_days} RETURNING d.day, d.n)
            SELECT array_agg(day) INTO z_day FROM up WHERE n = 0;
            IF z_day IS NOT NULL THEN
                DELETE FROM incident_day WHERE day = ANY(z_day) AND n = 0;
            END IF;
        """
    else:
        bins_tail, days = insert_bins + ";", insert_days + ";"
    return f"""
        WITH m AS MATERIALIZED (
            SELECT si, sj, {hexes}, category, status, public, sum(sign) AS n
            FROM ({_cells_sql(source)}) AS c
            GROUP BY si, sj, {hexes}, category, status, public
        ), g AS (
            SELECT GROUPING({flags}) AS g, {", ".join(f"i{lv}, j{lv}" for lv in LEVELS)}, {hexes},
                   category, status, public, sum(n) AS n
            FROM (SELECT *, {squares} FROM m) AS m2
            GROUP BY GROUPING SETS ({", ".join(sets)})
        ), bins AS (
            SELECT {case(lambda v: repr(v[0]))} AS shape, {case(lambda v: v[1])} AS level,
                   ({case(lambda v: v[2])})::int AS i, ({case(lambda v: v[3])})::int AS j,
                   category, status, public, n
            FROM g WHERE n <> 0
        )
        {bins_tail}
        {days}
    """


_COLUMNS = "ST_X({t}.geom_3857) AS x, ST_Y({t}.geom_3857) AS y, {t}.category, {t}.status, {t}.public, {t}.reported_at"
INSERTED = f"SELECT {_COLUMNS.format(t='new_rows')}, 1 AS sign FROM new_rows"
DELETED = f"SELECT {_COLUMNS.format(t='old_rows')}, -1 AS sign FROM old_rows"
# An update counts only for rows whose place, category, status, flag or time changed: the
# old row comes off, the new one goes on (rows whose id changed count as both).
UPDATED = """
    SELECT v.* FROM old_rows AS o FULL JOIN new_rows AS n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES
        (ST_X(o.geom_3857), ST_Y(o.geom_3857), o.category, o.status, o.public, o.reported_at, -1),
        (ST_X(n.geom_3857), ST_Y(n.geom_3857), n.category, n.status, n.public, n.reported_at, 1)
    ) AS v(x, y, category, status, public, reported_at, sign)
    WHERE (v.sign = -1 AND o.id IS NOT NULL OR v.sign = 1 AND n.id IS NOT NULL)
      AND (o.id IS NULL OR n.id IS NULL
           OR (o.category, o.status, o.public, o.reported_at, ST_X(o.geom_3857), ST_Y(o.geom_3857))
              IS DISTINCT FROM (n.category, n.status, n.public, n.reported_at, ST_X(n.geom_3857), ST_Y(n.geom_3857)))
"""


def _function() -> str:
    return f"""
        CREATE FUNCTION commgrid_incident_bins() RETURNS trigger LANGUAGE plpgsql
        -- a million-row COPY groups in memory; compiling the statements would cost more than it saves
        SET work_mem = '64MB' SET jit = off
        AS $$
        DECLARE
            z_shape text[]; z_level smallint[]; z_i int[]; z_j int[];
            z_category text[]; z_status text[]; z_public bool[]; z_day date[];
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {_apply_sql(INSERTED, cleanup=False)}
            ELSIF TG_OP = 'DELETE' THEN
                {_apply_sql(DELETED, cleanup=True)}
            ELSIF TG_OP = 'UPDATE' THEN
                {_apply_sql(UPDATED, cleanup=True)}
            ELSE
                TRUNCATE incident_bin, incident_day;
            END IF;
            RETURN NULL;
        END
        $$
    """


def upgrade() -> None:
    op.create_table(
        "incident_bin",
        sa.Column("shape", sa.Text(), nullable=False, comment="hex or square"),
        sa.Column("level", sa.SmallInteger(), nullable=False, comment="cell size: 40075016.69 m / 2 ** level"),
        sa.Column("i", sa.Integer(), nullable=False, comment="square column, or hexagon axial q"),
        sa.Column("j", sa.Integer(), nullable=False, comment="square row from the south, or hexagon axial r"),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False, comment="incidents in the cell"),
        sa.CheckConstraint("shape IN ('hex', 'square')", name=op.f("ck_incident_bin_shape_known")),
        sa.PrimaryKeyConstraint(
            "shape", "level", "i", "j", "category", "status", "public", name=op.f("pk_incident_bin")
        ),
        comment="incident counts per density cell; kept by triggers on incident",
    )
    op.create_index(
        op.f("ix_incident_bin_empty"), "incident_bin", ["level"], unique=False, postgresql_where=sa.text("n = 0")
    )
    op.create_table(
        "incident_day",
        sa.Column("day", sa.Date(), nullable=False, comment="UTC date of reported_at"),
        sa.Column("n", sa.Integer(), nullable=False, comment="incidents reported that day"),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_incident_day")),
        comment="incidents per day; kept by triggers on incident",
    )
    op.create_index(
        op.f("ix_incident_day_empty"), "incident_day", ["day"], unique=False, postgresql_where=sa.text("n = 0")
    )
    op.execute(_function())
    for event, referencing in (
        ("INSERT", "REFERENCING NEW TABLE AS new_rows"),
        ("UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "REFERENCING OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER incident_bins_{event.lower()} AFTER {event} ON incident {referencing} "
            "FOR EACH STATEMENT EXECUTE FUNCTION commgrid_incident_bins()"
        )
    op.execute(
        "CREATE TRIGGER incident_bins_truncate AFTER TRUNCATE ON incident "
        "FOR EACH STATEMENT EXECUTE FUNCTION commgrid_incident_bins()"
    )
    # the incidents stored so far
    op.execute(_apply_sql(INSERTED.replace("new_rows", "incident"), cleanup=False))


def downgrade() -> None:
    for event in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS incident_bins_{event} ON incident")
    op.execute("DROP FUNCTION IF EXISTS commgrid_incident_bins()")
    op.drop_index(op.f("ix_incident_day_empty"), table_name="incident_day", postgresql_where=sa.text("n = 0"))
    op.drop_table("incident_day")
    op.drop_index(op.f("ix_incident_bin_empty"), table_name="incident_bin", postgresql_where=sa.text("n = 0"))
    op.drop_table("incident_bin")
