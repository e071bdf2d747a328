"""Incident classes that route: department hand-offs and their feedback, approval steps, emergency notifications.

A coordinated incident handed to a department keeps the department's id and name and
who handed it off; the feedback entered for the department hangs off the hand-off.
Each step of an approval incident's chain records the user (by id), time and comment.
Each emergency notification records its channel, target and how delivery went, so
failed ones can be retried.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at() -> sa.Column:
    return sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def _by(table: str) -> tuple[sa.Column, sa.ForeignKeyConstraint]:
    return (
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["app_user.id"], name=op.f(f"fk_{table}_by_user_id_app_user"), ondelete="SET NULL"
        ),
    )


def _incident(table: str) -> tuple[sa.Column, sa.ForeignKeyConstraint]:
    return (
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f(f"fk_{table}_incident_id_incident"), ondelete="CASCADE"
        ),
    )


def upgrade() -> None:
    op.create_table(
        "incident_handoff",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        *_incident("incident_handoff"),
        sa.Column("department_id", sa.Text(), nullable=False, comment="id of the department in the settings' list"),
        sa.Column(
            "department_name", sa.Text(), nullable=False, comment="its name when handed off (the list may change)"
        ),
        sa.Column("note", sa.Text(), nullable=True),
        *_by("incident_handoff"),
        _at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_handoff")),
    )
    op.create_index(op.f("ix_incident_handoff_incident_id_at"), "incident_handoff", ["incident_id", "at"])
    op.create_table(
        "incident_feedback",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        *_by("incident_feedback"),
        _at(),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["incident_handoff.id"],
            name=op.f("fk_incident_feedback_handoff_id_incident_handoff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_feedback")),
    )
    op.create_index(op.f("ix_incident_feedback_handoff_id"), "incident_feedback", ["handoff_id"])
    op.create_table(
        "incident_approval",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        *_incident("incident_approval"),
        sa.Column("step", sa.Text(), nullable=False, comment="line_checked, director_reviewed or approved"),
        *_by("incident_approval"),
        _at(),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_approval")),
    )
    op.create_index(op.f("ix_incident_approval_incident_id_at"), "incident_approval", ["incident_id", "at"])
    op.create_table(
        "incident_notification",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        *_incident("incident_notification"),
        sa.Column("channel", sa.Text(), nullable=False, comment="webhook or email"),
        sa.Column("target", sa.Text(), nullable=False, comment="the webhook URL or the e-mail recipients"),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False, comment="pending, sent or failed"),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True, comment="why the last attempt failed"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('webhook', 'email')", name=op.f("ck_incident_notification_channel_known")),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_incident_notification_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_notification")),
    )
    op.create_index(op.f("ix_incident_notification_incident_id"), "incident_notification", ["incident_id"])
    op.create_index(
        "ix_incident_notification_unsent",
        "incident_notification",
        ["id"],
        postgresql_where=sa.text("status <> 'sent'"),
    )


def downgrade() -> None:
    op.drop_table("incident_notification")
    op.drop_table("incident_approval")
    op.drop_table("incident_feedback")
    op.drop_table("incident_handoff")
