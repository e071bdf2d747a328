"""The life of a plan after the engine: its history, differences between plans, and manual edits.

Edits move units between grids of a *draft* plan. Each one is checked against the
plan's version (a stale edit is refused, so two planners never overwrite each other),
applied in one transaction, and answered with the validation of every grid it
touched: contiguity, both ranges, nesting in the community, and whole compounds.
Every applied edit is written to the audit log in that transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis.errors import ConflictError, InputError, NotFoundError
from gis.plans.store import acting_user
from gis.store import lookup
from gis.store.audit import record
from gis.store.engine import atomic

__all__ = [
    "EditResult",
    "GridCheck",
    "PlanCheckError",
    "PlanDiff",
    "check_plan",
    "diff_plans",
    "draft_for_update",
    "move_units",
    "plan_targets",
    "reassign_units",
]

# Problems an edit may not introduce: they break the rules a plan is made by. Grids out of
# the household or resident range are allowed (planners fix them step by step) and reported.
BREAKING = ("contiguous", "nested", "compounds_whole")


class PlanCheckError(InputError):
    """A plan (or an edit of one) that breaks contiguity, nesting, compounds or coverage.

    ``report`` holds every problem found, with the offending grids (and units); the
    grids are in ``feature_id`` too. Nothing was stored.
    """

    http_status = 422

    def __init__(self, message: str, *, report: dict[str, Any], grids: list[str], check: str) -> None:
        super().__init__(message, feature_id=grids or None, field=check)
        self.report = report

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "report": self.report}


DEFAULT_TARGETS = {"households": [300, 500], "population": [1000, 1500]}


@dataclass(frozen=True)
class PlanDiff:
    """How plan ``b`` differs from plan ``a`` (grids matched by code)."""

    a: str
    b: str
    added: list[str]
    removed: list[str]
    changed: list[str]
    kept: list[str]
    units_moved: int
    households_moved: int
    households_total: int

    @property
    def households_moved_share(self) -> float:
        return self.households_moved / self.households_total if self.households_total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "households_moved_share": round(self.households_moved_share, 4)}


@dataclass(frozen=True)
class GridCheck:
    """The validation of one grid after an edit."""

    code: str
    households: int
    population: int
    units: int
    contiguous: bool
    in_range: bool
    nested: bool
    compounds_whole: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON-ready data, with ``ok``."""
        return {**asdict(self), "ok": self.ok}


@dataclass(frozen=True)
class EditResult:
    """What an edit did: the plan's new version and the checks of the grids it touched."""

    plan: str
    version: int
    moved_units: int
    grids: list[GridCheck]
    retired: list[str]
    applied: bool

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "grids": [g.to_dict() for g in self.grids]}


def diff_plans(conn: Connection, a: str, b: str) -> PlanDiff:
    """Compare two plans of one district: grids added, removed, changed and kept, households moved.

    Raises
    ------
    NotFoundError
        When either plan does not exist.
    InputError
        When the plans belong to different districts.
    """
    pa, pb = lookup.plan(conn, a, None), lookup.plan(conn, b, None)
    if pa.district_id != pb.district_id:
        raise InputError(f"plans {a!r} and {b!r} belong to different districts; only plans of one district compare")
    rows = conn.execute(
        text(
            """
            WITH pa AS (SELECT x.unit_id, g.code, x.households FROM grid_assignment x
                        JOIN grid g ON g.id = x.grid_id WHERE x.plan_id = :a),
                 pb AS (SELECT x.unit_id, g.code, x.households FROM grid_assignment x
                        JOIN grid g ON g.id = x.grid_id WHERE x.plan_id = :b)
            -- each plan counts with its own numbers; the newer plan's count a unit moves with
            SELECT pa.code AS code_a, pb.code AS code_b, coalesce(pb.households, pa.households) AS households
            FROM pa FULL JOIN pb ON pa.unit_id = pb.unit_id
            """
        ),
        {"a": pa.id, "b": pb.id},
    ).all()
    frame = pd.DataFrame(rows, columns=["code_a", "code_b", "households"])
    codes_a = set(conn.execute(text("SELECT code FROM grid WHERE plan_id = :p"), {"p": pa.id}).scalars())
    codes_b = set(conn.execute(text("SELECT code FROM grid WHERE plan_id = :p"), {"p": pb.id}).scalars())
    moved = frame[frame.code_a.notna() & frame.code_b.notna() & (frame.code_a != frame.code_b)]
    different = frame[frame.code_a.fillna("") != frame.code_b.fillna("")]
    touched = set(different.code_a.dropna()) | set(different.code_b.dropna())
    both = codes_a & codes_b
    return PlanDiff(
        a=a,
        b=b,
        added=sorted(codes_b - codes_a),
        removed=sorted(codes_a - codes_b),
        changed=sorted(both & touched),
        kept=sorted(both - touched),
        units_moved=len(moved),
        households_moved=int(moved.households.sum()),
        households_total=int(frame.households.sum()),
    )


