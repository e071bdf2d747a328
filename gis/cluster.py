"""An embedded PostGIS cluster that commgrid creates, starts and stops by itself.

The cluster belongs to a *home* folder (by default ``~/.local/share/commgrid``). The home
holds what the owner of the home needs to reach the cluster:

``cluster.json``
    the port picked at the first start (re-picked when another program took it) and
    where the data directory lives;
``cluster.password``
    the random password of the ``commgrid`` database user, mode 0600;
``cluster.lock``
    a lock file, so two processes never start or stop the same cluster at once.

Where the data directory lives depends on who runs commgrid. PostgreSQL refuses to run
as root, so when the effective user is root the server runs as the ``postgres`` system
user, which cannot enter ``/root``. The data then lives in
``/var/lib/commgrid/clusters/<first 16 hex digits of sha256(home path)>/data``, owned by
``postgres``: derived from the home path, so each home keeps finding its own cluster and
two homes never share one. For any other user the data lives in ``<home>/postgres/data``.
:meth:`EmbeddedCluster.status` reports the directory in use. The server log is
``<data>/server.log``.

The server listens on 127.0.0.1 only and asks for a password (scram-sha-256); no
Unix socket is opened, so nothing but TCP on loopback reaches it.

Examples
--------
>>> from gis.cluster import EmbeddedCluster, default_home
>>> cluster = EmbeddedCluster(default_home())  # doctest: +SKIP
>>> cluster.start().running  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL

from gis.atomic import write_atomically
from gis.errors import CommgridError

__all__ = [
    "APT_PACKAGE",
    "DATABASE",
    "ClusterStatus",
    "EmbeddedCluster",
    "default_home",
    "postgres_program",
    "throwaway_cluster",
]

PG_MAJOR = 15
APT_PACKAGE = f"postgresql-{PG_MAJOR}-postgis-3"
DATABASE = "commgrid"
DB_USER = "commgrid"
SERVER_OS_USER = "postgres"
ROOT_CLUSTERS = Path("/var/lib/commgrid/clusters")

_STATE_FILE = "cluster.json"
_PASSWORD_FILE = "cluster.password"
_LOCK_FILE = "cluster.lock"
_LOG_FILE = "server.log"
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
_PG_CTL_TIMEOUT_S = 60
_PORT_ATTEMPTS = 3

# Settings appended to postgresql.conf at initdb. No Unix socket: its default
# directory (/var/run/postgresql) may be missing or owned by a system cluster.
_SERVER_SETTINGS = """
# --- written by commgrid (gis.cluster) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
password_encryption = 'scram-sha-256'
logging_collector = off
log_line_prefix = '%m [%p] '
timezone = 'UTC'
"""

# For throwaway clusters only: losing data on a crash does not matter there, speed does.
_THROWAWAY_SETTINGS = """
fsync = off
synchronous_commit = off
full_page_writes = off
"""

_HBA = """\
# written by commgrid (gis.cluster): loopback TCP with a password, nothing else
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  scram-sha-256
"""


@dataclass(frozen=True)
class ClusterStatus:
    """What a cluster is doing and where it lives.

    Attributes
    ----------
    running
        Whether the server process is up.
    port
        The port it listens on (when running) or will try first (when stopped);
        ``None`` before the first start.
    pid
        The server's process id, when running.
    data_dir
        The PostgreSQL data directory (see the module docstring for where it lives).
    log_file
        The server log, inside ``data_dir``.
    home
        The home folder the cluster belongs to.
    server_user
        The system user the server runs as.
    url
        The SQLAlchemy URL without the password, for display.
    """

    running: bool
    port: int | None
    pid: int | None
    data_dir: Path
    log_file: Path
    home: Path
    server_user: str
    url: str


def default_home() -> Path:
    """The default home folder of commgrid: ``$XDG_DATA_HOME/commgrid`` or ``~/.local/share/commgrid``.

    Returns
    -------
    Path
        The folder; not created.
    """
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "commgrid"


class EmbeddedCluster:
    """A PostgreSQL 15 cluster with PostGIS, owned by one home folder.

    Parameters
    ----------
    home
        The folder holding the cluster's port, password and lock (created on start).
    bindir
        Folder with ``initdb``, ``pg_ctl`` and ``postgres``. By default
        ``/usr/lib/postgresql/15/bin``, else the folder ``pg_config --bindir`` names.
    throwaway
        Turn off fsync and friends: faster, but a crash may corrupt the data. For tests
        and other short-lived clusters only.

    See Also
    --------
    throwaway_cluster : a temporary cluster as a context manager.
    """

    def __init__(self, home: Path, *, bindir: Path | None = None, throwaway: bool = False) -> None:
        self.home = Path(home).expanduser().resolve()
        self._bindir_override = None if bindir is None else Path(bindir)
        self._throwaway = throwaway
        self._as_root = os.geteuid() == 0
        if self._as_root:
            digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:16]
            self.cluster_dir = ROOT_CLUSTERS / digest
        else:
            self.cluster_dir = self.home / "postgres"
        self.data_dir = self.cluster_dir / "data"
        self.log_file = self.data_dir / _LOG_FILE

    # -- public -------------------------------------------------------------------------

    def start(self) -> ClusterStatus:
        """Start the cluster, creating it on first use; do nothing if it already runs.

        The first start runs ``initdb``, picks a free loopback port, generates the
        password and creates the ``commgrid`` database with the PostGIS extension.

        Returns
        -------
        ClusterStatus
            The status after starting.

        Raises
        ------
        CommgridError
            When PostgreSQL 15 or PostGIS is not installed (the message names the apt
            package), or when the server does not start (the message ends with the tail
            of the server log).
        """
        with self._locked():
            status = self.status()
            if status.running:
                return status
            bindir = self._bindir()
            self._check_postgis(bindir)
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb(bindir)
            self._check_version(bindir)
            self._read_password()  # fail before starting when the password is gone
            self._start_server(bindir)
            try:
                self._ensure_database()
            except BaseException:
                self._stop_server(bindir)
                raise
            return self.status()

    def stop(self) -> None:
        """Stop the cluster (``pg_ctl stop -m fast``): sessions are ended, data is kept.

        Does nothing when the cluster is not running or was never created.

        Raises
        ------
        CommgridError
            When the server does not stop; the message ends with the server log's tail.
        """
        with self._locked():
            if self.status().running:
                self._stop_server(self._bindir())

    def status(self) -> ClusterStatus:
        """Report whether the cluster runs, its port, process id and folders.

        Returns
        -------
        ClusterStatus
        """
        pid, port = self._running_server()
        if port is None:
            port = self._read_state().get("port")
        url = self._url(port, password=None) if port is not None else None
        return ClusterStatus(
            running=pid is not None,
            port=port,
            pid=pid,
            data_dir=self.data_dir,
            log_file=self.log_file,
            home=self.home,
            server_user=SERVER_OS_USER if self._as_root else pwd.getpwuid(os.geteuid()).pw_name,
            url="" if url is None else url.render_as_string(hide_password=False),
        )

    def url(self) -> URL:
        """The SQLAlchemy URL of the ``commgrid`` database, password included.

        ``str()`` of the returned URL masks the password; use
        ``url.render_as_string(hide_password=False)`` where the full string is needed.

        Returns
        -------
        sqlalchemy.engine.URL
            ``postgresql+psycopg://commgrid:...@127.0.0.1:<port>/commgrid``.

        Raises
        ------
        CommgridError
            When the cluster was never started.
        """
        port = self.status().port
        if port is None:
            raise CommgridError(
                f"The database cluster of {self.home} was never started, so it has no port yet. "
                "Start it first (EmbeddedCluster.start())."
            )
        return self._url(port, password=self._read_password())

    def remove(self) -> None:
        """Stop the cluster and delete its data directory and the files in the home.

        The home folder itself and anything else in it stay.
        """
        with self._locked():
            if self.status().running:
                self._stop_server(self._bindir())
            shutil.rmtree(self.cluster_dir, ignore_errors=True)
            for name in (_STATE_FILE, _PASSWORD_FILE):
                (self.home / name).unlink(missing_ok=True)

    # -- binaries and prerequisites -----------------------------------------------------

    def _bindir(self) -> Path:
        candidates = [self._bindir_override] if self._bindir_override else _default_bindirs()
        for candidate in candidates:
            if all((candidate / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
                return candidate
        looked = ", ".join(str(c) for c in candidates) or "(pg_config not on PATH)"
        raise CommgridError(
            f"PostgreSQL {PG_MAJOR} server programs (initdb, pg_ctl, postgres) not found; looked in "
            f"{looked}. Install them with `apt-get install {APT_PACKAGE}` (it brings "
            f"postgresql-{PG_MAJOR} and PostGIS), or pass the folder holding them as bindir."
        )

    def _check_postgis(self, bindir: Path) -> None:
        sharedir = f"/usr/share/postgresql/{PG_MAJOR}"
        if (bindir / "pg_config").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                sharedir = _run_text([str(bindir / "pg_config"), "--sharedir"]) or sharedir
        control = Path(sharedir) / "extension" / "postgis.control"
        if not control.exists():
            raise CommgridError(
                f"The PostGIS extension is not installed for the PostgreSQL in {bindir} ({control} "
                f"is missing). Install it with `apt-get install {APT_PACKAGE}`."
            )

    def _check_version(self, bindir: Path) -> None:
        data_version = (self.data_dir / "PG_VERSION").read_text().strip()
        binary_version = _run_text([str(bindir / "postgres"), "--version"]).split()[-1].split(".")[0]
        if data_version != binary_version:
            raise CommgridError(
                f"The data directory {self.data_dir} was created by PostgreSQL {data_version} but the "
                f"server programs in {bindir} are version {binary_version}. Pass the matching bindir, "
                "or dump the data with the old version and remove the data directory."
            )

    # -- initdb -------------------------------------------------------------------------

    def _initdb(self, bindir: Path) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        password = self._read_password(create=True)
        self._make_cluster_dir()
        # initdb into a side directory and rename on success, so an interrupted initdb
        # never leaves a half-made data directory that later starts would trip on.
        partial = self.cluster_dir / "data.partial"
        shutil.rmtree(partial, ignore_errors=True)
        pwfile = self.cluster_dir / "pwfile"
        self._write_server_file(pwfile, password + "\n", mode=0o600)
        try:
            args = [
                str(bindir / "initdb"),
                "--pgdata",
                str(partial),
                "--username",
                DB_USER,
                "--pwfile",
                str(pwfile),
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ]
            if self._throwaway:
                args.append("--no-sync")
            result = self._run_server_tool(args)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise CommgridError(
                f"initdb failed (exit {result.returncode}) creating the database cluster in "
                f"{partial}:\n{_tail_text(result.stdout + result.stderr)}\nIf PostgreSQL is "
                f"incomplete, reinstall it with `apt-get install --reinstall {APT_PACKAGE}`."
            )
        settings = _SERVER_SETTINGS + (_THROWAWAY_SETTINGS if self._throwaway else "")
        with (partial / "postgresql.conf").open("a") as conf:
            conf.write(settings)
        (partial / "pg_hba.conf").write_text(_HBA)  # truncates in place: keeps the owner
        partial.rename(self.data_dir)
        (self.cluster_dir / "home.txt").write_text(f"{self.home}\n")

    def _make_cluster_dir(self) -> None:
        if not self._as_root:
            self.cluster_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            return
        server = _server_account()
        # Parents stay root-owned but must let the server user through.
        for folder in (ROOT_CLUSTERS.parent, ROOT_CLUSTERS):
            folder.mkdir(exist_ok=True)
            folder.chmod(0o755)
        self.cluster_dir.mkdir(exist_ok=True)
        os.chown(self.cluster_dir, server.pw_uid, server.pw_gid)
        self.cluster_dir.chmod(0o700)

    def _write_server_file(self, path: Path, text: str, *, mode: int) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if self._as_root:
            server = _server_account()
            os.chown(path, server.pw_uid, server.pw_gid)

    # -- start and stop -----------------------------------------------------------------

    def _start_server(self, bindir: Path) -> None:
        self._rotate_log()
        # Left by a crash or a container restart, and its process id may now belong to an
        # unrelated process, which would make PostgreSQL refuse to start.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        state = self._read_state()
        port = state.get("port")
        for attempt in range(_PORT_ATTEMPTS):
            if port is None or not _port_free(port):
                port = _free_port()
            self._write_state({**state, "port": port, "data_dir": str(self.data_dir)})
            result = self._run_server_tool(
                [
                    str(bindir / "pg_ctl"),
                    "start",
                    "--pgdata",
                    str(self.data_dir),
                    "--log",
                    str(self.log_file),
                    "--wait",
                    "--timeout",
                    str(_PG_CTL_TIMEOUT_S),
                    "--silent",
                    "-o",
                    f"-p {port}",
                ]
            )
            if result.returncode == 0:
                return
            # Another program may grab the port between our check and the server's bind.
            if "Address already in use" in self._log_tail() and attempt + 1 < _PORT_ATTEMPTS:
                port = None
                continue
            raise CommgridError(
                f"The database server in {self.data_dir} did not start (pg_ctl exit "
                f"{result.returncode}): {(result.stdout + result.stderr).strip()}\n"
                f"Last lines of {self.log_file}:\n{self._log_tail()}"
            )

    def _stop_server(self, bindir: Path) -> None:
        result = self._run_server_tool(
            [
                str(bindir / "pg_ctl"),
                "stop",
                "--pgdata",
                str(self.data_dir),
                "--mode",
                "fast",
                "--wait",
                "--timeout",
                str(_PG_CTL_TIMEOUT_S),
                "--silent",
            ]
        )
        if result.returncode != 0 and self._running_server()[0] is not None:
            raise CommgridError(
                f"The database server in {self.data_dir} did not stop (pg_ctl exit "
                f"{result.returncode}): {(result.stdout + result.stderr).strip()}\n"
                f"Last lines of {self.log_file}:\n{self._log_tail()}"
            )

    def _ensure_database(self) -> None:
        port = self._read_state()["port"]
        params = {
            "host": "127.0.0.1",
            "port": port,
            "user": DB_USER,
            "password": self._read_password(),
            "connect_timeout": 10,
            "autocommit": True,
        }
        try:
            with psycopg.connect(dbname="postgres", **params) as admin:
                exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
                if exists is None:
                    admin.execute(f'CREATE DATABASE "{DATABASE}"')
            with psycopg.connect(dbname=DATABASE, **params) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.errors.UndefinedFile as exc:
            raise CommgridError(
                f"The PostGIS extension cannot be created in the cluster at {self.data_dir}: "
                f"{exc.diag.message_primary}. Install it with `apt-get install {APT_PACKAGE}`."
            ) from None
        except psycopg.Error as exc:
            raise CommgridError(
                f"Cannot prepare database {DATABASE!r} in the cluster at {self.data_dir} "
                f"(127.0.0.1:{port}): {str(exc).strip()}\nLast lines of {self.log_file}:\n{self._log_tail()}"
            ) from None

    def _running_server(self) -> tuple[int | None, int | None]:
        """Process id and port from ``postmaster.pid``, or ``(None, None)`` when not running."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None, None
        return (pid, port) if _is_postmaster_of(pid, self.data_dir) else (None, None)

    # -- helpers --------------------------------------------------------------------------

    def _run_server_tool(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        # A minimal environment: stray PGDATA, PGPORT or locale variables must not leak in.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        kwargs: dict = {}
        if self._as_root:
            # Same effect as `setpriv --reuid postgres`, without a PAM session or an extra tool.
            server = _server_account()
            kwargs = {"user": server.pw_uid, "group": server.pw_gid, "extra_groups": []}
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.cluster_dir,
            timeout=_PG_CTL_TIMEOUT_S + 30,
            check=False,
            **kwargs,
        )

    def _url(self, port: int, *, password: str | None) -> URL:
        return URL.create(
            "postgresql+psycopg",
            username=DB_USER,
            password=password,
            host="127.0.0.1",
            port=port,
            database=DATABASE,
        )

    def _read_password(self, *, create: bool = False) -> str:
        path = self.home / _PASSWORD_FILE
        if path.exists():
            return path.read_text().strip()
        if not create:
            raise CommgridError(
                f"The password file {path} of the database cluster in {self.data_dir} is missing, so "
                "the cluster cannot be reached. Restore the file, or delete the cluster (its data is "
                f"lost) with EmbeddedCluster({str(self.home)!r}).remove() and start again."
            )
        password = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        return password

    def _read_state(self) -> dict:
        try:
            return json.loads((self.home / _STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict) -> None:
        text = json.dumps(state, indent=2) + "\n"
        write_atomically(self.home / _STATE_FILE, lambda tmp: tmp.write_text(text))

    def _rotate_log(self) -> None:
        with contextlib.suppress(OSError):
            if self.log_file.stat().st_size > _LOG_ROTATE_BYTES:
                self.log_file.replace(self.log_file.with_suffix(".log.1"))

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return _tail_text(self.log_file.read_text(errors="replace"), lines)
        except OSError:
            return f"(no log at {self.log_file})"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / _LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def throwaway_cluster(*, parent: Path | None = None, bindir: Path | None = None) -> Iterator[URL]:
    """A temporary cluster: created in a temporary home, started, stopped and deleted.

    Parameters
    ----------
    parent
        Folder for the temporary home (default: the system temporary folder).
    bindir
        See :class:`EmbeddedCluster`.

    Yields
    ------
    sqlalchemy.engine.URL
        URL of the cluster's ``commgrid`` database (PostGIS enabled).

    Examples
    --------
    >>> with throwaway_cluster() as url:  # doctest: +SKIP
    ...     engine = sqlalchemy.create_engine(url)
    """
    home = Path(tempfile.mkdtemp(prefix="commgrid-cluster-", dir=parent))
    cluster = EmbeddedCluster(home, bindir=bindir, throwaway=True)
    try:
        cluster.start()
        yield cluster.url()
    finally:
        try:
            cluster.remove()
        finally:
            shutil.rmtree(home, ignore_errors=True)


def postgres_program(name: str, *, major: int | None = None) -> Path:
    """Where a PostgreSQL program (``pg_dump``, ``pg_restore``, ``psql``, ...) is installed.

    Client programs read servers of their own version and older ones, so for a server
    of version ``major`` the program of that version is taken, else the oldest newer one
    installed, else the one the defaults name (PostgreSQL 15, ``pg_config``, ``PATH``).

    Parameters
    ----------
    name
        The program's file name.
    major
        The major version of the server it is to talk to, when known.

    Returns
    -------
    Path

    Raises
    ------
    CommgridError
        When no fitting program is installed; the message names the apt package.
    """
    candidates: list[Path] = []
    if major is not None:
        versions = sorted(
            int(p.parent.parent.name)
            for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}")
            if p.parent.parent.name.isdigit() and int(p.parent.parent.name) >= major
        )
        candidates += [Path(f"/usr/lib/postgresql/{v}/bin") for v in versions]
    candidates += _default_bindirs()
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        program = folder / name
        if program.is_file() and (major is None or _program_major(program) >= major):
            return program
    want = major or PG_MAJOR
    raise CommgridError(
        f"{name} for PostgreSQL {want} or newer is not installed (looked in "
        f"{', '.join(str(c) for c in dict.fromkeys(candidates)) or 'nothing'}). Install it with "
        f"`apt-get install postgresql-client-{want}`."
    )


