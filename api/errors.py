"""The one place where commgrid errors become HTTP responses."""

from __future__ import annotations

import logging
from http import HTTPStatus

import psycopg
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException

from gis.errors import AmbiguousError, BusyError, CommgridError, DatabaseUnavailableError, InputError

__all__ = ["RETRY_AFTER_S", "allowed_methods", "register_error_handlers"]

log = logging.getLogger("commgrid.api")

# What a 503 asks clients to wait: about what a stopped database takes to come back.
RETRY_AFTER_S = 5

# Errors of a database that went away or gave up mid-request (connection ended by a
# restart, server shutting down, statement cancelled), or no connection free in time (both
# pools exhausted: sa.exc.TimeoutError is SQLAlchemy's QueuePool timeout): the request may
# well succeed later.
_DATABASE_FAILURES = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,
    psycopg.OperationalError,
    PoolTimeout,
)
# How much of a rejected value a 422 repeats: enough to recognise it, never the whole input.
_ECHO_CHARS = 40


def _unavailable(code: str = DatabaseUnavailableError.__name__) -> JSONResponse:
    body = {"code": code, "description": "The service cannot answer right now."}
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


# The next step an error names (gis.errors.ACTIONS), as a request; the CLI has its own words.
ACTION_REQUESTS = {
    "add_district": "POST /districts",
    "add_grid_leader": "an administrator adds grid leaders (commgrid users add NAME --role grid_leader)",
    "add_user": "an administrator adds users (commgrid users add)",
    "assign_worker": "POST /workers",
    "dump": "an administrator's store dump (commgrid dump)",
    "handoff": "POST /incidents/{id}/handoff (GET /departments lists the departments)",
    "incident_taxonomy": "GET /incidents/taxonomy",
    "list_communities": "GET /collections/communities/items",
    "list_incidents": "GET /incidents",
    "list_workers": "GET /workers",
    "partition": "POST /plans",
    "patrol_rule": "an administrator sets the patrol rule (commgrid patrols rule)",
    "publish_plan": "POST /plans/{name}/publish",
    "register_device": "an administrator registers devices (commgrid patrols devices add)",
    "upgrade_store": "an administrator upgrades the store (commgrid db upgrade)",
}


def _worded(exc: CommgridError) -> str:
    """The error's message in the API's words: the parameter to give, the request to make next."""
    if isinstance(exc, AmbiguousError) and exc.field:
        return f"{exc.message} with the {exc.field!r} parameter"
    if exc.see is not None:
        return f"{exc.message}; see {ACTION_REQUESTS[exc.see]}"
    return exc.message


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of ``app`` answers on ``path`` (for ``Allow``), OPTIONS included."""
    from starlette.routing import Match

    from api.access import api_routes

    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    methods: set[str] = set()
    # FastAPI nests included routers; the app's own routes (docs, OpenAPI) sit at the top
    for route in [*api_routes(app.routes), *(r for r in app.routes if getattr(r, "methods", None))]:
        match, _ = route.matches(scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if methods:
        methods.add("OPTIONS")
    return sorted(methods)


def _field(loc: tuple | list) -> str:
    # ("body", "lon") → "lon"; ("query", "date") → "date"; a JSON body that does not parse → "body"
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 and loc[0] in ("body", "query", "path", "header") else []
    return ".".join(parts) or (str(loc[0]) if loc else "request")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _ECHO_CHARS else text[:_ECHO_CHARS] + "…"


def validation_body(exc: RequestValidationError) -> dict:
    """A 422 in the documented shape: ``code``, ``description`` naming each field, ``detail``; no whole input."""
    problems = []
    for error in exc.errors():
        field = _field(error.get("loc", ()))
        shown = "" if error.get("type") == "missing" else f" (got {_shown(error.get('input'))})"
        problems.append({"field": field, "message": str(error.get("msg", "")), "type": str(error.get("type", ""))})
        problems[-1]["description"] = f"{field}: {problems[-1]['message']}{shown}"
    description = "; ".join(p.pop("description") for p in problems) or "the request does not fit the API"
    first = problems[0]["field"] if problems else None
    detail = {"type": "RequestValidationError", "message": description, "file": None, "index": None,
              "feature_id": None, "field": first, "errors": problems}  # fmt: skip
    return {"code": "RequestValidationError", "description": description, "detail": detail}


def register_error_handlers(app: FastAPI) -> None:
    """Map the error hierarchy onto status codes; 5xx bodies stay generic.

    A database that cannot be reached, or fails in the middle of a request, answers
    503 with ``Retry-After``: the engine and the pool reconnect by themselves once it
    is back, so the same request then succeeds.
    """

    @app.exception_handler(CommgridError)
    async def _commgrid_error(request: Request, exc: CommgridError) -> JSONResponse:
        status = exc.http_status
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
            if isinstance(exc, DatabaseUnavailableError | BusyError):
                return _unavailable(type(exc).__name__)
            body = {"code": type(exc).__name__, "description": "The service cannot answer right now."}
            return JSONResponse(body, status_code=status)
        body = {"code": type(exc).__name__, "description": _worded(exc)}
        if isinstance(exc, InputError):
            body["detail"] = exc.to_dict()
        headers = {"WWW-Authenticate": 'Bearer realm="commgrid"'} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)

    async def _database_failure(request: Request, exc: Exception) -> JSONResponse:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        log.error("database failure on %s: %s", request.url.path, reason[0] if reason else type(exc).__name__)
        return _unavailable()

    for cls in _DATABASE_FAILURES:
        app.add_exception_handler(cls, _database_failure)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc), status_code=422)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # What Starlette and FastAPI raise themselves (unknown path, wrong method, a body
        # that does not parse), in the same shape as ours: NotFoundError, BadRequestError, ...
        status = exc.status_code
        code = HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "") + "Error"
        description = str(exc.detail) if status < 500 else "The service cannot answer right now."
        if exc.__cause__ is not None and status == 400:  # e.g. a JSON body that is not UTF-8
            description = f"{description}: {exc.__cause__}"
        elif status == 404 and exc.detail == HTTPStatus.NOT_FOUND.phrase:  # no route has this path
            description = f"nothing at {request.url.path}; /openapi.json lists the paths of this API"
        elif status == 405:
            # Starlette names the methods of the first route on the path; there may be several
            allowed = ", ".join(allowed_methods(request.app, request.url.path)) or (exc.headers or {}).get("Allow", "")
            exc.headers = {**(exc.headers or {}), "Allow": allowed}
            description = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed or 'none'}"
        return JSONResponse({"code": code, "description": description}, status_code=status, headers=exc.headers)
