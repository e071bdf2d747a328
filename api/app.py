"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import Engine
from starlette.middleware.cors import CORSMiddleware

from api.access import TokenCache, authorize, check_routes
from api.audit import AuditReads
from api.bodies import BodyGuard, Options
from api.database import connect_args
from api.errors import register_error_handlers
from api.limits import BodyLimit, RateLimit
from api.routes import (
    analytics,
    audit,
    collections,
    common,
    communities,
    editor,
    features,
    incident_routing,
    incidents,
    jobs,
    map,
    open311,
    patrols,
    plans,
    public,
    tiles,
    worker_page,
    workers,
    worklog,
)
from api.routes.common import ERROR_RESPONSES, reject_nul
from api.routes.map import VENDOR
from api.settings import Settings
from gis import clock
from tiles.freshness import VersionProbe, version_reader
from tiles.service import TileService

__all__ = ["create_app", "create_app_from_env"]


def _conninfo(engine: Engine) -> str:
    # the async pool speaks libpq directly; it takes the same URL without SQLAlchemy's driver tag
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _fail_interrupted_jobs(engine: Engine) -> None:
    from gis.errors import DatabaseUnavailableError
    from gis.store import begin
    from gis.store.jobs import fail_interrupted

    try:
        with begin(engine) as conn:
            fail_interrupted(conn)
    except DatabaseUnavailableError:
        pass  # the store is down; the first request will say so


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
    if settings.now is not None:
        clock.set_clock(settings.now, since=settings.now_since)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = engine is None
        if own:
            from api.database import open_store

            app.state.engine = open_store(settings)
        else:
            app.state.engine = engine
        # Tiles and token checks run on the event loop through an async pool; the
        # feature routes keep SQLAlchemy's engine in the thread pool.
        pool = AsyncConnectionPool(
            _conninfo(app.state.engine),
            min_size=1,
            max_size=settings.pool_size,
            open=False,
            kwargs={"autocommit": True, **connect_args(settings)},
            timeout=settings.pool_timeout,
        )
        await pool.open(wait=False)
        app.state.jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commgrid-job")
        _fail_interrupted_jobs(app.state.engine)
        app.state.pool = pool
        app.state.probe = VersionProbe(version_reader(pool))
        app.state.token_cache = TokenCache()
        app.state.tiles = TileService(
            pool,
            app.state.probe,
            cache_bytes=settings.tile_cache_mb << 20,
            max_features=settings.tile_max_features,
        )
        # What startup made (app, libraries) lives as long as the process. Frozen, it is left out
        # of the collector's full passes, which over this heap take 60-170 ms and stall every
        # request in flight (the tile benchmark's p99); see bench/README.md.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            app.state.jobs.shutdown(wait=False, cancel_futures=True)
            await pool.close()
            if own:
                app.state.engine.dispose()

    app = FastAPI(
        title="commgrid",
        description=(
            "Community grid management: grid polygons, communities, units and incidents as OGC API Features "
            "and vector tiles, and a web map. Without a token you get the public view; send "
            "`Authorization: Bearer TOKEN` (from `commgrid users add`) for more."
        ),
        version="0.2.0",
        lifespan=lifespan,
        # Every route declares the error bodies it may answer, and none lets a NUL reach the
        # database (psycopg refuses it with a DataError, which would otherwise be a 500).
        responses=ERROR_RESPONSES,
        dependencies=[Depends(authorize), Depends(reject_nul)],
    )
    app.state.settings = settings
    register_error_handlers(app)
    # features first: its routes for known collections must win over the generic ones
    for module in (
        common,
        features,
        collections,
        tiles,
        map,
        plans,
        editor,
        jobs,
        public,
        workers,
        patrols,
        incidents,
        incident_routing,
        analytics,
        open311,
        audit,
        communities,
        worklog,
        worker_page,
    ):
        app.include_router(module.router)
    if VENDOR.is_dir():
        app.mount("/static/vendor/maplibre-gl", StaticFiles(directory=VENDOR), name="maplibre")
    _add_middleware(app, settings)
    check_routes(app)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """The middleware, added from the innermost out (each one added wraps the ones before).

    From the outside: CORS (so that even a 429 or 413 reaches a browser's script),
    rate limits and body limits (before anything costly, tiles included), the tile
    shortcut, then the audit of personal reads next to the routes it watches.
    """
    app.add_middleware(AuditReads)
    # tile requests skip FastAPI's per-request machinery (api/routes/tiles.py says how and why)
    app.add_middleware(tiles.TileShortcut)
    # inside the body limit, so it never buffers more than the limit lets through
    app.add_middleware(BodyGuard)
    app.add_middleware(Options)
    app.add_middleware(BodyLimit, max_body=settings.max_body_bytes, max_upload=settings.max_upload_bytes)
    app.add_middleware(RateLimit, rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=settings.cors_methods,
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
            expose_headers=["ETag", "Location", "Retry-After"],
            max_age=settings.cors_max_age,
        )


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several worker processes): settings from ``COMMGRID_*``."""
    return create_app(Settings())
