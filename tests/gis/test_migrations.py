"""Migrations: upgrade, downgrade and upgrade again on a fresh database; no drift from the models."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import inspect, pool, text
from sqlalchemy.engine import URL

from gis import migrations
from gis.cluster import DATABASE
from gis.errors import CommgridError
from gis.store.engine import create_engine
from gis.store.models import metadata


def tables_and_postgis(url: URL) -> tuple[set[str], bool]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
            postgis = conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'"))
            return tables, postgis.scalar() == 1
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(create_database: Callable[..., URL]) -> None:
    url = create_database("migrations_round_trip")  # template0: not even PostGIS yet
    migrations.upgrade(url)
    assert migrations.current(url) == migrations.head()
    assert tables_and_postgis(url) == (set(metadata.tables), True)
    migrations.check(url)

    migrations.downgrade(url, "base")
    assert migrations.current(url) is None
    assert tables_and_postgis(url) == (set(), True)  # the extension stays

    migrations.upgrade(url)
    migrations.check(url)


def test_check_reports_drift(create_database: Callable[..., URL]) -> None:
    url = create_database("migrations_drift", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE unit ADD COLUMN floor integer"))
    engine.dispose()
    with pytest.raises(CommgridError, match=r"differ:\n  - remove_column unit\.floor\nWrite a revision"):
        migrations.check(url)


def test_check_needs_an_upgraded_database(create_database: Callable[..., URL]) -> None:
    url = create_database("migrations_empty", template=DATABASE)
    with pytest.raises(CommgridError, match=r"not up to date.*Upgrade the database first"):
        migrations.check(url)


def test_unknown_revision(create_database: Callable[..., URL]) -> None:
    url = create_database("migrations_unknown", template=DATABASE)
    with pytest.raises(CommgridError, match=r"upgrade failed.*'9999'"):
        migrations.upgrade(url, "9999")


def test_failed_upgrade_changes_nothing(create_database: Callable[..., URL]) -> None:
    url = create_database("migrations_clash", template=DATABASE)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE grid (id integer)"))  # in the way of the first revision
    engine.dispose()
    with pytest.raises(CommgridError, match=r"rolled back.*relation \"grid\" already exists"):
        migrations.upgrade(url)
    assert migrations.current(url) is None
    assert tables_and_postgis(url) == ({"grid"}, True)
