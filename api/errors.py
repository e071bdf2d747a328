"""The one place where commgrid errors become HTTP responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gis.errors import CommgridError, DatabaseUnavailableError, InputError

__all__ = ["register_error_handlers"]

log = logging.getLogger("commgrid.api")


def register_error_handlers(app: FastAPI) -> None:
    """Map the error hierarchy onto status codes; 5xx bodies stay generic."""

    @app.exception_handler(CommgridError)
    async def _commgrid_error(request: Request, exc: CommgridError) -> JSONResponse:
        status = exc.http_status
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
            body = {"code": type(exc).__name__, "description": "The service cannot answer right now."}
            headers = {"Retry-After": "5"} if isinstance(exc, DatabaseUnavailableError) else None
            return JSONResponse(body, status_code=status, headers=headers)
        body = {"code": type(exc).__name__, "description": exc.message}
        if isinstance(exc, InputError):
            body["detail"] = exc.to_dict()
        headers = {"WWW-Authenticate": 'Bearer realm="commgrid"'} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)
