"""``commgrid serve``: the web service."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from api.cli._common import console, handle_errors, settings_from


def run_server(settings, *, workers: int = 1) -> None:
    """Run uvicorn on the settings' host and port until interrupted.

    With several workers each process builds its own app (``create_app_from_env``),
    with its own pools and tile cache; the data versions keep their caches in step.
    """
    import uvicorn

    from api.app import create_app
    from api.database import database_url, open_store

    engine = open_store(settings)  # start the store (and migrate) before accepting requests
    console.print(f"serving the map at [bold]http://{settings.host}:{settings.port}/map[/] (Ctrl-C to stop)")
    try:
        if workers < 2:
            uvicorn.run(create_app(settings, engine=engine), host=settings.host, port=settings.port, log_level="info")
            return
        url = database_url(settings).render_as_string(hide_password=False)
        env = {
            # lists as JSON, which Settings reads back; str() would give Python's repr
            f"COMMGRID_{k.upper()}": json.dumps(v) if isinstance(v, list) else str(v)
            for k, v in settings.model_dump(exclude_none=True).items()
        }
        os.environ.update({**env, "COMMGRID_DATABASE_URL": url})
        uvicorn.run(
            "api.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level="info",
        )
    finally:
        engine.dispose()


@handle_errors
def serve(
    db: Annotated[str | None, typer.Option("--db", help="URL of an existing PostGIS database.")] = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each with its own tile cache).")] = 1,
) -> None:
    """Serve the API, the vector tiles and the web map (embedded PostGIS by default)."""
    settings = settings_from(db)
    updates = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings.model_copy(update=updates)
    run_server(settings, workers=workers)
