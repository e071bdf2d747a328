"""Per-layer data versions: what a cache of served data keys on.

The triggers of migration 0002 move a layer's version forward in the same transaction
as any change to its tables, so reading the versions after a commit always shows it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from gis.store.models import DataVersion

__all__ = ["LAYERS", "read_versions"]

# Served layers and the tables whose changes move them (kept in step with migrations 0002, 0004 and 0010).
LAYERS = {
    "plans": ("grid_plan", "grid", "grid_assignment"),
    "communities": ("community",),
    "units": ("unit",),
    "workers": ("grid_worker",),
    "incidents": ("incident", "incident_event"),
    "patrols": ("patrol_point",),
    "users": ("app_user", "user_community", "patrol_supervisor"),
}


def read_versions(conn: Connection) -> dict[str, int]:
    """The current version of every layer, as of the connection's snapshot."""
    rows = conn.execute(select(DataVersion.layer, DataVersion.version)).all()
    return {layer: int(version) for layer, version in rows}
