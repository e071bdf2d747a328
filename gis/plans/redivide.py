"""Re-dividing one community of a draft plan in the store.

The planner's workbench asks the engine to re-divide a single community of a draft:
its units with their current grids are the ``previous`` plan, locked grids never
change, and :mod:`partition.redivide` keeps every grid it can (fewest households
moved). The result is written back into the draft as one versioned edit: the same
version check as a manual edit (:func:`gis.plans.edits.move_units`), one transaction,
one audit entry. Outlines and counts of the grids touched are recomputed from their
units exactly as manual edits do, so both kinds of edit leave the same kind of grid.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis import columns as C
from gis.errors import CommgridError, InputError, NotFoundError
from gis.plans.districts import read_district_barriers, read_district_communities, read_district_units
from gis.plans.edits import GridCheck, _check_grids, _DraftEdit, _refresh_grids, draft_for_update, plan_targets
from gis.plans.locks import locked_codes
from gis.store.engine import atomic

__all__ = ["CommunityRedivision", "redivide_community"]


@dataclass(frozen=True)
class CommunityRedivision:
    """What re-dividing one community did to a draft."""

    plan: str
    community: str
    version: int
    applied: bool
    kept: list[str]
    changed: list[str]
    added: list[str]
    retired: list[str]
    locked: list[str]
    units_moved: int
    households_moved: int
    households_total: int
    moved_units: list[str]
    grids: list[GridCheck]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["grids"] = [g.to_dict() for g in self.grids]
        out["households_moved_share"] = (
            round(self.households_moved / self.households_total, 4) if self.households_total else 0.0
        )
        return out


def redivide_community(
    conn: Connection,
    plan: str,
    community: str,
    *,
    version: int,
    locked: list[str] | None = None,
    dry_run: bool = False,
    actor: str | None = None,
) -> CommunityRedivision:
    """Re-divide one community of a draft plan with the engine, keeping locked grids and as many others as it can.

    Parameters
    ----------
    conn
        An open connection.
    plan
        The draft plan's name.
    community
        The community's id in the source data (``community_id``).
    version
        The plan version the request was made against; another current version is a conflict.
    locked
        Codes of grids that must not change (codes of other communities are refused), on top
        of the community's grids locked in the plan (:mod:`gis.plans.locks`).
    dry_run
        Run the engine and report, keeping nothing.
    actor
        Who asks, for the audit log (:func:`gis.plans.store.acting_user`).

    Raises
    ------
    ConflictError
        When the plan is not a draft or ``version`` is stale.
    NotFoundError
        For an unknown plan or community.
    InputError
        For locked codes that are not grids of that community.
    """
    from partition import partition
    from partition.targets import Targets

    started = time.perf_counter()
    locked = sorted(set(locked or []))
    with atomic(conn):
        row = draft_for_update(conn, plan, version)
        district = conn.execute(
            text("SELECT id, working_crs FROM district WHERE id = :d"), {"d": row.district_id}
        ).one()
        community_pk = conn.execute(
            text("SELECT id FROM community WHERE district_id = :d AND community_id = :c"),
            {"d": row.district_id, "c": community},
        ).scalar()
        if community_pk is None:
            raise NotFoundError(f"the district of plan {plan!r} has no community {community!r}")
        units = read_district_units(conn, row.district_id, community).reset_index(drop=True)
        if units.empty:
            raise NotFoundError(f"community {community!r} holds no units in the district of plan {plan!r}")
        communities = read_district_communities(conn, row.district_id)
        communities = communities[communities[C.COMMUNITY_ID] == community]
        assigned = pd.DataFrame(
            conn.execute(
                text(
                    """
                    SELECT u.unit_id, g.code, x.households, x.population FROM unit u
                    JOIN grid_assignment x ON x.unit_id = u.id AND x.plan_id = :p
                    JOIN grid g ON g.id = x.grid_id
                    WHERE u.community_id = :c
                    """
                ),
                {"p": row.id, "c": community_pk},
            ).all(),
            columns=[C.UNIT_ID, C.GRID_CODE, C.HOUSEHOLDS, C.POPULATION],
        )
        # the draft's own counts (each plan keeps the counts it was made from), not the district's newest
        own = assigned.set_index(C.UNIT_ID)
        for column in (C.HOUSEHOLDS, C.POPULATION):
            units[column] = units[C.UNIT_ID].map(own[column]).fillna(units[column]).astype(int)
        before = assigned[[C.UNIT_ID, C.GRID_CODE]]
        codes_here = set(before[C.GRID_CODE])
        foreign = [c for c in locked if c not in codes_here]
        if foreign:
            raise InputError(
                f"locked grids {foreign[:10]} are not grids of community {community!r} in plan {plan!r}",
                field="lock",
                feature_id=foreign,
            )
        # the locks stored with the plan hold whoever asks, as well as those the request names
        locked = sorted(set(locked) | set(locked_codes(conn, row.id, community_pk)))
        barriers = read_district_barriers(conn, row.district_id, community)
        (h_lo, h_hi), (p_lo, p_hi) = plan_targets(row.params)
        result = partition(
            units,
            communities=communities,
            targets=Targets(households_range=(h_lo, h_hi), population_range=(p_lo, p_hi)),
            crs=district.working_crs,
            seed=int((row.params or {}).get("seed", 0) or 0),
            source=f"community {community!r} of plan {plan!r}",
            previous=before,
            locked=locked,
            # the district's stored streets and rivers: a re-divided village follows them as the full partition does
            barriers=barriers if len(barriers) else None,
        )
        failed = result.report.get("failed_containers") or []
        if failed:
            raise CommgridError(f"the engine could not re-divide community {community!r}: {failed[0]['error']}")
        after = result.assignment[[C.UNIT_ID, C.GRID_CODE]].astype(str)
        moved = before.merge(after, on=C.UNIT_ID, suffixes=("_before", "_after"))
        moved = moved[moved[f"{C.GRID_CODE}_before"] != moved[f"{C.GRID_CODE}_after"]]
        households = dict(zip(units[C.UNIT_ID].astype(str), units[C.HOUSEHOLDS].astype(int), strict=True))
        new_codes = set(after[C.GRID_CODE])
        edit = _DraftEdit(conn, row, dry_run, actor)
        edit.begin()
        _write_community(conn, row, community_pk, result.grids, after, new_codes - codes_here)
        checks = _check_grids(conn, row, _grid_ids(conn, row.id, sorted(new_codes)))
        _mark_from_engine(conn, row.id, result.grids)
        touched = {*moved[f"{C.GRID_CODE}_before"], *moved[f"{C.GRID_CODE}_after"]}
        changes = {
            "changed": sorted(new_codes & codes_here & touched),
            "added": sorted(new_codes - codes_here),
            "retired": sorted(codes_here - new_codes),
        }
        households_moved = int(sum(households[u] for u in moved[C.UNIT_ID]))
        new_version = edit.end(
            "plan.redivide",
            {
                "community": community,
                "locked": locked,
                "moved": len(moved),
                "households_moved": households_moved,
                **changes,
            },
        )
    return CommunityRedivision(
        plan=plan,
        community=community,
        version=new_version,
        applied=not dry_run,
        kept=sorted(new_codes & codes_here - touched),
        **changes,
        locked=locked,
        units_moved=len(moved),
        households_moved=households_moved,
        households_total=int(units[C.HOUSEHOLDS].sum()),
        moved_units=sorted(moved[C.UNIT_ID]),
        grids=checks,
        seconds=round(time.perf_counter() - started, 3),
    )


def _grid_ids(conn: Connection, plan_id: int, codes: list[str]) -> list[int]:
    return list(
        conn.execute(
            text("SELECT id FROM grid WHERE plan_id = :p AND code = ANY(:c) ORDER BY code"), {"p": plan_id, "c": codes}
        ).scalars()
    )


def _write_community(
    conn: Connection, plan: Any, community_pk: int, grids: Any, after: pd.DataFrame, added: set[str]
) -> None:
    """Point the community's units at their new grids; grids the engine made anew get a row first.

    Kept grids keep their rows (ids referenced by workers and incidents stay valid). Outlines
    and counts are recomputed from the units, and grids left empty are deleted, as a manual
    edit does (:func:`gis.plans.edits._refresh_grids`).
    """
    old_ids = list(
        conn.execute(
            text("SELECT id FROM grid WHERE plan_id = :p AND community_id = :c"), {"p": plan.id, "c": community_pk}
        ).scalars()
    )
    for code in sorted(added):
        # the outline and counts are placeholders until _refresh_grids below recomputes them from the units
        conn.execute(
            text(
                """
                INSERT INTO grid (plan_id, code, community_id, households, population, n_units, status, geom)
                SELECT :p, :code, :c, 0, 0, 0, 'ok', ST_Multi(ST_Union(u.geom))
                FROM unit u WHERE u.district_id = :d AND u.unit_id = ANY(:units)
                """
            ),
            {
                "p": plan.id,
                "code": code,
                "c": community_pk,
                "d": plan.district_id,
                "units": after.loc[after[C.GRID_CODE] == code, C.UNIT_ID].tolist(),
            },
        )
    conn.execute(
        text(
            """
            UPDATE grid_assignment x SET grid_id = g.id
            FROM unnest(CAST(:units AS text[]), CAST(:codes AS text[])) AS pairs(unit_id, code)
            JOIN unit u ON u.unit_id = pairs.unit_id AND u.district_id = :d
            JOIN grid g ON g.plan_id = :p AND g.code = pairs.code
            WHERE x.plan_id = :p AND x.unit_id = u.id AND x.grid_id <> g.id
            """
        ),
        {"units": after[C.UNIT_ID].tolist(), "codes": after[C.GRID_CODE].tolist(), "d": plan.district_id, "p": plan.id},
    )
    new_ids = _grid_ids(conn, plan.id, sorted(set(after[C.GRID_CODE])))
    _refresh_grids(conn, plan, sorted(set(old_ids) | set(new_ids)))


def _mark_from_engine(conn: Connection, plan_id: int, grids: Any) -> None:
    # the engine's status and reason say more than a range check (oversized units, proofs)
    conn.execute(
        text(
            """
            UPDATE grid g SET status = s.status, reason = s.reason
            FROM unnest(CAST(:codes AS text[]), CAST(:status AS text[]), CAST(:reason AS text[]))
                 AS s(code, status, reason)
            WHERE g.plan_id = :p AND g.code = s.code
            """
        ),
        {
            "p": plan_id,
            "codes": grids[C.GRID_CODE].astype(str).tolist(),
            "status": grids[C.STATUS].astype(str).tolist(),
            "reason": [None if pd.isna(r) or r == "" else str(r) for r in grids[C.REASON]],
        },
    )
