"""Alembic environment of commgrid, driven by :mod:`gis.migrations` (no alembic.ini).

The caller hands over an open connection in ``config.attributes["connection"]``, so
no database URL (with its password) is ever written to a file or a log.
"""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from gis.store.models import metadata

# Fail fast instead of queueing behind a long transaction and blocking everyone behind
# us (warehouse's env.py does the same); the statement limit stops runaway migrations.
LOCK_TIMEOUT = "10s"
STATEMENT_TIMEOUT = "10min"


def run_migrations_online() -> None:
    """Run the migrations on the connection :mod:`gis.migrations` provides."""
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # PostGIS's own tables (spatial_ref_sys) are not ours to manage.
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        context.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("commgrid runs migrations online only; use gis.migrations.upgrade(url).")
run_migrations_online()