def _program_major(program: Path) -> int:
    """The major version a PostgreSQL program reports (``pg_dump (PostgreSQL) 15.18`` → 15)."""
    try:
        return int(_run_text([str(program), "--version"]).split()[-1].split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return 0


def _default_bindirs() -> list[Path]:
    candidates = [Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")]
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            candidates.append(Path(_run_text([pg_config, "--bindir"])))
    return list(dict.fromkeys(candidates))


def _server_account() -> pwd.struct_passwd:
    """The ``postgres`` system account, created when missing (the apt package normally makes it)."""
    try:
        return pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        pass
    shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    args = [useradd, "--system", "--user-group", "--no-create-home", "--shell", shell, SERVER_OS_USER]
    try:
        result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=30)
        failure = result.stderr.strip() if result.returncode != 0 else None
    except OSError as exc:
        failure = str(exc)
    if failure is not None:
        raise CommgridError(
            f"PostgreSQL refuses to run as root and the {SERVER_OS_USER!r} system user is missing; "
            f"creating it with useradd failed: {failure}. Install `{APT_PACKAGE}` "
            "(it creates the user) or run commgrid as an ordinary user."
        )
    return pwd.getpwnam(SERVER_OS_USER)


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether process ``pid`` is a PostgreSQL server for ``data_dir`` (pg_ctl starts it with ``-D``)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc, or hidden: fall back to "is it alive"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    return str(data_dir).encode() in args


def _run_text(args: list[str]) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=30).stdout.strip()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # PostgreSQL binds with SO_REUSEADDR too, so sockets in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail_text(text: str, lines: int = 20) -> str:
    tail = text.strip().splitlines()[-lines:]
    return "\n".join("    " + line for line in tail) if tail else "    (empty)"
