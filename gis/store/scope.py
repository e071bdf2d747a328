"""What a team member may see, by ids, as conditions the store queries add to their ``WHERE``.

A :class:`Reach` is the scope of one caller resolved for the store: ``None`` stands for
the whole city (office roles: analyst, planner, admin). For the team:

* a grid worker reaches their own worker record (patrols, compliance, their record) and
  the incidents they reported (by user id) or that lie in their own grid;
* a grid leader reaches the workers and incidents of the grids they lead;
* a station master or community director reaches those of every grid of their community.

Grids are ``(district_id, grid_code)`` pairs: a grid's code stays valid across plans,
and an incident's grid is the published grid in force covering its point
(:data:`gis.incidents.store.GRID_IN_FORCE`). Names never decide anything here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis.store.lookup import grid_communities_sql

__all__ = ["Reach", "community_grids", "incident_condition", "team_reach", "worker_condition"]

GridPairs = frozenset[tuple[int, str]]


@dataclass(frozen=True)
class Reach:
    """Where a team member acts: their worker record, grids, and their own reports.

    ``worker_id`` set: worker rows are only this one (a grid worker). Otherwise worker
    rows are those posted to ``grids``. Incidents are those in ``grids`` or reported by
    ``user_id``.
    """

    grids: GridPairs = frozenset()
    worker_id: int | None = None
    user_id: int | None = None


# Per (district, code) of the districts asked about, the grid's community (gis.store.lookup's rule).
_COMMUNITY_GRIDS = f"""
    SELECT district_id, code FROM ({grid_communities_sql("p.district_id = ANY(:districts)")}) AS placed
    WHERE (community_district::text || ':' || community_id) = ANY(:pairs)
"""


def community_grids(conn: Connection, communities: Collection[tuple[int, str]]) -> GridPairs:
    """The ``(district_id, grid_code)`` pairs of every grid of these ``(district_id, community_id)`` communities."""
    if not communities:
        return frozenset()
    rows = conn.execute(
        text(_COMMUNITY_GRIDS),
        {"districts": sorted({d for d, _ in communities}), "pairs": [f"{d}:{c}" for d, c in sorted(communities)]},
    )
    return frozenset((int(d), str(c)) for d, c in rows)


def team_reach(
    conn: Connection,
    *,
    user_id: int | None,
    worker_id: int | None = None,
    grids: Collection[tuple[int, str]] = (),
    communities: Collection[tuple[int, str]] = (),
) -> Reach:
    """A team member's :class:`Reach` from their stored links (as :func:`api.access._lookup` loads them with the token).

    A grid worker's own grid is the one their worker record is posted to (none when the
    record has no grid or the account is not linked).
    """
    pairs = set(grids) | community_grids(conn, communities)
    if worker_id is not None:
        own = conn.execute(
            text("SELECT district_id, grid_code FROM grid_worker WHERE id = :w AND grid_code IS NOT NULL"),
            {"w": worker_id},
        ).first()
        if own is not None:
            pairs.add((int(own.district_id), str(own.grid_code)))
    return Reach(grids=frozenset(pairs), worker_id=worker_id, user_id=user_id)


def _pairs(grids: Collection[tuple[int, str]]) -> list[str]:
    return [f"{d}:{c}" for d, c in sorted(grids)]


def worker_condition(
    reach: Reach | Collection[tuple[int, str]] | None, alias: str = "gw"
) -> tuple[str, dict[str, Any]]:
    """SQL keeping the ``grid_worker`` rows (``alias``) within ``reach``; always true for ``None``.

    A bare collection of grid pairs is the older form of a supervisor's scope.
    """
    if reach is None:
        return "true", {}
    if not isinstance(reach, Reach):
        reach = Reach(grids=frozenset(reach))
    if reach.worker_id is not None:
        return f"{alias}.id = :reach_worker", {"reach_worker": reach.worker_id}
    if not reach.grids:
        return "false", {}
    return f"({alias}.district_id::text || ':' || {alias}.grid_code) = ANY(:reach_pairs)", {
        "reach_pairs": _pairs(reach.grids)
    }


def incident_condition(reach: Reach | None, incident: str = "i", grid: str = "g") -> tuple[str, dict[str, Any]]:
    """SQL keeping incidents (``incident``, with the grid in force as ``grid``) within ``reach``.

    An incident is in reach when its grid in force is one of ``reach.grids`` or it was
    reported by ``reach.user_id``; always true for ``None``.
    """
    if reach is None:
        return "true", {}
    parts, params = [], {}
    if reach.user_id is not None:
        parts.append(f"{incident}.reporter_user_id = :reach_user")
        params["reach_user"] = reach.user_id
    if reach.grids:
        parts.append(f"({incident}.district_id::text || ':' || {grid}.code) = ANY(:reach_pairs)")
        params["reach_pairs"] = _pairs(reach.grids)
    return ("(" + " OR ".join(parts) + ")") if parts else "false", params
