"""Incident photos: JPEGs a reporter adds to an incident (personal data, deleted with it).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 04:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_photo",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False, comment="personal data: the metadata-free JPEG"),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("added_by_user_id", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False, comment="from gis.clock"),
        sa.ForeignKeyConstraint(
            ["added_by_user_id"],
            ["app_user.id"],
            name=op.f("fk_incident_photo_added_by_user_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_photo_incident_id_incident"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_photo")),
        comment="personal data: photos of incidents",
    )
    op.create_index(op.f("ix_incident_photo_incident_id_id"), "incident_photo", ["incident_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_photo_incident_id_id"), table_name="incident_photo")
    op.drop_table("incident_photo")