def plan_targets(params: dict[str, Any]) -> tuple[tuple[int, int], tuple[int, int]]:
    """The household and resident ranges a plan was made for (the defaults when it does not say)."""
    targets = {**DEFAULT_TARGETS, **(params or {}).get("targets", {})}
    h, p = targets["households"], targets["population"]
    return (int(h[0]), int(h[1])), (int(p[0]), int(p[1]))


def move_units(
    conn: Connection,
    plan: str,
    unit_ids: list[str],
    grid: str,
    *,
    version: int,
    dry_run: bool = False,
    actor: str | None = None,
) -> EditResult:
    """Move units into another grid of a draft plan, and validate every grid the move touched.

    Parameters
    ----------
    plan
        The draft plan's name.
    unit_ids
        Source ids of the units to move.
    grid
        Code of the grid that receives them.
    version
        The plan version the edit was made against; a different current version is a conflict.
    dry_run
        Validate without keeping the change (and without an audit entry).
    actor
        Who edits, for the audit log; by default the connection's user or the shell user
        (:func:`gis.plans.store.acting_user`).

    Raises
    ------
    ConflictError
        When the plan is not a draft, or ``version`` is stale.
    NotFoundError
        For an unknown plan or grid.
    InputError
        For unit ids the plan does not hold.
    """
    if not unit_ids:
        raise InputError("name at least one unit to move", field="units")
    with atomic(conn):
        row = draft_for_update(conn, plan, version)
        target = conn.execute(
            text("SELECT id, community_id FROM grid WHERE plan_id = :p AND code = :c"), {"p": row.id, "c": grid}
        ).first()
        if target is None:
            raise NotFoundError(f"plan {plan!r} has no grid {grid!r}")
        found = conn.execute(
            text(
                """
                SELECT u.unit_id, u.id, x.grid_id FROM unit u
                JOIN grid_assignment x ON x.unit_id = u.id AND x.plan_id = :p
                WHERE u.district_id = :d AND u.unit_id = ANY(:ids)
                """
            ),
            {"p": row.id, "d": row.district_id, "ids": list(unit_ids)},
        ).all()
        missing = sorted(set(unit_ids) - {r.unit_id for r in found})
        if missing:
            raise InputError(
                f"plan {plan!r} holds no unit {', '.join(map(repr, missing[:10]))}",
                field="units",
                feature_id=missing,
            )
        moves = [(r.id, target.id) for r in found]
        _refuse_locked(conn, row, {r.grid_id for r in found if r.grid_id != target.id} | {target.id})
        return _apply_moves(
            _DraftEdit(conn, row, dry_run, actor),
            moves,
            set(),
            action="plan.edit",
            detail={"units": sorted(r.unit_id for r in found)[:100], "grid": grid},  # enough to trace
        )


