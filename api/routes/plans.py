"""Plans for planners: history, one plan, the difference of two, manual edits, publishing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.access import Caller, caller
from api.dependencies import Conn
from api.jobs import PartitionRequest, submit_partition
from api.routes.common import CONFLICT, plan_version
from gis.plans import list_plans, publish_plan
from gis.plans.edits import diff_plans, move_units
from gis.store import lookup

router = APIRouter(tags=["plans"])
Who = Annotated[Caller, Depends(caller)]


def _summary(p, base: str) -> dict:
    return {
        "name": p.name,
        "district": p.district,
        "status": p.status,
        "created_at": p.created_at.isoformat(),
        "valid_from": p.valid_from.isoformat() if p.valid_from else None,
        "valid_to": p.valid_to.isoformat() if p.valid_to else None,
        "version": p.version,
        "grids": p.n_grids,
        "links": [
            {"rel": "self", "href": f"{base}/plans/{p.name}"},
            {"rel": "items", "href": f"{base}/collections/grids/items?plan={p.name}"},
        ],
    }


@router.get("/plans", operation_id="plans_list", summary="Every stored plan, oldest first, with validity")
def plans(request: Request, conn: Conn) -> dict:
    base = str(request.base_url).rstrip("/")
    return {"plans": [_summary(p, base) for p in list_plans(conn)]}


@router.get("/plans/{name}", operation_id="plan_detail", summary="One plan; its ETag is its version")
def plan(request: Request, response: Response, conn: Conn, name: str) -> dict:
    lookup.plan(conn, name, None)  # 404 listing the plans
    found = next(p for p in list_plans(conn) if p.name == name)
    report = conn.exec_driver_sql("SELECT report FROM grid_plan WHERE name = %(n)s", {"n": name}).scalar_one()
    response.headers["ETag"] = f'"{found.version}"'
    return {**_summary(found, str(request.base_url).rstrip("/")), "report": report}


@router.get("/plans/{a}/diff/{b}", operation_id="plan_diff", summary="How plan b differs from plan a")
def diff(conn: Conn, a: str, b: str) -> dict:
    return diff_plans(conn, a, b).to_dict()


class AssignmentEdit(BaseModel):
    """Units to move into one grid."""

    units: list[str] = Field(min_length=1, description="source ids of the units to move")
    grid: str = Field(description="code of the grid that receives them")
    version: int | None = Field(default=None, description="plan version edited (or send If-Match)")
    dry_run: bool = Field(default=False, description="validate only; keep nothing")


@router.patch(
    "/plans/{name}/assignment",
    operation_id="plan_edit",
    summary="Move units between grids of a draft plan; answers with the checks of the grids touched",
    responses={409: {**CONFLICT[409], "description": "the plan changed since it was read, or is not a draft"}},
)
def edit(
    response: Response,
    conn: Conn,
    name: str,
    body: AssignmentEdit,
    if_match: Annotated[str | None, Header(description="the plan's ETag, as GET /plans/{name} gave it")] = None,
) -> dict:
    version = plan_version(body.version, if_match)
    result = move_units(conn, name, body.units, body.grid, version=version, dry_run=body.dry_run)
    conn.commit()
    response.headers["ETag"] = f'"{result.version}"'
    return result.to_dict()


@router.post(
    "/plans/{name}/publish",
    operation_id="plan_publish",
    summary="Publish a draft; the old plan is archived",
    responses={409: {**CONFLICT[409], "description": "the plan is not a draft"}},
)
def publish(conn: Conn, name: str) -> dict:
    publish_plan(conn, plan=name)
    conn.commit()
    return {"published": name}


@router.post(
    "/plans",
    status_code=202,
    operation_id="plan_create",
    summary="Partition a stored district into a new draft plan, in the background",
    responses={
        202: {"description": "started; follow the Location"},
        409: {**CONFLICT[409], "description": "a plan of that name exists"},
    },
)
def create_plan(request: Request, who: Who, body: PartitionRequest) -> JSONResponse:
    base = str(request.base_url).rstrip("/")
    job_id = submit_partition(request.app.state.engine, request.app.state.jobs, body, user=who.name)
    return JSONResponse(
        {"job": job_id, "status": "queued", "links": [{"rel": "monitor", "href": f"{base}/jobs/{job_id}"}]},
        status_code=202,
        headers={"Location": f"{base}/jobs/{job_id}"},
    )
