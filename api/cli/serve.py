"""``commgrid serve``: the web service."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli._common import console, handle_errors, settings_from


def run_server(settings, *, workers: int = 1) -> None:
    """Run uvicorn on the settings' host and port until interrupted."""
    import uvicorn

    from api.app import create_app
    from api.database import open_store

    engine = open_store(settings)  # start the store (and migrate) before accepting requests
    app = create_app(settings, engine=engine)
    console.print(f"serving the map at [bold]http://{settings.host}:{settings.port}/map[/] (Ctrl-C to stop)")
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            workers=1 if workers < 2 else workers,
            log_level="info",
        )
    finally:
        engine.dispose()


@handle_errors
def serve(
    db: Annotated[str | None, typer.Option("--db", help="URL of an existing PostGIS database.")] = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
) -> None:
    """Serve the API and the web map (embedded PostGIS by default)."""
    settings = settings_from(db)
    updates = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings.model_copy(update=updates)
    run_server(settings)
