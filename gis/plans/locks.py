"""Grid locks stored with a plan: a locked grid takes no manual moves and re-division keeps it.

The workbench's lock is a planner's decision about the plan, so it lives with the plan
(``grid_lock``), not in one browser tab: it survives a reload and another planner opening
the draft sees it. Locking changes no grid, so it does not bump the plan's version; it is
written to the audit log.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis import clock
from gis.errors import ConflictError, NotFoundError
from gis.plans.store import acting_user
from gis.store import lookup
from gis.store.audit import record
from gis.store.engine import atomic

__all__ = ["locked_codes", "set_lock"]


def locked_codes(conn: Connection, plan_id: int, community_pk: int | None = None) -> list[str]:
    """Codes of the plan's locked grids (of one community, by its primary key, when given)."""
    return list(
        conn.execute(
            text(
                """
                SELECT g.code FROM grid_lock l JOIN grid g ON g.id = l.grid_id
                WHERE l.plan_id = :p AND (CAST(:c AS integer) IS NULL OR g.community_id = :c) ORDER BY g.code
                """
            ),
            {"p": plan_id, "c": community_pk},
        ).scalars()
    )


def set_lock(conn: Connection, plan: str, code: str, locked: bool, *, actor: str | None = None) -> list[str]:
    """Lock (or unlock) grid ``code`` of the draft ``plan``; answers the plan's locked codes.

    Raises
    ------
    NotFoundError
        For an unknown plan or grid.
    ConflictError
        When the plan is not a draft (published and archived plans are read-only).
    """
    with atomic(conn):
        found = lookup.plan(conn, plan, None)
        row = conn.execute(
            text(
                "SELECT p.id, p.status, g.id AS grid_id FROM grid_plan p "
                "LEFT JOIN grid g ON g.plan_id = p.id AND g.code = :c WHERE p.id = :p FOR UPDATE OF p"
            ),
            {"p": found.id, "c": code},
        ).one()
        if row.status != "draft":
            raise ConflictError(f"plan {plan!r} is {row.status} and read-only; lock grids of a draft")
        if row.grid_id is None:
            raise NotFoundError(f"plan {plan!r} has no grid {code!r}")
        user = acting_user(conn, actor)
        if locked:
            changed = conn.execute(
                text(
                    "INSERT INTO grid_lock (grid_id, plan_id, locked_by, locked_at) VALUES (:g, :p, :u, :t) "
                    "ON CONFLICT (grid_id) DO NOTHING"
                ),
                {"g": row.grid_id, "p": row.id, "u": user, "t": clock.now()},
            ).rowcount
        else:
            changed = conn.execute(text("DELETE FROM grid_lock WHERE grid_id = :g"), {"g": row.grid_id}).rowcount
        if changed:
            record(
                conn,
                actor=user,
                action="plan.lock" if locked else "plan.unlock",
                target=f"plan:{row.id}",
                detail={"plan": plan, "grid": code},
            )
        return locked_codes(conn, row.id)