def reassign_units(
    conn: Connection,
    plan: str,
    assignment: dict[str, str],
    *,
    version: int,
    community: str | None = None,
    dry_run: bool = False,
    actor: str | None = None,
) -> EditResult:
    """Put units of a draft into the grids named for them at once, validated and versioned as :func:`move_units`.

    The workbench undoes (and redoes) a re-division with it: the community's assignment
    before the engine ran, sent back as one edit. A grid code the plan no longer has (one
    the re-division retired) is made again, in the community of the units it receives.

    Parameters
    ----------
    assignment
        Source unit id → grid code.
    community
        When given, every unit must belong to this community (``community_id``).

    Raises
    ------
    ConflictError
        When the plan is not a draft, ``version`` is stale, or a grid the edit changes is locked.
    InputError
        For units the plan does not hold (or outside ``community``), no units, or a new grid
        whose units span several communities.
    PlanCheckError
        When the edit would break a rule the grids kept (contiguity, nesting, compounds).
    """
    if not assignment:
        raise InputError("name at least one unit and its grid", field="assignment")
    with atomic(conn):
        row = draft_for_update(conn, plan, version)
        found = conn.execute(
            text(
                """
                SELECT u.unit_id, u.id, x.grid_id, c.community_id FROM unit u
                JOIN grid_assignment x ON x.unit_id = u.id AND x.plan_id = :p
                LEFT JOIN community c ON c.id = u.community_id
                WHERE u.district_id = :d AND u.unit_id = ANY(:ids)
                """
            ),
            {"p": row.id, "d": row.district_id, "ids": list(assignment)},
        ).all()
        missing = sorted(set(assignment) - {r.unit_id for r in found})
        outside = sorted(r.unit_id for r in found if community is not None and r.community_id != community)
        if missing or outside:
            bad = missing or outside
            where = f"plan {plan!r}" if missing else f"community {community!r} of plan {plan!r}"
            raise InputError(
                f"{where} holds no unit {', '.join(map(repr, bad[:10]))}", field="assignment", feature_id=bad
            )
        grids = dict(
            conn.execute(
                text("SELECT code, id FROM grid WHERE plan_id = :p AND code = ANY(:c)"),
                {"p": row.id, "c": sorted(set(assignment.values()))},
            ).all()
        )
        edit = _DraftEdit(conn, row, dry_run, actor)
        edit.begin()
        made = set()
        for code in sorted(set(assignment.values()) - set(grids)):
            grids[code] = made_id = _new_grid(conn, row, code, [r for r in found if assignment[r.unit_id] == code])
            made.add(made_id)
        moves = [(r.id, grids[assignment[r.unit_id]]) for r in found if grids[assignment[r.unit_id]] != r.grid_id]
        changed = {r.grid_id for r in found if grids[assignment[r.unit_id]] != r.grid_id}
        _refuse_locked(conn, row, changed | {g for _, g in moves})
        return _apply_moves(
            edit,
            moves,
            made,
            action="plan.reassign",
            detail={
                "community": community,
                "units": len(moves),
                "made": sorted(c for c, i in grids.items() if i in made),
            },
        )


@dataclass
class _DraftEdit:
    """An edit in progress of a draft locked by :func:`draft_for_update`.

    Its changes wait in a savepoint until :meth:`end` keeps them (the next version, an audit
    entry) or, for a dry run, rolls them back.
    """

    conn: Connection
    row: Any  # the locked draft
    dry_run: bool
    actor: str | None  # who edits (see gis.plans.store.acting_user)
    savepoint: Any = None

    def begin(self) -> None:
        """Open the savepoint the edit's changes go into (once)."""
        if self.savepoint is None:
            self.savepoint = self.conn.begin_nested()

    def end(self, action: str, detail: dict[str, Any]) -> int:
        """Roll back a dry run, or keep the edit and log ``action`` with ``detail``; returns the plan's version after.

        The audit entry's detail also holds the plan's name and its versions before and after.
        """
        if self.dry_run:
            self.savepoint.rollback()
            return self.row.version
        row, new_version = self.row, self.row.version + 1
        self.savepoint.commit()
        self.conn.execute(text("UPDATE grid_plan SET version = :v WHERE id = :p"), {"v": new_version, "p": row.id})
        detail = {"plan": row.name, **detail, "version": [row.version, new_version]}
        record(
            self.conn, actor=acting_user(self.conn, self.actor), action=action, target=f"plan:{row.id}", detail=detail
        )
        return new_version


def draft_for_update(conn: Connection, plan: str, version: int) -> Any:
    """The draft ``plan``'s row, locked for the edit; refused when it is not a draft or not at ``version``."""
    row = conn.execute(
        text("SELECT id, name, district_id, status, version, params FROM grid_plan WHERE name = :n FOR UPDATE"),
        {"n": plan},
    ).first()
    if row is None:
        lookup.plan(conn, plan, None)  # raises NotFoundError listing the plans
    if row.status != "draft":
        raise ConflictError(
            f"plan {plan!r} is {row.status} and read-only; edit a draft (store the plan again under a new name)"
        )
    if row.version != version:
        raise ConflictError(
            f"plan {plan!r} is at version {row.version}, the edit was made against version {version}; "
            "reload the plan and apply the edit again"
        )
    return row


def _refuse_locked(conn: Connection, row: Any, grid_ids: set[int]) -> None:
    locked = (
        conn.execute(
            text(
                "SELECT g.code FROM grid_lock l JOIN grid g ON g.id = l.grid_id WHERE l.grid_id = ANY(:ids) ORDER BY 1"
            ),
            {"ids": sorted(grid_ids)},
        )
        .scalars()
        .all()
    )
    if locked:
        raise ConflictError(
            f"grid {', '.join(locked)} of plan {row.name!r} is locked: no units move in or out; unlock it first"
        )


