"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from api.errors import register_error_handlers
from api.routes import collections, common, features, map
from api.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the app.

    Parameters
    ----------
    settings
        Read from the environment when ``None``.
    engine
        An engine to use (tests pass one); otherwise the lifespan opens the store
        the settings name (the embedded cluster by default) and disposes of it on exit.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = engine is None
        if own:
            from api.database import open_store

            app.state.engine = open_store(settings)
        else:
            app.state.engine = engine
        try:
            yield
        finally:
            if own:
                app.state.engine.dispose()

    app = FastAPI(
        title="commgrid",
        description="Community grid management: grids, map and (soon) incidents and patrols.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    register_error_handlers(app)
    # features first: its item routes for known collections must win over the generic ones
    for module in (common, features, collections, map):
        app.include_router(module.router)
    return app
