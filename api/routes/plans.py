"""Plans for planners: history, one plan, the difference of two, manual edits, the life of a plan
(publish, archive, delete); districts for admins (add, list, remove)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.access import Who
from api.dependencies import Conn
from api.jobs import PartitionRequest, submit_partition
from api.routes.common import CONFLICT, STALE_DRAFT, IfMatchHeader, PlanVersionField, draft_edited, plan_version
from gis.errors import InputError
from gis.plans import list_plans, publish_plan
from gis.plans.edits import diff_plans, move_units
from gis.plans.store import (
    archive_plan,
    delete_plan,
    list_districts,
    remove_district,
    write_district,
)
from gis.store import lookup

router = APIRouter(tags=["plans"])


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
    version: PlanVersionField = None
    dry_run: bool = Field(default=False, description="validate only; keep nothing")


@router.patch(
    "/plans/{name}/assignment",
    operation_id="plan_edit",
    summary="Move units between grids of a draft plan; answers with the checks of the grids touched",
    responses=STALE_DRAFT,
)
def edit(
    response: Response,
    conn: Conn,
    name: str,
    body: AssignmentEdit,
    if_match: IfMatchHeader = None,
) -> dict:
    version = plan_version(body.version, if_match)
    result = move_units(conn, name, body.units, body.grid, version=version, dry_run=body.dry_run)
    return draft_edited(conn, response, result)


@router.post(
    "/plans/{name}/publish",
    operation_id="plan_publish",
    summary="Publish a draft, or an archived plan again (a roll-back); the district's old plan is archived",
    responses={
        409: {**CONFLICT[409], "description": "the plan is published already"},
        422: {"description": "the plan fails a check (contiguity, nesting, overlap, gap, every unit once)"},
    },
)
def publish(conn: Conn, name: str) -> dict:
    publish_plan(conn, plan=name)
    conn.commit()
    return {"published": name}


@router.post(
    "/plans/{name}/archive",
    operation_id="plan_archive",
    summary="Archive the published plan: its district leaves the public map until another is published",
    responses={409: {**CONFLICT[409], "description": "the plan is not published"}},
)
def archive(conn: Conn, name: str) -> dict:
    archive_plan(conn, plan=name)
    conn.commit()
    return {"archived": name}


@router.delete(
    "/plans/{name}",
    status_code=204,
    operation_id="plan_delete",
    summary="Delete a draft (published and archived plans are history and stay)",
    responses={409: {**CONFLICT[409], "description": "the plan is not a draft"}},
)
def delete(conn: Conn, name: str) -> Response:
    delete_plan(conn, plan=name)
    conn.commit()
    return Response(status_code=204)


class DistrictIn(BaseModel):
    """A district to add: its name, boundary and the projected CRS it is measured in."""

    name: str = Field(min_length=1, max_length=200)
    working_crs: str = Field(description="projected CRS for areas and lengths, e.g. EPSG:3826")
    boundary: dict = Field(description="GeoJSON Polygon or MultiPolygon in longitude/latitude (EPSG:4326)")


def _district(d) -> dict:
    return {
        "id": d.id,
        "name": d.name,
        "working_crs": d.working_crs,
        "communities": d.communities,
        "units": d.units,
        "plans": d.plans,
        "published": d.published,
    }


@router.get("/districts", operation_id="districts_list", summary="The city's districts, with their published plans")
def districts(conn: Conn) -> dict:
    return {"districts": [_district(d) for d in list_districts(conn)]}


@router.post(
    "/districts",
    status_code=201,
    operation_id="district_add",
    summary="Add a district without a plan (admin), e.g. to take in its incidents before it is divided",
    responses={409: {**CONFLICT[409], "description": "a district of that name exists"}},
)
def add_district(conn: Conn, body: DistrictIn) -> dict:
    import shapely  # geometry parsing stays out of the module's import time

    try:
        boundary = shapely.geometry.shape(body.boundary)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError) as exc:
        raise InputError(f"boundary is not a GeoJSON geometry: {exc}", field="boundary") from None
    district_id = write_district(conn, name=body.name, working_crs=body.working_crs, boundary_geom=boundary)
    conn.commit()
    found = next(d for d in list_districts(conn) if d.id == district_id)
    return _district(found)


@router.delete(
    "/districts/{district}",
    status_code=204,
    operation_id="district_remove",
    summary="Remove a district (admin); refused while it holds plans, incidents or grid workers",
    responses={409: {**CONFLICT[409], "description": "the district holds plans, incidents or grid workers"}},
)
def delete_district(conn: Conn, district: str) -> Response:
    remove_district(conn, lookup.district_id(conn, district))
    conn.commit()
    return Response(status_code=204)


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