def _new_grid(conn: Connection, row: Any, code: str, units: list[Any]) -> int:
    """A grid row for ``code`` (outline and counts are recomputed from its units once they are in)."""
    communities = {u.community_id for u in units}
    if len(communities) != 1:
        raise InputError(
            f"new grid {code!r} would hold units of communities {sorted(map(str, communities))}; a grid stays in one",
            field="assignment",
            feature_id=[code],
        )
    return conn.execute(
        text(
            """
            INSERT INTO grid (plan_id, code, community_id, households, population, n_units, status, geom)
            SELECT :p, :code, c.id, 0, 0, 0, 'ok', ST_Multi(ST_Union(u.geom))
            FROM unit u LEFT JOIN community c ON c.district_id = u.district_id AND c.community_id = :c
            WHERE u.id = ANY(:units) GROUP BY c.id RETURNING id
            """
        ),
        {"p": row.id, "code": code, "c": communities.pop(), "units": [u.id for u in units]},
    ).scalar_one()


def _apply_moves(
    edit: _DraftEdit, moves: list[tuple[int, int]], made: set[int], *, action: str, detail: dict
) -> EditResult:
    """Move units (``(unit pk, grid pk)``) in a locked draft; refuse rules newly broken; keep or roll back.

    ``made`` are grids created for this edit (they had no check before it).
    """
    conn, row = edit.conn, edit.row
    affected = sorted({g for _, g in moves} | made | set(_grids_of(conn, row.id, [u for u, _ in moves])))
    before = {c.code: c for c in _check_grids(conn, row, [g for g in affected if g not in made])}
    edit.begin()
    conn.execute(
        text(
            """
            UPDATE grid_assignment x SET grid_id = m.grid_id
            FROM unnest(CAST(:u AS integer[]), CAST(:g AS integer[])) AS m(unit_id, grid_id)
            WHERE x.plan_id = :p AND x.unit_id = m.unit_id
            """
        ),
        {"u": [u for u, _ in moves], "g": [g for _, g in moves], "p": row.id},
    )
    retired = _refresh_grids(conn, row, affected)
    checks = _check_grids(conn, row, [g for g in affected if g not in retired.values()])
    broken = _newly_broken(before, checks)
    if broken:
        edit.savepoint.rollback()
        check, codes, reasons = broken
        raise PlanCheckError(
            f"the edit of plan {row.name!r} is refused, nothing was stored: grid {', '.join(codes)} "
            f"{'; '.join(reasons)}",
            report={"grids": [c.to_dict() for c in checks]},
            grids=codes,
            check=check,
        )
    _mark(conn, row.id, checks)
    new_version = edit.end(action, {"moved": len(moves), **detail, "retired": sorted(retired)})
    return EditResult(row.name, new_version, len(moves), checks, sorted(retired), not edit.dry_run)


def _grids_of(conn: Connection, plan_id: int, unit_pks: list[int]) -> list[int]:
    return list(
        conn.execute(
            text("SELECT DISTINCT grid_id FROM grid_assignment WHERE plan_id = :p AND unit_id = ANY(:u)"),
            {"p": plan_id, "u": unit_pks},
        ).scalars()
    )


def _newly_broken(before: dict[str, GridCheck], after: list[GridCheck]) -> tuple[str, list[str], list[str]] | None:
    """The first rule the edit broke (one a grid kept before), its grids and their reasons."""
    for check in BREAKING:
        codes = [
            c.code for c in after if not getattr(c, check) and (c.code not in before or getattr(before[c.code], check))
        ]
        if codes:
            reasons = {
                "contiguous": "would not be contiguous: its units would form more than one piece",
                "nested": "would hold units of another community",
                "compounds_whole": "would split a residential compound with another grid",
            }
            return check, codes, [reasons[check]]
    return None


