"""Incident ownership by ids: the reporting user's id on each incident.

Who reported an incident used to be read from the actor name of its first event, so a
user taking the name of another (or of the Open311 and import intake, ``open311`` and
``import``) read and moved incidents not theirs. ``incident.reporter_user_id`` now holds
the reporting account's id; intake with no account (Open311, bulk imports, the CLI)
leaves it NULL and is marked by ``incident.source``.

Existing rows: the id of the user whose name equals the first event's actor, when such a
user exists and the incident did not come in through Open311 or an import; else NULL
(nobody's, visible to office roles and the grid's team only).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "incident",
        sa.Column("reporter_user_id", sa.Integer(), nullable=True, comment="the reporting account; NULL for intake"),
    )
    op.create_foreign_key(
        op.f("fk_incident_reporter_user_id_app_user"),
        "incident",
        "app_user",
        ["reporter_user_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(op.f("ix_incident_reporter_user_id"), "incident", ["reporter_user_id"])
    op.execute(
        """
        UPDATE incident AS i SET reporter_user_id = u.id
        FROM (
            SELECT DISTINCT ON (e.incident_id) e.incident_id, e.actor
            FROM incident_event AS e ORDER BY e.incident_id, e.at, e.id
        ) AS first
        JOIN app_user AS u ON u.name = first.actor
        WHERE first.incident_id = i.id
          AND coalesce(i.source, 'api') NOT IN ('open311') AND coalesce(i.source, 'api') NOT LIKE 'import%'
        """
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_reporter_user_id"), table_name="incident")
    op.drop_constraint(op.f("fk_incident_reporter_user_id_app_user"), "incident", type_="foreignkey")
    op.drop_column("incident", "reporter_user_id")
