"""Incident workflow: when each incident entered its status, where it came from, which earlier one it
may repeat (near-duplicate candidates), and a (district, time) index.

Existing incidents get status_at = reported_at.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 05:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "incident",
        sa.Column(
            "status_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="when the incident entered its current status",
        ),
    )
    op.add_column(
        "incident",
        sa.Column("source", sa.Text(), nullable=True, comment="how it came in: api, open311 or import:<file>"),
    )
    op.add_column(
        "incident",
        sa.Column("duplicate_of", sa.Integer(), nullable=True, comment="an earlier incident this one may repeat"),
    )
    op.create_foreign_key(
        op.f("fk_incident_duplicate_of_incident"), "incident", "incident", ["duplicate_of"], ["id"], ondelete="SET NULL"
    )
    op.execute("UPDATE incident SET status_at = reported_at")
    op.create_index(
        op.f("ix_incident_district_id_reported_at"), "incident", ["district_id", "reported_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_district_id_reported_at"), table_name="incident")
    op.drop_constraint(op.f("fk_incident_duplicate_of_incident"), "incident", type_="foreignkey")
    op.drop_column("incident", "duplicate_of")
    op.drop_column("incident", "source")
    op.drop_column("incident", "status_at")