def check_plan(conn: Connection, plan_id: int, *, raise_invalid: bool = False) -> dict[str, Any]:
    """Check a whole stored plan: contiguity, nesting, no overlap, no gap, every unit once.

    Parameters
    ----------
    plan_id
        The plan.
    raise_invalid
        Raise :class:`PlanCheckError` with the report when a check fails.

    Returns
    -------
    dict
        ``valid`` and, per check, the offending grid codes (``overlap``: pairs;
        ``unassigned``: units of the plan's communities in no grid of it).
    """
    plan = conn.execute(
        text(
            "SELECT p.name, p.district_id, d.working_crs FROM grid_plan p JOIN district d ON d.id = p.district_id "
            "WHERE p.id = :p"
        ),
        {"p": plan_id},
    ).one()
    srid = int(plan.working_crs.split(":")[1]) if plan.working_crs.upper().startswith("EPSG:") else 3857
    params = {"p": plan_id, "d": plan.district_id, "srid": srid}
    not_contiguous = list(
        conn.execute(
            text("SELECT code FROM grid WHERE plan_id = :p AND ST_NumGeometries(geom) > 1 ORDER BY code"), params
        ).scalars()
    )
    not_nested = list(
        conn.execute(
            text(
                """
                SELECT DISTINCT g.code FROM grid g JOIN grid_assignment x ON x.grid_id = g.id
                JOIN unit u ON u.id = x.unit_id
                WHERE g.plan_id = :p AND u.community_id IS DISTINCT FROM g.community_id ORDER BY g.code
                """
            ),
            params,
        ).scalars()
    )
    # shared edges of unions never match to the last bit: only an overlap of a square metre counts
    overlap = [
        [r.a, r.b]
        for r in conn.execute(
            text(
                """
                SELECT a.code AS a, b.code AS b FROM grid a JOIN grid b
                  ON b.plan_id = a.plan_id AND a.code < b.code AND a.geom && b.geom
                WHERE a.plan_id = :p AND ST_Overlaps(a.geom, b.geom)
                  AND ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom), :srid)) > 1.0
                ORDER BY a.code, b.code
                """
            ),
            params,
        )
    ]
    # a gap: a unit of a community the plan divides that no grid of the plan holds
    unassigned = list(
        conn.execute(
            text(
                """
                SELECT u.unit_id FROM unit u
                WHERE u.district_id = :d
                  AND u.community_id IN (SELECT community_id FROM grid WHERE plan_id = :p)
                  AND NOT EXISTS (SELECT 1 FROM grid_assignment x WHERE x.plan_id = :p AND x.unit_id = u.id)
                ORDER BY u.unit_id
                """
            ),
            params,
        ).scalars()
    )
    # every unit once: a grid's counts are the sum of its own units, each counted in it only
    miscounted = list(
        conn.execute(
            text(
                """
                SELECT g.code FROM grid g LEFT JOIN grid_assignment x ON x.grid_id = g.id
                WHERE g.plan_id = :p GROUP BY g.id
                HAVING count(x.unit_id) <> g.n_units OR coalesce(sum(x.households), 0) <> g.households
                    OR coalesce(sum(x.population), 0) <> g.population
                ORDER BY g.code
                """
            ),
            params,
        ).scalars()
    )
    report = {
        "plan": plan.name,
        "not_contiguous": not_contiguous,
        "not_nested": not_nested,
        "overlap": overlap,
        "unassigned": unassigned,
        "miscounted": miscounted,
    }
    # miscounted grids (totals not their units' sums) are reported, not refused: the counts
    # a grid shows are the planner's business, the units it holds are the plan's
    report["valid"] = not any((not_contiguous, not_nested, overlap, unassigned))
    if raise_invalid and not report["valid"]:
        problems = []
        if not_contiguous:
            problems.append(f"{len(not_contiguous)} grid(s) not contiguous ({', '.join(not_contiguous[:5])})")
        if not_nested:
            problems.append(f"{len(not_nested)} grid(s) hold units of another community ({', '.join(not_nested[:5])})")
        if overlap:
            problems.append(f"{len(overlap)} pair(s) of grids overlap ({', '.join('/'.join(o) for o in overlap[:5])})")
        if unassigned:
            problems.append(f"{len(unassigned)} unit(s) in no grid ({', '.join(unassigned[:5])})")
        if miscounted:
            problems.append(
                f"{len(miscounted)} grid(s) whose counts are not their units' ({', '.join(miscounted[:5])})"
            )
        first = next(k for k in ("not_contiguous", "not_nested", "overlap", "unassigned") if report[k])
        grids = sorted(
            {c for k in ("not_contiguous", "not_nested") for c in report[k]} | {c for pair in overlap for c in pair}
        )
        raise PlanCheckError(
            f"plan {plan.name!r} is not valid and stays as it is: " + "; ".join(problems),
            report=report,
            grids=grids,
            check=first,
        )
    return report


