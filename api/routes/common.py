"""Landing page and health check, and the error responses every route declares."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.engine import Connection

from api.dependencies import Conn
from gis.errors import CommgridError, InputError
from gis.store.backup import schema_problems

__all__ = [
    "CONFLICT",
    "ERROR_RESPONSES",
    "MAX_ID",
    "NOT_MODIFIED",
    "STALE_DRAFT",
    "ErrorBody",
    "IdPath",
    "IfMatchHeader",
    "PlanVersionField",
    "plan_version",
    "reject_nul",
    "router",
]

# Stored ids are PostgreSQL integers; a larger one names nothing, and asking would be an error.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


async def reject_nul(request: Request) -> None:
    """400 for a NUL character (``\\x00``) in the path or the query (bodies: :class:`api.bodies.BodyGuard`).

    PostgreSQL text cannot hold one, so such a value could only end as a server error deep
    in a query; it is refused here, naming where it was. The app declares it for every route
    (:func:`api.app.create_app`).

    Raises
    ------
    InputError
        Naming the parameter (or ``body``).
    """
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if "\x00" in str(value) or "\x00" in name:
            raise InputError(
                f"{name!r} holds a NUL character (\\x00), which no stored text can hold; remove it", field=name
            )
    # bodies: api.bodies.BodyGuard, before any route parses them


class ErrorBody(BaseModel):
    """The body of every error answer (see api/errors.py); 5xx bodies stay generic."""

    code: str = Field(description="the error's class, e.g. InputError, NotFoundError", examples=["InputError"])
    description: str = Field(description="what went wrong, the value, what was expected and the fix")
    detail: dict[str, Any] | None = Field(
        default=None, description="for bad input: type, message, file, index, feature_id and field at fault"
    )


def _error(description: str, **extra: Any) -> dict[str, Any]:
    # the schema inline under application/json: with ``model`` FastAPI would file it under the
    # route's own media type (GeoJSON, MVT, PDF), which error bodies never have
    schema = ErrorBody.model_json_schema()
    return {"description": description, "content": {"application/json": {"schema": schema}}, **extra}


# Answers any route may give besides its own: declared on every router so the OpenAPI
# document (and clients generated from it, and the fuzz tests) know them.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("bad input: the description names the parameter or field, the value and the fix"),
    401: _error(
        "the route needs a role and no valid bearer token was sent",
        headers={"WWW-Authenticate": {"description": "Bearer realm", "schema": {"type": "string"}}},
    ),
    403: _error("the token's role is below the one the route needs"),
    404: _error("no such plan, grid, feature, worker, job or collection"),
    422: _error("a parameter or body field does not fit the API: the description names each field and the fix"),
    413: _error("the request body is larger than the service takes (settings max_body_bytes, max_upload_bytes)"),
    429: _error(
        "too many requests without a token from this address; retry after the given seconds",
        headers={"Retry-After": {"description": "seconds", "schema": {"type": "string"}}},
    ),
    503: _error(
        "the store cannot be reached, or every connection or renderer is busy; retry after the given seconds",
        headers={"Retry-After": {"description": "seconds", "schema": {"type": "string"}}},
    ),
}
CONFLICT: dict[int | str, dict[str, Any]] = {409: _error("the change conflicts with the stored state")}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "unchanged since the ETag sent in If-None-Match"}}


def answering(
    *media_types: str, response_class: type[Response] = Response, others: dict[int | str, Any] | None = None
) -> dict[str, Any]:
    """The route arguments of an answer that is not plain JSON: its response class and the media types OpenAPI
    lists for a 200, declared together; ``others`` are the route's other answers (a 204, :data:`NOT_MODIFIED`)."""
    return {
        "response_class": response_class,
        "responses": {200: {"content": {media: {} for media in media_types}}, **(others or {})},
    }


router = APIRouter(tags=["common"])


@router.get("/", operation_id="landing", summary="What this service offers")
def landing(request: Request) -> dict:
    base = str(request.base_url).rstrip("/")
    return {
        "title": "commgrid",
        "description": "Community grid management: grid polygons of the published plan and a web map.",
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/"},
            {"rel": "service-doc", "type": "text/html", "href": f"{base}/docs"},
            {
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
                "href": f"{base}/openapi.json",
            },
            {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
            {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
            {"rel": "items", "type": "application/geo+json", "href": f"{base}/collections/grids/items"},
            {"rel": "alternate", "type": "text/html", "title": "web map", "href": f"{base}/map"},
        ],
    }


@router.get("/healthz", operation_id="health", summary="Service and database health")
def health(conn: Conn) -> dict:
    version = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    problems = schema_problems(conn)
    if problems:
        # e.g. another tool's archive restored over the store: every data route would fail
        shown = "; ".join(problems[:5])
        raise StoreDamagedError(f"the store is not commgrid's schema: {shown}; run `commgrid db check`")
    return {"status": "ok", "postgis": version}


class StoreDamagedError(CommgridError):
    """The database answers but does not hold commgrid's schema (tables or columns missing)."""

    http_status = 503


# What the routes editing a draft plan declare: the If-Match header, the version field, their 409.
# the district of a request that reads one district's records, by name, when more than one is stored
DistrictNameParam = Annotated[str | None, Query(description="district name; needed only when several are stored")]
IfMatchHeader = Annotated[str | None, Header(description="the plan's ETag, as GET /plans/{name} gave it")]
PlanVersionField = Annotated[int | None, Field(description="plan version edited (or send If-Match)")]
STALE_DRAFT: dict[int | str, dict[str, Any]] = {
    409: {**CONFLICT[409], "description": "the plan changed since it was read, or is not a draft"}
}


def plan_version(version: int | None, if_match: str | None) -> int:
    """The plan version a request was made against: from the body, else from an If-Match ETag."""
    if version is None and if_match is not None:
        try:
            version = int(if_match.strip().removeprefix("W/").strip('"'))
        except ValueError:
            raise InputError(
                f"If-Match must be a plan ETag such as '\"3\"', got {if_match!r}", field="If-Match"
            ) from None
    if version is None:
        raise InputError("send the plan version you edited, as 'version' or an If-Match header", field="version")
    return version


def draft_edited(conn: Connection, response: Response, result: Any) -> dict:
    """The answer to an edit of a draft (a move, a re-assignment, a re-division): kept, its new version the ETag."""
    conn.commit()
    response.headers["ETag"] = f'"{result.version}"'
    return result.to_dict()
