"""Team accounts: a user linked to the worker record they act for, and to the communities they answer for.

A grid worker's account points at its ``grid_worker`` row (one account per worker);
station masters and community directors get ``user_community`` rows. Grid leaders keep
using ``patrol_supervisor`` for the grids they lead. Scope is stored by ids, so a user
name never decides what anyone may see.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SCOPE_TABLES = ("user_community", "patrol_supervisor")


def upgrade() -> None:
    op.add_column("app_user", sa.Column("worker_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_app_user_worker_id_grid_worker"), "app_user", "grid_worker", ["worker_id"], ["id"], ondelete="SET NULL"
    )
    op.create_unique_constraint(op.f("uq_app_user_worker_id"), "app_user", ["worker_id"])
    op.create_table(
        "user_community",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_user_community_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_user_community_community_id_community"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "community_id", name=op.f("pk_user_community")),
    )
    # a cached caller carries their scope, so a change of scope must move the 'users' version
    for table in SCOPE_TABLES:
        op.execute(
            f"CREATE TRIGGER bump_users_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION commgrid_bump_data_version('users')"
        )


def downgrade() -> None:
    for table in SCOPE_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bump_users_version ON {table}")
    op.drop_table("user_community")
    op.drop_constraint(op.f("uq_app_user_worker_id"), "app_user", type_="unique")
    op.drop_constraint(op.f("fk_app_user_worker_id_grid_worker"), "app_user", type_="foreignkey")
    op.drop_column("app_user", "worker_id")
