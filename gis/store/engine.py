"""Engines and connections to the PostGIS store.

No global engine: the API's lifespan and the CLI create one with :func:`create_engine`
and dispose of it. :func:`connect` and :func:`begin` turn a failed connection into
:class:`~gis.errors.DatabaseUnavailableError`, which the edges report as 503 / exit 1.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from gis.errors import CommgridError, DatabaseUnavailableError

__all__ = ["atomic", "begin", "connect", "create_engine", "database_unavailable"]

DRIVER = "postgresql+psycopg"
CONNECT_TIMEOUT_S = 10


def create_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for the store, using psycopg 3 and checking connections before use.

    Parameters
    ----------
    url
        ``postgresql+psycopg://user:password@host:port/database``; a plain
        ``postgresql://`` URL is taken to mean psycopg 3.
    **kwargs
        Passed on to :func:`sqlalchemy.create_engine` (e.g. ``poolclass``).

    Returns
    -------
    sqlalchemy.engine.Engine
        Connecting is lazy: a wrong URL or a stopped server shows on first use.

    Raises
    ------
    CommgridError
        When the URL cannot be parsed or names another driver.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise CommgridError(
            "The database URL cannot be parsed; expected postgresql+psycopg://user:password@host:port/database."
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername=DRIVER)
    if parsed.drivername != DRIVER:
        raise CommgridError(
            f"The database URL uses driver {parsed.drivername!r}; commgrid needs {DRIVER!r} "
            f"(PostgreSQL with psycopg 3). Write it as {DRIVER}://user:password@host:port/database."
        )
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "commgrid"}
    connect_args.update(kwargs.pop("connect_args", {}))
    kwargs.setdefault("json_serializer", _json_dumps)
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _json_dumps(value: Any) -> str:
    # Plan parameters and reports come from numpy/pandas code; store their numbers as numbers.
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} values cannot be stored as JSON: {value!r}")


def database_unavailable(engine: Engine, error: sa.exc.OperationalError) -> DatabaseUnavailableError:
    """The error to raise when ``engine`` cannot connect: names the server, hides the password.

    Parameters
    ----------
    engine
        The engine that failed to connect.
    error
        The error SQLAlchemy raised.

    Returns
    -------
    DatabaseUnavailableError
    """
    reason = str(error.orig if error.orig is not None else error).strip().splitlines()
    url = engine.url.render_as_string(hide_password=True)
    return DatabaseUnavailableError(
        f"Cannot connect to the database at {url}: {reason[-1] if reason else 'no reason given'}. "
        "Check that the database server is running and that the URL, user and password are right."
    )


@contextlib.contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection from ``engine``; a failure to connect raises DatabaseUnavailableError.

    Only connecting is translated: errors of the statements run on the connection
    propagate unchanged.

    Parameters
    ----------
    engine
        From :func:`create_engine`.

    Yields
    ------
    sqlalchemy.engine.Connection
        Commit-as-you-go: call ``conn.commit()`` to keep changes.

    Raises
    ------
    DatabaseUnavailableError
        When the server cannot be reached or refuses the login.
    """
    try:
        conn = engine.connect()
    except sa.exc.OperationalError as exc:
        raise database_unavailable(engine, exc) from None
    with conn:
        yield conn


@contextlib.contextmanager
def begin(engine: Engine) -> Iterator[Connection]:
    """A :func:`connect` connection inside a transaction, committed on success and rolled back on error."""
    with connect(engine) as conn, conn.begin():
        yield conn


@contextlib.contextmanager
def atomic(conn: Connection) -> Iterator[None]:
    """All or nothing: a savepoint inside the caller's transaction, or a transaction of our own.

    Writers use it so that a failure leaves nothing half-written, whether or not the
    caller already opened a transaction.
    """
    if conn.in_transaction():
        with conn.begin_nested():
            yield
    else:
        with conn.begin():
            yield
