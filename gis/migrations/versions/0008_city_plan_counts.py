"""A city of districts: every plan keeps the unit counts it was made from.

``grid_assignment`` gains ``households`` and ``population``: the counts of each unit as
the plan was made, so a later plan loaded into the same district with new counts does
not change what an earlier plan computes with (edits, checks, diffs, posters). Stored
plans are filled in from ``unit``, the only counts they had.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("households", "population"):
        op.add_column(
            "grid_assignment",
            sa.Column(column, sa.Integer(), nullable=True, comment=f"the unit's {column} as this plan counts them"),
        )
    op.execute(
        "UPDATE grid_assignment AS a SET households = u.households, population = u.population "
        "FROM unit AS u WHERE u.id = a.unit_id"
    )
    for column in ("households", "population"):
        op.alter_column("grid_assignment", column, nullable=False)
        op.create_check_constraint(f"{column}_not_negative", "grid_assignment", f"{column} >= 0")


def downgrade() -> None:
    for column in ("households", "population"):
        op.drop_column("grid_assignment", column)  # its check constraint goes with it
