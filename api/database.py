"""Which database to use: the configured server, or the embedded cluster started on demand.

Both paths end in the same place, a SQLAlchemy engine on a PostGIS database whose
schema is at the newest migration, so the rest of commgrid never knows the difference.
"""

from __future__ import annotations

import math

from sqlalchemy.engine import URL, Engine, make_url

from api.settings import Settings
from gis import migrations
from gis.cluster import EmbeddedCluster
from gis.store import create_engine

__all__ = ["connect_args", "database_url", "open_store"]


def database_url(settings: Settings, *, start: bool = True) -> URL:
    """The configured URL, or the embedded cluster's (started when ``start``)."""
    if settings.database_url:
        return make_url(settings.database_url)
    cluster = EmbeddedCluster(settings.home)
    if start:
        cluster.start()
    return cluster.url()


def open_store(settings: Settings, *, migrate: bool = True) -> Engine:
    """An engine on an up-to-date store (migrations applied when ``migrate``).

    Waiting for a free connection and for a new one to open are both bounded by
    ``pool_timeout``: past it a request gets 503, never a hang or a 500.
    """
    url = database_url(settings)
    if migrate:
        migrations.upgrade(url)
    return create_engine(url, pool_timeout=settings.pool_timeout, connect_args=connect_args(settings))


def connect_args(settings: Settings) -> dict[str, int]:
    """libpq's connect timeout from ``pool_timeout`` (whole seconds; libpq takes no less than 2)."""
    return {"connect_timeout": max(2, math.ceil(settings.pool_timeout))}
