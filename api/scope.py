"""A caller's scope as the store applies it: the whole city for the office, a :class:`Reach` for the team.

Routes call :func:`reach` (or :func:`personal_reach` for workers' personal data:
patrol tracks, compliance, worker records) and hand the result to the store readers,
which add it to their queries (:mod:`gis.store.scope`); nothing is filtered after
reading.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from api.access import AuthenticationError, Caller, PermissionDeniedError, Role
from gis.store.scope import Reach, team_reach

__all__ = ["LINK_WORKER", "not_linked", "personal_reach", "reach", "reach_needs_store"]

LINK_WORKER = "commgrid users link {name} --worker ID"


def reach(conn: Connection, who: Caller) -> Reach | None:
    """``None`` (everything) for office roles; the stored scope of a team member; nothing for the public."""
    if who.role >= Role.ANALYST:
        return None
    if who.role == Role.PUBLIC:
        return Reach()
    return team_reach(conn, user_id=who.user_id, worker_id=who.worker_id, grids=who.grids, communities=who.communities)


def reach_needs_store(who: Caller) -> bool:
    """Whether the caller's reach is read from the store: team roles above a grid worker (their grids come
    from their communities). Everyone else's is decided from the token alone, with no connection."""
    return Role.GRID_WORKER < who.role < Role.ANALYST


def personal_reach(conn: Connection, who: Caller, what: str) -> Reach | None:
    """The reach of a caller over workers' personal data (``what``, e.g. "patrol tracks"); else 401/403.

    Planners and admins see every worker, team roles their scope. Analysts work with
    incident statistics and never see workers' personal data; a grid worker's account
    must be linked to their worker record first.
    """
    if who.role >= Role.PLANNER:
        return None
    if who.name is None:
        raise AuthenticationError(f"{what} are personal data: send 'Authorization: Bearer <token>'")
    if who.role == Role.ANALYST:
        raise PermissionDeniedError(
            f"{what} are personal data: planners and admins see every grid's, the grid team its own scope; "
            f"user {who.name!r} is an analyst (a grid leader account sees the grids it leads: "
            "`commgrid users add NAME --role grid_leader --grid CODE`)"
        )
    if who.role == Role.GRID_WORKER:
        if who.worker_id is None:
            raise PermissionDeniedError(not_linked(who))
        # their own record alone: workers' data is narrowed by the worker id, so their grid need not be read
        return Reach(worker_id=who.worker_id, user_id=who.user_id)
    return reach(conn, who)


def not_linked(who: Caller) -> str:
    """The message for a grid worker account not linked to a worker record."""
    return (
        f"user {who.name!r} is a grid_worker account not linked to a worker record; an admin links it with "
        f"`{LINK_WORKER.format(name=who.name)}` (ids: `commgrid workers list`)"
    )
