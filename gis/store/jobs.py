"""Jobs: create, report progress, finish, read."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from gis.errors import NotFoundError
from gis.store.models import Job

__all__ = ["create_job", "fail_interrupted", "finish_job", "read_job", "update_job"]

_job = Job.__table__


def create_job(conn: Connection, kind: str, params: dict[str, Any], *, created_by: str | None = None) -> str:
    """Store a queued job and return its id."""
    job_id = secrets.token_hex(8)
    conn.execute(insert(_job).values(id=job_id, kind=kind, params=params, created_by=created_by))
    return job_id


def update_job(conn: Connection, job_id: str, *, done: int, total: int, message: str | None = None) -> None:
    """Record progress of a running job."""
    conn.execute(
        update(_job)
        .where(_job.c.id == job_id)
        .values(status="running", done=done, total=total, message=message, updated_at=func.now())
    )


def finish_job(
    conn: Connection, job_id: str, *, result: dict[str, Any] | None = None, error: str | None = None
) -> None:
    """Mark a job done with its result, or failed with a message for the user."""
    values: dict[str, Any] = {"updated_at": func.now()}
    if error is None:
        values.update(status="done", result=result or {}, message="done")
    else:
        values.update(status="failed", message=error)
    conn.execute(update(_job).where(_job.c.id == job_id).values(**values))


def fail_interrupted(conn: Connection) -> int:
    """Mark jobs left queued or running by a stopped service as failed; returns how many."""
    done = conn.execute(
        update(_job)
        .where(_job.c.status.in_(("queued", "running")))
        .values(status="failed", message="interrupted: the service stopped before the job ended; start it again")
    )
    return done.rowcount


def read_job(conn: Connection, job_id: str) -> dict[str, Any]:
    """A job as a dict.

    Raises
    ------
    NotFoundError
        For an unknown id.
    """
    row = conn.execute(select(_job).where(_job.c.id == job_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no job {job_id!r}")
    out = dict(row)
    for k in ("created_at", "updated_at"):
        out[k] = out[k].isoformat()
    return out
