"""Grid locks stored with the plan: the workbench's locks survive a reload and every planner sees them.

A locked grid takes no manual moves in or out and re-division keeps it. One row per
locked grid; deleting the grid (or its plan) drops the lock.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grid_lock",
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.Text(), nullable=True, comment="user name of the planner who locked it"),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_grid_lock_grid_id_grid"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["grid_plan.id"], name=op.f("fk_grid_lock_plan_id_grid_plan"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("grid_id", name=op.f("pk_grid_lock")),
    )
    op.create_index(op.f("ix_grid_lock_plan_id"), "grid_lock", ["plan_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_grid_lock_plan_id"), table_name="grid_lock")
    op.drop_table("grid_lock")
