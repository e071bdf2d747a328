"""Grid workers (网格员): who is posted as a grid's contact, and their posted fields.

PERSONAL DATA. A worker record holds a name, a work phone, a photo and duties; these
four are the *posted* fields, the only ones that may reach the public (posters, contact
cards, the public page). Nothing else about a worker leaves the planner routes.

A grid has at most one active worker: assigning a new one retires the previous one
(``active = false``, kept for history). Workers are tied to a grid *code*, which stays
valid across plans; assignment checks the code against the district's published plan.

Every posted field goes through the roster's checks (:mod:`gis.workers.roster`) on the way
in; photos are re-encoded as metadata-free JPEG there.

Examples
--------
>>> rows = roster.read_workers_csv("workers.csv")  # doctest: +SKIP
>>> with begin(engine) as conn:  # doctest: +SKIP
...     import_workers(conn, rows, file="workers.csv")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection

from gis.errors import AmbiguousError, ConflictError, InputError, NotFoundError
from gis.store import lookup
from gis.store.engine import atomic
from gis.store.models import Grid, GridWorker
from gis.store.scope import Reach, worker_condition
from gis.workers.roster import (
    POSTED_CHECKS,
    Where,
    WorkerRow,
    checked_row,
    combined_error,
)

__all__ = [
    "ImportSummary",
    "PostedContact",
    "Worker",
    "assign_worker",
    "change_worker",
    "import_workers",
    "list_workers",
    "posted_contact",
    "read_worker",
    "retire_worker",
    "worker_photo",
]

_worker = GridWorker.__table__


@dataclass(frozen=True)
class Worker:
    """A stored worker as planners see it (the photo itself is read with :func:`worker_photo`)."""

    id: int
    district_id: int
    grid_code: str | None
    name: str
    work_phone: str | None
    duties: str | None
    active: bool
    has_photo: bool


@dataclass(frozen=True)
class PostedContact:
    """The posted fields of a grid's active worker: all the public may see of them."""

    name: str
    work_phone: str | None
    duties: str | None
    photo: bytes | None


@dataclass(frozen=True)
class ImportSummary:
    """What :func:`import_workers` did."""

    district_id: int
    assigned: int  # new workers (a grid's previous worker, if any, retired)
    updated: int  # the grid's active worker of the same name, posted fields refreshed
    retired: int


_UNSET: Any = object()  # a field change_worker leaves as it is


# -- reading -----------------------------------------------------------------------------------


def _worker_columns() -> tuple:
    return (
        _worker.c.id,
        _worker.c.district_id,
        _worker.c.grid_code,
        _worker.c.name,
        _worker.c.work_phone,
        _worker.c.duties,
        _worker.c.active,
        _worker.c.photo.is_not(None).label("has_photo"),
    )


def _within(reach: Reach | None):
    """The condition keeping ``grid_worker`` rows within a team member's reach (:mod:`gis.store.scope`)."""
    condition, params = worker_condition(reach, _worker.name)
    return text(condition).bindparams(**params)


def list_workers(
    conn: Connection,
    *,
    district: str | None = None,
    grid_code: str | None = None,
    active: bool | None = None,
    reach: Reach | None = None,
) -> list[Worker]:
    """Stored workers, by grid code then newest first.

    Parameters
    ----------
    reach
        Only workers within a team member's reach (``None``: all).
    district
        Only this district's (by name); ``None`` for all.
    grid_code
        Only this grid's.
    active
        ``True`` for posted workers, ``False`` for retired ones, ``None`` for both.

    Raises
    ------
    NotFoundError
        When ``district`` names no stored district.
    """
    query = select(*_worker_columns()).where(_within(reach))
    if district is not None:
        query = query.where(_worker.c.district_id == lookup.district_id(conn, district))
    if grid_code is not None:
        query = query.where(_worker.c.grid_code == grid_code)
    if active is not None:
        query = query.where(_worker.c.active.is_(active))
    rows = conn.execute(query.order_by(_worker.c.grid_code, _worker.c.id.desc())).all()
    return [Worker(*row) for row in rows]


def read_worker(conn: Connection, worker_id: int, *, lock: bool = False, reach: Reach | None = None) -> Worker:
    """One stored worker.

    Parameters
    ----------
    worker_id
        The worker's id.
    lock
        Lock the row until the transaction ends (for read-then-write).
    reach
        A team member's reach: a worker outside it is not found (``None``: all).

    Raises
    ------
    NotFoundError
        When there is no such worker (within ``reach``).
    """
    query = select(*_worker_columns()).where(_worker.c.id == worker_id, _within(reach))
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        among = "" if reach is None else " among those you may see"
        raise NotFoundError(f"no grid worker with id {worker_id}{among}", see="list_workers")
    return Worker(*row)


