"""The embedded PostGIS cluster: lifecycle, ports, passwords, side-by-side homes, clear errors."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from gis.cluster import ROOT_CLUSTERS, SERVER_OS_USER, EmbeddedCluster, throwaway_cluster
from gis.errors import CommgridError


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[EmbeddedCluster]:
    cluster = EmbeddedCluster(tmp_path / "home", throwaway=True)
    yield cluster
    cluster.remove()


def query(url: URL, sql: str) -> object:
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database
    ) as conn:
        return conn.execute(sql).fetchone()[0]


def test_start_stop_restart(cluster: EmbeddedCluster) -> None:
    first = cluster.start()
    again = cluster.start()
    assert first.running and again.pid == first.pid
    assert query(cluster.url(), "SELECT extname FROM pg_extension WHERE extname = 'postgis'") == "postgis"

    cluster.stop()
    cluster.stop()  # stopping a stopped cluster is fine
    stopped = cluster.status()
    assert not stopped.running and stopped.pid is None and stopped.port == first.port

    # a stale lock file whose process id now belongs to another program, as after a crash
    stale = f"{os.getpid()}\n{cluster.data_dir}\n0\n{first.port}\n\n127.0.0.1\n0 0\nready\n"
    (cluster.data_dir / "postmaster.pid").write_text(stale)
    assert not cluster.status().running

    restarted = cluster.start()
    assert restarted.running and restarted.port == first.port
    assert query(cluster.url(), "SELECT 1") == 1


def test_status_names_folders_and_hides_password(cluster: EmbeddedCluster) -> None:
    status = cluster.start()
    password = cluster.url().password
    assert status.url == f"postgresql+psycopg://commgrid@127.0.0.1:{status.port}/commgrid"
    assert password not in repr(status)
    assert status.log_file == status.data_dir / "server.log" and status.log_file.exists()
    if os.geteuid() == 0:
        # root: the server runs as postgres, which cannot enter /root, so the data lives elsewhere
        assert status.server_user == SERVER_OS_USER
        assert status.data_dir.parent.parent == ROOT_CLUSTERS
        assert status.data_dir.stat().st_uid == Path("/var/lib/postgresql").stat().st_uid
    else:
        assert status.data_dir == cluster.home / "postgres" / "data"


def test_password_is_private_and_required(cluster: EmbeddedCluster) -> None:
    cluster.start()
    url = cluster.url()
    assert stat.S_IMODE((cluster.home / "cluster.password").stat().st_mode) == 0o600
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        query(url.set(password="wrong"), "SELECT 1")
    assert query(url, "SHOW listen_addresses") == "127.0.0.1"


def test_taken_port_is_replaced(cluster: EmbeddedCluster) -> None:
    old_port = cluster.start().port
    cluster.stop()
    with socket.socket() as squatter:
        # Like PostgreSQL, ignore TIME_WAIT left by the stopped server's connections. If another
        # process (a parallel test's cluster) took the port meanwhile, it is taken all the same.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):
            squatter.bind(("127.0.0.1", old_port))
            squatter.listen()
        new_port = cluster.start().port
    assert new_port != old_port
    cluster.stop()
    assert cluster.start().port == new_port  # the new port is remembered


def test_two_homes_side_by_side(cluster: EmbeddedCluster, tmp_path: Path) -> None:
    one = cluster.start()
    with throwaway_cluster(parent=tmp_path) as other_url:
        assert other_url.port != one.port
        assert query(other_url, "SHOW data_directory") != str(one.data_dir)
        assert query(cluster.url(), "SELECT 1") == query(other_url, "SELECT 1") == 1
        other_home = next(tmp_path.glob("commgrid-cluster-*"))
    assert not other_home.exists()  # the throwaway cluster removed itself
    assert cluster.status().running


def test_url_before_first_start(cluster: EmbeddedCluster) -> None:
    with pytest.raises(CommgridError, match="was never started"):
        cluster.url()


def test_missing_postgresql_names_the_package(tmp_path: Path) -> None:
    cluster = EmbeddedCluster(tmp_path / "home", bindir=tmp_path / "no-postgres")
    with pytest.raises(CommgridError, match=r"initdb.*not found.*apt-get install postgresql-15-postgis-3"):
        cluster.start()


def test_missing_postgis_names_the_package(tmp_path: Path) -> None:
    real = Path("/usr/lib/postgresql/15/bin")
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("initdb", "pg_ctl", "postgres"):
        (fake / tool).symlink_to(real / tool)
    (fake / "pg_config").write_text(f"#!/bin/sh\necho {tmp_path / 'share'}\n")
    (fake / "pg_config").chmod(0o755)
    cluster = EmbeddedCluster(tmp_path / "home", bindir=fake)
    with pytest.raises(CommgridError, match=r"PostGIS extension is not installed.*postgresql-15-postgis-3"):
        cluster.start()
    assert not cluster.data_dir.exists()  # checked before initdb: nothing half-made