def _refresh_grids(conn: Connection, plan: Any, grid_ids: list[int]) -> dict[str, int]:
    """Recompute counts, outline and compactness of grids; delete those left empty (code → id)."""
    empty = conn.execute(
        text(
            """
            SELECT g.code, g.id FROM grid g
            WHERE g.id = ANY(:ids) AND NOT EXISTS (SELECT 1 FROM grid_assignment x WHERE x.grid_id = g.id)
            """
        ),
        {"ids": grid_ids},
    ).all()
    retired = {r.code: r.id for r in empty}
    if retired:
        conn.execute(text("DELETE FROM grid WHERE id = ANY(:ids)"), {"ids": list(retired.values())})
    srid = int(
        conn.execute(
            text("SELECT split_part(working_crs, ':', 2) FROM district WHERE id = :d"), {"d": plan.district_id}
        ).scalar_one()
        or 3857
    )
    conn.execute(
        text(
            """
            UPDATE grid g SET households = s.households, population = s.population, n_units = s.n,
                   geom = s.geom,
                   polsby_popper = CASE WHEN ST_Perimeter(ST_Transform(s.geom, :srid)) > 0
                       THEN 4 * pi() * ST_Area(ST_Transform(s.geom, :srid))
                            / ST_Perimeter(ST_Transform(s.geom, :srid)) ^ 2 END
            FROM (
                SELECT x.grid_id, sum(x.households) AS households, sum(x.population) AS population,
                       count(*) AS n, ST_Multi(ST_CollectionExtract(ST_Union(u.geom), 3)) AS geom
                FROM grid_assignment x JOIN unit u ON u.id = x.unit_id
                WHERE x.grid_id = ANY(:ids) GROUP BY x.grid_id
            ) AS s
            WHERE g.id = s.grid_id
            """
        ),
        {"ids": grid_ids, "srid": srid},
    )
    return retired


def _check_grids(conn: Connection, plan: Any, grid_ids: list[int]) -> list[GridCheck]:
    (h_lo, h_hi), (p_lo, p_hi) = plan_targets(plan.params)
    rows = conn.execute(
        text(
            """
            SELECT g.id, g.code, g.households, g.population, g.n_units,
                   ST_NumGeometries(g.geom) = 1 AS contiguous,
                   NOT EXISTS (
                       SELECT 1 FROM grid_assignment x JOIN unit u ON u.id = x.unit_id
                       WHERE x.grid_id = g.id AND u.community_id IS DISTINCT FROM g.community_id
                   ) AS nested,
                   (SELECT array_agg(DISTINCT u.compound) FROM grid_assignment x JOIN unit u ON u.id = x.unit_id
                    JOIN grid_assignment y ON y.plan_id = x.plan_id AND y.grid_id <> x.grid_id
                    JOIN unit v ON v.id = y.unit_id AND v.compound = u.compound AND v.district_id = u.district_id
                    WHERE x.grid_id = g.id AND u.compound IS NOT NULL) AS split_compounds
            FROM grid g WHERE g.id = ANY(:ids) ORDER BY g.code
            """
        ),
        {"ids": grid_ids},
    ).all()
    checks = []
    for r in rows:
        problems = []
        if not r.contiguous:
            problems.append("not contiguous: its units form more than one piece")
        if not h_lo <= r.households <= h_hi:
            problems.append(f"{r.households:,} households, outside {h_lo:,}–{h_hi:,}")
        if not p_lo <= r.population <= p_hi:
            problems.append(f"{r.population:,} residents, outside {p_lo:,}–{p_hi:,}")
        if not r.nested:
            problems.append("holds units of another community")
        split = [c for c in (r.split_compounds or []) if c is not None]
        if split:
            problems.append(f"splits compound {', '.join(map(repr, split[:5]))} with another grid")
        checks.append(
            GridCheck(
                code=r.code,
                households=int(r.households),
                population=int(r.population),
                units=int(r.n_units),
                contiguous=bool(r.contiguous),
                in_range=h_lo <= r.households <= h_hi and p_lo <= r.population <= p_hi,
                nested=bool(r.nested),
                compounds_whole=not split,
                problems=problems,
            )
        )
    return checks


def _mark(conn: Connection, plan_id: int, checks: list[GridCheck]) -> None:
    for c in checks:
        conn.execute(
            text("UPDATE grid SET status = :s, reason = :r WHERE plan_id = :p AND code = :c"),
            {
                "s": "ok" if c.in_range else "out_of_range",
                "r": "; ".join(c.problems) or None,
                "p": plan_id,
                "c": c.code,
            },
        )