def worker_photo(conn: Connection, worker_id: int, *, reach: Reach | None = None) -> bytes:
    """A worker's stored photo (JPEG); ``reach`` as in :func:`read_worker`.

    Raises
    ------
    NotFoundError
        When there is no such worker (within ``reach``) or they have no photo.
    """
    worker = read_worker(conn, worker_id, reach=reach)
    photo = conn.execute(select(_worker.c.photo).where(_worker.c.id == worker_id)).scalar()
    if photo is None:
        raise NotFoundError(f"grid worker {worker_id} ({worker.name}) has no photo")
    return photo


def posted_contact(conn: Connection, *, district_id: int, grid_code: str) -> PostedContact | None:
    """The posted fields of a grid's active worker, or ``None`` when the grid has none.

    Parameters
    ----------
    district_id
        The grid's district (codes are unique within a district only).
    grid_code
        The grid's code.
    """
    row = conn.execute(
        select(_worker.c.name, _worker.c.work_phone, _worker.c.duties, _worker.c.photo)
        .where(_worker.c.district_id == district_id, _worker.c.grid_code == grid_code, _worker.c.active)
        # the same worker features.py and the tiles show when several are active
        .order_by(_worker.c.id)
        .limit(1)
    ).first()
    return None if row is None else PostedContact(*row)


# -- writing ----------------------------------------------------------------------------------


def import_workers(
    conn: Connection, rows: Sequence[WorkerRow], *, district: str | None = None, file: str = "workers"
) -> ImportSummary:
    """Assign the workers of checked rows (from :func:`~gis.workers.roster.read_workers_csv`) in one transaction.

    Each row becomes its grid's active worker. When the grid's active worker has the same
    name, their posted fields are updated (so importing a file twice changes nothing);
    otherwise the previous worker is retired and kept for history.

    Parameters
    ----------
    rows
        The workers.
    district
        The district's name; ``None`` when one district alone has a published plan.
    file
        The source, for error messages.

    Raises
    ------
    InputError
        When a grid code repeats or is not among the published plan's grids; nothing is written.
    NotFoundError
        When the district does not exist or has no published plan.
    """
    with atomic(conn):
        district_id, grids = _published_grids(conn, district)
        problems = []
        seen: dict[str, int] = {}
        for index, row in enumerate(rows):
            where = Where(file, index, row.grid_code)
            if row.grid_code in seen:
                problems.append(
                    where.error(
                        f"grid {row.grid_code} already has a worker in row {seen[row.grid_code]}; a grid posts one "
                        "contact. Keep one row per grid",
                        "grid_code",
                    )
                )
            elif row.grid_code not in grids:
                problems.append(where.error(_unknown_grid(row.grid_code, grids), "grid_code"))
            seen.setdefault(row.grid_code, index)
        if problems:
            raise combined_error(problems, Path(file))
        assigned = updated = retired = 0
        for row in rows:
            outcome, n_retired = _assign(conn, district_id, grids[row.grid_code], row)
            assigned += outcome == "assigned"
            updated += outcome == "updated"
            retired += n_retired
    return ImportSummary(district_id, assigned, updated, retired)


def assign_worker(
    conn: Connection,
    *,
    grid_code: str,
    name: str,
    work_phone: str,
    duties: str | None = None,
    photo: bytes | None = None,
    district: str | None = None,
) -> Worker:
    """Make a new worker a grid's posted contact, retiring the grid's previous worker.

    Parameters
    ----------
    grid_code
        A grid of the district's published plan.
    name, work_phone, duties
        The posted fields, checked as the roster checks them (:func:`~gis.workers.roster.checked_row`).
    photo
        An image file's bytes (see :func:`~gis.workers.roster.photo_jpeg`).
    district
        The district's name; ``None`` when one district alone has a published plan.

    Returns
    -------
    Worker
        The new worker.

    Raises
    ------
    InputError
        When a field is empty, too long or malformed, or the grid is unknown.
    NotFoundError
        When the district does not exist or has no published plan.
    """
    row = checked_row(Where(), grid_code=grid_code, name=name, work_phone=work_phone, duties=duties, photo=photo)
    with atomic(conn):
        district_id, grids = _published_grids(conn, district)
        if row.grid_code not in grids:
            raise InputError(_unknown_grid(row.grid_code, grids), feature_id=row.grid_code, field="grid_code")
        _retire_grid(conn, district_id, row.grid_code)
        worker_id = _insert(conn, district_id, grids[row.grid_code], row)
    return read_worker(conn, worker_id)


