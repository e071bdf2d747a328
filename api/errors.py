"""The one place where commgrid errors become HTTP responses."""

from __future__ import annotations

import logging
from http import HTTPStatus

import psycopg
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException

from gis.errors import AmbiguousError, CommgridError, DatabaseUnavailableError, InputError

__all__ = ["RETRY_AFTER_S", "register_error_handlers"]

log = logging.getLogger("commgrid.api")

# What a 503 asks clients to wait: about what a stopped database takes to come back.
RETRY_AFTER_S = 5

# Errors of a database that went away or gave up mid-request (connection ended by a
# restart, server shutting down, statement cancelled): the request may well succeed later.
_DATABASE_FAILURES = (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg.OperationalError, PoolTimeout)


def _unavailable() -> JSONResponse:
    body = {"code": DatabaseUnavailableError.__name__, "description": "The service cannot answer right now."}
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


def _worded(exc: CommgridError) -> str:
    """The error's message, with the parameter to give where the store left a choice open."""
    if isinstance(exc, AmbiguousError) and exc.field:
        return f"{exc.message} with the {exc.field!r} parameter"
    return exc.message


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
            if isinstance(exc, DatabaseUnavailableError):
                return _unavailable()
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
            allowed = (exc.headers or {}).get("Allow", "")
            description = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed or 'none'}"
        return JSONResponse({"code": code, "description": description}, status_code=status, headers=exc.headers)
