"""Initial schema: districts, communities, units, barriers, plans and grids, workers, incidents, patrols.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 01:50:48.050156
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Children before parents, so foreign keys never block a drop.
TABLES = (
    "patrol_point",
    "incident_event",
    "incident",
    "grid_worker",
    "grid_assignment",
    "unit",
    "grid",
    "community",
    "street_office",
    "grid_plan",
    "barrier",
    "district",
    "app_user",
)


def upgrade() -> None:
    # IF NOT EXISTS: on a shared server the extension is often created by an administrator,
    # and then the migrating user needs no right to create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=True, comment="hash only; the token is never stored"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("name", name=op.f("uq_app_user_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_app_user_token_hash")),
    )
    op.create_geospatial_table(
        "district",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "working_crs",
            sa.Text(),
            nullable=False,
            comment="projected CRS for areas and lengths, e.g. EPSG:3826",
        ),
        sa.Column(
            "boundary",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_district")),
        sa.UniqueConstraint("name", name=op.f("uq_district_name")),
    )
    op.create_geospatial_index(
        "idx_district_boundary",
        "district",
        ["boundary"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "barrier",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("barrier_class", sa.Text(), nullable=False),
        sa.Column("hard", sa.Boolean(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_barrier_district_id_district"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_barrier")),
    )
    op.create_geospatial_index(
        "idx_barrier_geom", "barrier", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_barrier_district_id"), "barrier", ["district_id"], unique=False)
    op.create_table(
        "grid_plan",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "report",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'published', 'archived')", name=op.f("ck_grid_plan_status_known")),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_grid_plan_valid_range")),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["district.id"],
            name=op.f("fk_grid_plan_district_id_district"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_plan")),
        sa.UniqueConstraint("name", name=op.f("uq_grid_plan_name")),
    )
    op.create_index(op.f("ix_grid_plan_district_id"), "grid_plan", ["district_id"], unique=False)
    op.create_index(
        "uq_grid_plan_published_per_district",
        "grid_plan",
        ["district_id"],
        unique=True,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_geospatial_table(
        "street_office",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["district.id"],
            name=op.f("fk_street_office_district_id_district"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_street_office")),
        sa.UniqueConstraint("district_id", "code", name=op.f("uq_street_office_district_id_code")),
    )
    op.create_geospatial_index(
        "idx_street_office_geom",
        "street_office",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "community",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("street_office_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Text(), nullable=False, comment="the community's id in the source data"),
        sa.Column("admin_code", sa.Text(), nullable=True, comment="12 digits: 6 county + 3 street + 3 community"),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("admin_code ~ '^[0-9]{12}$'", name=op.f("ck_community_admin_code_12_digits")),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["district.id"],
            name=op.f("fk_community_district_id_district"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["street_office_id"],
            ["street_office.id"],
            name=op.f("fk_community_street_office_id_street_office"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community")),
        sa.UniqueConstraint("district_id", "community_id", name=op.f("uq_community_district_id_community_id")),
    )
    op.create_geospatial_index(
        "idx_community_geom", "community", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_community_street_office_id"), "community", ["street_office_id"], unique=False)
    op.create_geospatial_table(
        "grid",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("n_units", sa.Integer(), nullable=False),
        sa.Column("polsby_popper", sa.Double(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_grid_community_id_community"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["grid_plan.id"], name=op.f("fk_grid_plan_id_grid_plan"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid")),
        sa.UniqueConstraint("plan_id", "code", name=op.f("uq_grid_plan_id_code")),
    )
    op.create_geospatial_index(
        "idx_grid_geom", "grid", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_grid_community_id"), "grid", ["community_id"], unique=False)
    op.create_geospatial_table(
        "unit",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False, comment="the unit's id in the source data"),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column(
            "compound",
            sa.Text(),
            nullable=True,
            comment="residential compound; units sharing one stay together",
        ),
        sa.Column("building", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("households >= 0", name=op.f("ck_unit_households_not_negative")),
        sa.CheckConstraint("population >= 0", name=op.f("ck_unit_population_not_negative")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_unit_community_id_community"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_unit_district_id_district"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
        sa.UniqueConstraint("district_id", "unit_id", name=op.f("uq_unit_district_id_unit_id")),
    )
    op.create_geospatial_index(
        "idx_unit_geom", "unit", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_unit_community_id"), "unit", ["community_id"], unique=False)
    op.create_table(
        "grid_assignment",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_grid_assignment_grid_id_grid"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["grid_plan.id"],
            name=op.f("fk_grid_assignment_plan_id_grid_plan"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_grid_assignment_unit_id_unit"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("plan_id", "unit_id", name=op.f("pk_grid_assignment")),
    )
    op.create_index(op.f("ix_grid_assignment_grid_id"), "grid_assignment", ["grid_id"], unique=False)
    op.create_index(op.f("ix_grid_assignment_unit_id"), "grid_assignment", ["unit_id"], unique=False)
    op.create_table(
        "grid_worker",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.Text(), nullable=True, comment="grid code; stays valid across plans"),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False, comment="personal data"),
        sa.Column("work_phone", sa.Text(), nullable=True, comment="personal data"),
        sa.Column("photo", sa.LargeBinary(), nullable=True, comment="personal data"),
        sa.Column("duties", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["district.id"],
            name=op.f("fk_grid_worker_district_id_district"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_grid_worker_grid_id_grid"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_worker")),
        comment="personal data: grid workers",
    )
    op.create_index(op.f("ix_grid_worker_district_id"), "grid_worker", ["district_id"], unique=False)
    op.create_index(op.f("ix_grid_worker_grid_id"), "grid_worker", ["grid_id"], unique=False)
    op.create_geospatial_table(
        "incident",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("handling_class", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("reporter_name", sa.Text(), nullable=True, comment="personal data"),
        sa.Column("reporter_phone", sa.Text(), nullable=True, comment="personal data"),
        sa.Column("public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["district.id"],
            name=op.f("fk_incident_district_id_district"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_incident_grid_id_grid"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_geospatial_index(
        "idx_incident_geom", "incident", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_incident_district_id"), "incident", ["district_id"], unique=False)
    op.create_index(op.f("ix_incident_grid_id"), "incident", ["grid_id"], unique=False)
    op.create_table(
        "incident_event",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=True),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_event_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_event")),
    )
    op.create_index(op.f("ix_incident_event_incident_id_at"), "incident_event", ["incident_id", "at"], unique=False)
    op.create_geospatial_table(
        "patrol_point",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("device", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["grid_worker.id"],
            name=op.f("fk_patrol_point_worker_id_grid_worker"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_point")),
    )
    # create_geospatial_table drops a comment= argument (geoalchemy2 0.20), hence a separate step.
    op.create_table_comment("patrol_point", "personal data: workers' positions over time")
    op.create_geospatial_index(
        "idx_patrol_point_geom",
        "patrol_point",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_patrol_point_worker_id_recorded_at"),
        "patrol_point",
        ["worker_id", "recorded_at"],
        unique=False,
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; the postgis extension stays (others may use it).
    for table in TABLES:
        op.drop_table(table)
