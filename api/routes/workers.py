"""Grid workers: planners list, assign, change and retire them; the grid team reads its own (personal data).

The public sees a worker only through the posted fields on posters, contact cards and
the public page (:mod:`api.routes.public`); these routes are for the planners who
keep them. Reading (list, one, photo) is also open to the grid team within its scope,
applied in the store query (:func:`api.scope.personal_reach`): a grid worker their own
record, a grid leader the workers of the grids they lead, a station master or
community director those of their community. Analysts get 403 (no personal data).
Photos travel as base64 in JSON (``photo_base64``) and are stored re-encoded, without
their metadata.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.access import Who
from api.dependencies import Conn
from api.routes.common import CONFLICT, IdPath, answering
from api.scope import personal_reach
from gis.errors import InputError
from gis.workers.roster import MAX_DUTIES_CHARS, MAX_NAME_CHARS
from gis.workers.store import (
    Worker,
    assign_worker,
    change_worker,
    list_workers,
    read_worker,
    retire_worker,
    worker_photo,
)

__all__ = ["WorkerAssign", "WorkerChange", "WorkerOut"]

router = APIRouter(tags=["workers"])

_RECORDS = "worker records"


class WorkerOut(BaseModel):
    """A stored grid worker (the photo is at ``/workers/{id}/photo``)."""

    id: int
    district_id: int
    grid_code: str | None = Field(description="the grid the worker is posted to, kept once retired")
    name: str = Field(description="posted: printed on the grid's poster and contact card")
    work_phone: str | None = Field(description="posted")
    duties: str | None = Field(description="posted")
    active: bool = Field(description="posted as the grid's contact; false once retired (kept for history)")
    has_photo: bool


class WorkerAssign(BaseModel):
    """A new worker for a grid; the grid's current worker, if any, is retired."""

    model_config = ConfigDict(extra="forbid")

    grid_code: str = Field(examples=["440304004001001"])
    name: str = Field(max_length=MAX_NAME_CHARS * 4, examples=["王晓梅"])
    work_phone: str = Field(examples=["0755-8888 1234"])
    duties: str | None = Field(default=None, max_length=MAX_DUTIES_CHARS * 4)
    photo_base64: str | None = Field(default=None, description="a JPEG, PNG or WebP file, base64-encoded")
    district: str | None = Field(default=None, description="district name; needed only when several are published")


class WorkerChange(BaseModel):
    """Posted fields to change; fields left out stay. ``duties`` or ``photo_base64`` null removes them."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    work_phone: str | None = None
    duties: str | None = None
    photo_base64: str | None = None


def _out(worker: Worker) -> WorkerOut:
    return WorkerOut(**worker.__dict__)


def _photo(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(
            "photo_base64 is not base64; send the image file's bytes base64-encoded (no data: prefix)",
            field="photo_base64",
        ) from None


@router.get(
    "/workers",
    operation_id="workers_list",
    summary="Grid workers (planner; the grid team: those in its scope)",
    response_model=list[WorkerOut],
)
def workers_list(
    conn: Conn,
    who: Who,
    grid_code: Annotated[str | None, Query(description="only this grid's workers")] = None,
    district: Annotated[str | None, Query(description="only this district's (by name)")] = None,
    active: Annotated[bool | None, Query(description="true: posted, false: retired; both when absent")] = None,
) -> list[WorkerOut]:
    reach = personal_reach(conn, who, _RECORDS)
    return [_out(w) for w in list_workers(conn, district=district, grid_code=grid_code, active=active, reach=reach)]


@router.post(
    "/workers",
    operation_id="worker_assign",
    responses=CONFLICT,
    summary="Assign a worker to a grid, retiring its previous one (planner)",
    response_model=WorkerOut,
    status_code=status.HTTP_201_CREATED,
)
def worker_assign(conn: Conn, body: WorkerAssign) -> WorkerOut:
    worker = assign_worker(conn, **body.model_dump(exclude={"photo_base64"}), photo=_photo(body.photo_base64))
    return _out(worker)


@router.get(
    "/workers/{worker_id}",
    operation_id="worker",
    summary="One grid worker (planner; the grid team: those in its scope)",
    response_model=WorkerOut,
)
def worker(conn: Conn, who: Who, worker_id: IdPath) -> WorkerOut:
    return _out(read_worker(conn, worker_id, reach=personal_reach(conn, who, _RECORDS)))


@router.patch(
    "/workers/{worker_id}",
    operation_id="worker_change",
    responses=CONFLICT,
    summary="Change a worker's posted fields (planner)",
    response_model=WorkerOut,
)
def worker_change(conn: Conn, worker_id: IdPath, body: WorkerChange) -> WorkerOut:
    given = body.model_fields_set
    changes: dict = {k: getattr(body, k) for k in ("name", "work_phone", "duties") if k in given}
    if "photo_base64" in given:
        changes["photo"] = _photo(body.photo_base64)
    return _out(change_worker(conn, worker_id, **changes))


@router.delete(
    "/workers/{worker_id}",
    operation_id="worker_retire",
    responses=CONFLICT,
    summary="Retire a worker: no longer posted, kept for history (planner)",
    response_model=WorkerOut,
)
def worker_retire(conn: Conn, worker_id: IdPath) -> WorkerOut:
    return _out(retire_worker(conn, worker_id))


@router.get(
    "/workers/{worker_id}/photo",
    operation_id="worker_photo",
    summary="A worker's stored photo (planner; the grid team: those in its scope)",
    **answering("image/jpeg"),
)
def worker_photo_route(conn: Conn, who: Who, worker_id: IdPath) -> Response:
    photo = worker_photo(conn, worker_id, reach=personal_reach(conn, who, _RECORDS))
    return Response(photo, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
