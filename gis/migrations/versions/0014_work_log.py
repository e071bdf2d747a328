"""The work log: grid workers' daily entries, reviewed by their community's station master.

One row per entry: the worker (by id), the local day, a kind, the text, the incidents it
refers to, who wrote it and when, and the station master's review (user id, time and
comment). Entries are kept with the worker's other records (deleted with the worker).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 03:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_log_entry",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="the worker's local day"),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, comment="personal data: what the worker wrote"),
        sa.Column("incident_ids", postgresql.ARRAY(sa.Integer()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('patrol', 'household_visit', 'dispute', 'information_update', 'other')",
            name=op.f("ck_work_log_entry_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_work_log_entry_created_by_app_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_work_log_entry_district_id_district"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["app_user.id"], name=op.f("fk_work_log_entry_reviewed_by_app_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["grid_worker.id"], name=op.f("fk_work_log_entry_worker_id_grid_worker"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_log_entry")),
        comment="personal data: grid workers' work logs",
    )
    op.create_index(op.f("ix_work_log_entry_worker_id_day"), "work_log_entry", ["worker_id", "day"], unique=False)
    op.create_index(op.f("ix_work_log_entry_district_id_day"), "work_log_entry", ["district_id", "day"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_work_log_entry_district_id_day"), table_name="work_log_entry")
    op.drop_index(op.f("ix_work_log_entry_worker_id_day"), table_name="work_log_entry")
    op.drop_table("work_log_entry")
