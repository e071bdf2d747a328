"""Web Mercator copies of served geometries, and per-layer data versions bumped by triggers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (geometry type of its geom, or None) and the served layer its changes invalidate
TABLES = {
    "grid_plan": (None, "plans"),
    "grid": ("MULTIPOLYGON", "plans"),
    "grid_assignment": (None, "plans"),
    "community": ("MULTIPOLYGON", "communities"),
    "unit": ("GEOMETRY", "units"),
    "grid_worker": (None, "workers"),
    "incident": ("POINT", "incidents"),
    "incident_event": (None, "incidents"),
    "patrol_point": (None, "patrols"),
    "app_user": (None, "users"),
}


def upgrade() -> None:
    for table, (geometry_type, _) in TABLES.items():
        if geometry_type is None:
            continue
        op.add_column(
            table,
            sa.Column(
                "geom_3857",
                Geometry(geometry_type, srid=3857, spatial_index=False),
                sa.Computed("ST_Transform(geom, 3857)", persisted=True),
                nullable=True,
                comment="geom in EPSG:3857 for vector tiles; computed by the database",
            ),
        )
        op.create_index(f"idx_{table}_geom_3857", table, ["geom_3857"], postgresql_using="gist")
    op.create_table(
        "data_version",
        sa.Column("layer", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("layer", name=op.f("pk_data_version")),
    )
    # Start at the clock in microseconds: a store re-created later never hands out a
    # version an old browser cache still holds an ETag for.
    op.execute("CREATE SEQUENCE data_version_seq")
    op.execute("SELECT setval('data_version_seq', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)")
    layers = sorted({layer for _, layer in TABLES.values()})
    op.execute(
        "INSERT INTO data_version (layer, version) SELECT layer, nextval('data_version_seq') FROM unnest("
        + "ARRAY["
        + ", ".join(f"'{layer}'" for layer in layers)
        + "]) AS layer"
    )
    op.execute(
        """
        CREATE FUNCTION commgrid_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO data_version (layer, version, changed_at)
            VALUES (TG_ARGV[0], nextval('data_version_seq'), now())
            ON CONFLICT (layer) DO UPDATE
                SET version = EXCLUDED.version, changed_at = EXCLUDED.changed_at;
            RETURN NULL;
        END
        $$
        """
    )
    for table, (_, layer) in TABLES.items():
        op.execute(
            f"CREATE TRIGGER bump_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION commgrid_bump_data_version('{layer}')"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bump_data_version ON {table}")
    op.execute("DROP FUNCTION IF EXISTS commgrid_bump_data_version()")
    op.drop_table("data_version")
    op.execute("DROP SEQUENCE IF EXISTS data_version_seq")
    for table, (geometry_type, _) in TABLES.items():
        if geometry_type is not None:
            op.drop_index(f"idx_{table}_geom_3857", table_name=table, postgresql_using="gist")
            op.drop_column(table, "geom_3857")
