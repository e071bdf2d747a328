"""Shared fixtures.

PostGIS: each test session (each pytest-xdist worker) starts a throwaway cluster with
:func:`gis.cluster.throwaway_cluster`, makes its own database, runs the migrations once
and gives every test a connection inside a transaction that is rolled back afterwards
(warehouse's tests/conftest.py; SQLAlchemy's "joining a session into an external
transaction"). A cluster that cannot start fails the tests that need it; it never skips.
The cluster is stopped and deleted when the session ends, also after failures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import pool, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import Session

from gis import clock, migrations
from gis.cluster import DATABASE, throwaway_cluster
from gis.store.engine import create_engine
from tests.now import NOW

# One timeline for this worker and the servers and commands it starts: the clock reads NOW
# when the worker starts and runs on from there.
os.environ["COMMGRID_NOW"] = NOW.isoformat()
os.environ["COMMGRID_NOW_SINCE"] = os.environ.get("COMMGRID_NOW_SINCE") or repr(time.time())
clock.set_clock(NOW, since=float(os.environ["COMMGRID_NOW_SINCE"]))

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def postgis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """URL of the ``commgrid`` database (PostGIS enabled) of this session's throwaway cluster."""
    with throwaway_cluster(parent=tmp_path_factory.mktemp("postgis")) as url:
        yield url


@pytest.fixture(scope="session")
def create_database(postgis_server: URL) -> Iterator[Callable[..., URL]]:
    """Make an empty database on the session's cluster and return its URL.

    ``template="commgrid"`` copies a database that already has PostGIS; the default
    ``template0`` gives a truly fresh one.
    """
    admin = create_engine(postgis_server, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")

    def create(name: str, *, template: str = "template0") -> URL:
        database = f"test_{WORKER}_{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}" TEMPLATE "{template}"'))
        return postgis_server.set(database=database)

    yield create
    admin.dispose()


@pytest.fixture(scope="session")
def db_url(create_database: Callable[..., URL]) -> URL:
    """URL of this worker's test database, migrated to head."""
    url = create_database("store", template=DATABASE)  # PostGIS already in
    migrations.upgrade(url)
    return url


@pytest.fixture(scope="session")
def db_engine(db_url: URL) -> Iterator[Engine]:
    """An engine on the test database, disposed of at the end of the session."""
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_conn(db_engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test.

    Code under test that opens transactions of its own gets savepoints.
    """
    with db_engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            outer.rollback()


@pytest.fixture
def db_session(db_conn: Connection) -> Iterator[Session]:
    """An ORM session joined to :func:`db_conn`'s transaction; its commits become savepoints."""
    with Session(bind=db_conn, join_transaction_mode="create_savepoint") as session:
        yield session


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real data folder next to the repository (``../shared/data``), or skip with the reason."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA.resolve()} is absent")
    return SHARED_DATA.resolve()