def change_worker(
    conn: Connection,
    worker_id: int,
    *,
    name: str = _UNSET,
    work_phone: str = _UNSET,
    duties: str | None = _UNSET,
    photo: bytes | None = _UNSET,
) -> Worker:
    """Change an active worker's posted fields; fields not given stay as they are.

    Parameters
    ----------
    worker_id
        The worker.
    name, work_phone, duties
        New values, checked as the roster checks them (``duties=None`` clears the duties).
    photo
        An image file's bytes, or ``None`` to remove the photo.

    Raises
    ------
    NotFoundError
        When there is no such worker.
    ConflictError
        When the worker is retired (assign a new worker instead).
    InputError
        When a value is empty, too long or malformed.
    """
    given = {"name": name, "work_phone": work_phone, "duties": duties, "photo": photo}
    changes = {field: value for field, value in given.items() if value is not _UNSET}
    with atomic(conn):
        current = read_worker(conn, worker_id, lock=True)
        if not current.active:
            raise ConflictError(
                f"grid worker {worker_id} ({current.name}) is retired; retired records are history. Assign a new "
                "worker",
                see="assign_worker",
            )
        where = Where(feature_id=current.grid_code)
        values = {field: check(changes[field], where) for field, check in POSTED_CHECKS.items() if field in changes}
        if values:
            conn.execute(update(_worker).where(_worker.c.id == worker_id).values(**values))
    return read_worker(conn, worker_id)


def retire_worker(conn: Connection, worker_id: int) -> Worker:
    """Retire a worker: no longer posted, kept for history. Retiring twice is harmless.

    Raises
    ------
    NotFoundError
        When there is no such worker.
    """
    with atomic(conn):
        read_worker(conn, worker_id, lock=True)
        conn.execute(update(_worker).where(_worker.c.id == worker_id).values(active=False))
    return read_worker(conn, worker_id)


def _assign(conn: Connection, district_id: int, grid_id: int, row: WorkerRow) -> tuple[str, int]:
    same = conn.execute(
        select(_worker.c.id)
        .where(
            _worker.c.district_id == district_id,
            _worker.c.grid_code == row.grid_code,
            _worker.c.active,
            _worker.c.name == row.name,
        )
        .order_by(_worker.c.id)
        .limit(1)
    ).scalar()
    if same is not None:
        conn.execute(
            update(_worker)
            .where(_worker.c.id == same)
            .values(grid_id=grid_id, work_phone=row.work_phone, duties=row.duties, photo=row.photo)
        )
        return "updated", _retire_grid(conn, district_id, row.grid_code, keep=same)
    retired = _retire_grid(conn, district_id, row.grid_code)
    _insert(conn, district_id, grid_id, row)
    return "assigned", retired


def _insert(conn: Connection, district_id: int, grid_id: int, row: WorkerRow) -> int:
    return conn.execute(
        insert(_worker)
        .values(
            district_id=district_id,
            grid_code=row.grid_code,
            grid_id=grid_id,
            name=row.name,
            work_phone=row.work_phone,
            duties=row.duties,
            photo=row.photo,
            active=True,
        )
        .returning(_worker.c.id)
    ).scalar_one()


def _retire_grid(conn: Connection, district_id: int, grid_code: str, *, keep: int | None = None) -> int:
    query = update(_worker).where(
        _worker.c.district_id == district_id, _worker.c.grid_code == grid_code, _worker.c.active
    )
    if keep is not None:
        query = query.where(_worker.c.id != keep)
    return conn.execute(query.values(active=False).execution_options(preserve_rowcount=True)).rowcount


def _published_grids(conn: Connection, district: str | None) -> tuple[int, dict[str, int]]:
    """The district's id and its published plan's grids (code → id), locked against concurrent assignment."""
    try:
        plan = lookup.plan(conn, None, None if district is None else lookup.district_id(conn, district))
    except AmbiguousError as exc:  # workers name the district, not the plan
        raise AmbiguousError(exc.message, field="district") from None
    # One assigner per district at a time, so a grid never ends up with two active workers.
    conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"grid_worker:{plan.district_id}"))))
    grids = dict(conn.execute(select(Grid.code, Grid.id).where(Grid.plan_id == plan.id)).all())
    return plan.district_id, grids


def _unknown_grid(code: str, grids: dict[str, int]) -> str:
    known = sorted(grids)
    shown = ", ".join(known[:8]) + (f" … ({len(known)} grids)" if len(known) > 8 else "")
    return f"grid {code!r} is not a grid of the published plan; known codes: {shown}"
