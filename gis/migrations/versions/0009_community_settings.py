"""Community settings: the office phone and service hours printed on posters, cards and the public page.

Both are plain text a planner sets (``commgrid communities set``); empty means "not set",
and the sheets then fall back to the service-hours default and print no office number.
They live on ``community`` because a plan load inserts only communities it has not
stored yet, so the settings survive every later load.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "community",
        sa.Column("office_phone", sa.Text(), nullable=True, comment="community office phone, printed for residents"),
    )
    op.add_column(
        "community",
        sa.Column("service_hours", sa.Text(), nullable=True, comment="office service hours, printed for residents"),
    )


def downgrade() -> None:
    op.drop_column("community", "service_hours")
    op.drop_column("community", "office_phone")
