"""The planner's workbench: its page, the layers it paints, re-division of one community, draft copies.

The page itself holds no data, like ``/map``: a browser cannot send a bearer token when
it navigates, so the page asks for one and every request it then makes carries it. The
routes it calls are for planners and admins only; the public and lower roles are refused
(401/403), and the page says so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.access import Who
from api.dependencies import Conn
from api.routes.common import CONFLICT, STALE_DRAFT, IfMatchHeader, PlanVersionField, draft_edited, plan_version
from api.routes.map import add_map_page
from gis.plans.edits import reassign_units
from gis.plans.locks import set_lock
from gis.plans.redivide import redivide_community
from gis.plans.workbench import LAYERS, copy_plan, workbench_layers

router = APIRouter(tags=["editor"])


add_map_page(router, "/editor", "editor.html", operation_id="editor_page", summary="The planner's workbench")


@router.get(
    "/editor/layers",
    operation_id="editor_layers",
    summary="A plan's units (with their grid), grids, communities and streets as GeoJSON, for the workbench",
)
def editor_layers(
    conn: Conn,
    plan: Annotated[str, Query(min_length=1, description="plan name")],
    layers: Annotated[str | None, Query(description=f"comma-separated, of {', '.join(LAYERS)}; all by default")] = None,
    outlines: Annotated[
        bool, Query(description="false: attributes only (geometry null), for a map drawn from the vector tiles")
    ] = True,
) -> dict:
    wanted = tuple(x.strip() for x in layers.split(",") if x.strip()) if layers else LAYERS
    return workbench_layers(conn, plan, wanted, outlines=outlines)


def _lock(on: bool):
    def route(conn: Conn, who: Who, name: str, code: str) -> dict:
        locked = set_lock(conn, name, code, on, actor=who.name)
        conn.commit()
        return {"plan": name, "locked": locked}

    return route


_LOCK_ROUTES = (  # locked?, method, operation id, summary
    (
        True,
        "PUT",
        "grid_lock",
        "Lock a grid of a draft: no moves in or out, re-division keeps it (stored with the plan)",
    ),
    (False, "DELETE", "grid_unlock", "Unlock a grid of a draft"),
)
for on, method, operation_id, summary in _LOCK_ROUTES:
    router.add_api_route(
        "/plans/{name}/grids/{code}/lock",
        _lock(on),
        methods=[method],
        operation_id=operation_id,
        summary=summary,
        responses=CONFLICT,
    )


class ReassignRequest(BaseModel):
    """A community's units put into the grids named for them, as one edit (the workbench's undo of a re-division)."""

    assignment: dict[str, str] = Field(min_length=1, description="unit id -> grid code; missing codes are made anew")
    version: PlanVersionField = None
    dry_run: bool = Field(default=False, description="validate only; keep nothing")


@router.put(
    "/plans/{name}/communities/{community}/assignment",
    operation_id="plan_reassign",
    summary="Put a community's units into the grids named for them, validated and versioned like a move",
    responses=STALE_DRAFT,
)
def reassign(
    response: Response,
    conn: Conn,
    who: Who,
    name: str,
    community: str,
    body: ReassignRequest,
    if_match: IfMatchHeader = None,
) -> dict:
    version = plan_version(body.version, if_match)
    result = reassign_units(
        conn, name, body.assignment, version=version, community=community, dry_run=body.dry_run, actor=who.name
    )
    return draft_edited(conn, response, result)


class RedivideRequest(BaseModel):
    """Re-divide one community of a draft."""

    version: PlanVersionField = None
    lock: list[str] = Field(default_factory=list, description="codes of this community's grids that never change")
    dry_run: bool = Field(default=False, description="run the engine and report; keep nothing")


@router.post(
    "/plans/{name}/communities/{community}/redivide",
    operation_id="plan_redivide",
    summary="Re-divide one community of a draft with the engine: locked grids kept, fewest households moved",
    responses=STALE_DRAFT,
)
def redivide(
    response: Response,
    conn: Conn,
    who: Who,
    name: str,
    community: str,
    body: RedivideRequest,
    if_match: IfMatchHeader = None,
) -> dict:
    version = plan_version(body.version, if_match)
    result = redivide_community(
        conn, name, community, version=version, locked=body.lock, dry_run=body.dry_run, actor=who.name
    )
    return draft_edited(conn, response, result)


class CopyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="name of the new draft (unique)")


@router.post(
    "/plans/{name}/copy",
    status_code=201,
    operation_id="plan_copy",
    summary="Start a draft as a copy of a plan (usually the published one), to edit",
    responses={409: {**CONFLICT[409], "description": "a plan of that name exists"}},
)
def copy(conn: Conn, who: Who, name: str, body: CopyRequest) -> dict:
    copy_plan(conn, name, body.name, actor=who.name)
    conn.commit()
    return {"plan": body.name, "copied_from": name, "status": "draft", "version": 1}
