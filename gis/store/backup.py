"""Backing up the store to one file and restoring it: ``pg_dump`` and ``pg_restore``, custom format.

Why PostgreSQL's own tools: ``pg_dump`` reads the whole database in one snapshot, so
a backup taken while the service runs is consistent; it keeps every type as it is
(geometries, JSON, photos as bytea, sequences, triggers) and compresses; any
PostgreSQL operator can read the file without commgrid. An export of our own (GeoJSON,
CSV) would have to be kept in step with every migration and would lose sequences,
triggers and exact types.

A restore is all or nothing. The archive is turned into SQL by ``pg_restore`` and run
by ``psql`` in one transaction, after statements that drop commgrid's tables,
sequences and functions (PostGIS stays) and before statements that move every data
version past anything handed out before (see :func:`restore_store`). A failure
anywhere rolls the transaction back and leaves the target as it was.

Examples
--------
>>> dump_store(url, Path("commgrid.dump"))  # doctest: +SKIP
>>> restore_store(other_url, Path("commgrid.dump"))  # doctest: +SKIP
"""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import pool, text
from sqlalchemy.engine import URL, Connection, make_url

from gis import migrations
from gis.atomic import write_atomically
from gis.cluster import postgres_program
from gis.errors import CommgridError, ConflictError, InputError
from gis.store.audit import cli_actor, record
from gis.store.engine import begin, connect, create_engine

__all__ = [
    "BackupSummary",
    "archive_revision",
    "archive_schema",
    "check_archive_schema",
    "dump_store",
    "expected_schema",
    "restore_store",
    "schema_problems",
    "table_checksums",
    "table_rows",
]

_TIMEOUT_S = 6 * 3600  # a very large store still dumps; a hung tool does not hang forever
# Tables that are always there and say nothing about whether a store holds data.
_BOOKKEEPING = ("alembic_version", "data_version")

# commgrid's tables: those in the public schema that no extension (PostGIS) owns.
_TABLES = """
SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend AS d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY c.relname
"""

# Run first in the restore's transaction: remove whatever commgrid objects the target
# holds (any schema version), keeping what extensions own: relations, then functions, then types.
_DROP_STORE = r"""
DO $commgrid$
DECLARE
    item text;
BEGIN
    FOREACH item IN ARRAY coalesce((
        SELECT array_agg(format('DROP %s IF EXISTS %I.%I CASCADE',
                                CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                               WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                                n.nspname, c.relname)
                         -- views, then tables (taking their own sequences along), then the other sequences
                         ORDER BY CASE c.relkind WHEN 'v' THEN 0 WHEN 'm' THEN 1 WHEN 'S' THEN 3 ELSE 2 END)
        FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    ), '{}') || coalesce((
        SELECT array_agg(format('DROP FUNCTION IF EXISTS %s CASCADE', p.oid::regprocedure))
        FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prokind = 'f'
          AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    ), '{}') || coalesce((
        SELECT array_agg(format('DROP TYPE IF EXISTS %I.%I CASCADE', n.nspname, t.typname))
        FROM pg_type AS t JOIN pg_namespace AS n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')
          AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                          WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
    ), '{}')
    LOOP
        EXECUTE item;
    END LOOP;
END
$commgrid$;
"""

# Run last: every layer gets a version above anything the target or the archive ever
# handed out (and above the clock in microseconds, where migration 0002 starts them),
# so no tile cache or browser holds an ETag that could match restored data.
_MOVE_VERSIONS = r"""
DO $commgrid$
BEGIN
    IF to_regclass('public.data_version_seq') IS NOT NULL THEN
        PERFORM pg_catalog.setval('public.data_version_seq', greatest(
            (SELECT last_value FROM public.data_version_seq),
            {before}::bigint,
            (extract(epoch FROM pg_catalog.clock_timestamp()) * 1000000)::bigint) + 1);
        UPDATE public.data_version SET version = pg_catalog.nextval('public.data_version_seq'),
                                       changed_at = pg_catalog.now();
    END IF;
END
$commgrid$;
"""

# TOC entries of the archive left to the target: PostGIS is installed there, and
# commenting on an extension needs its owner.
_SKIPPED_ENTRY = re.compile(r"^\d+; \d+ \d+ (EXTENSION|COMMENT - EXTENSION) ")


@dataclass(frozen=True)
class BackupSummary:
    """What a dump wrote or a restore brought back.

    Attributes
    ----------
    path
        The archive.
    revision
        The schema revision the archive holds.
    rows
        Rows per table: of the source when dumping, of the target after restoring.
    upgraded_to
        After a restore of an older archive, the revision the store was upgraded to.
    """

    path: Path
    revision: str
    rows: dict[str, int] = field(default_factory=dict)
    upgraded_to: str | None = None


def table_rows(conn: Connection) -> dict[str, int]:
    """Rows in each of commgrid's tables (exact counts)."""
    tables = conn.execute(text(_TABLES)).scalars().all()
    return {t: conn.execute(text(f'SELECT count(*) FROM public."{t}"')).scalar_one() for t in tables}


def table_checksums(conn: Connection, tables: list[str] | None = None) -> dict[str, str]:
    """An MD5 of each table's rows (as text, sorted): equal checksums mean equal contents.

    Parameters
    ----------
    tables
        The tables to sum; by default all of commgrid's.
    """
    names = tables if tables is not None else conn.execute(text(_TABLES)).scalars().all()
    return {
        t: conn.execute(
            text(f"SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) FROM public.\"{t}\" AS r")
        ).scalar_one()
        for t in names
    }


def dump_store(url: str | URL, path: Path, *, actor: str | None = None) -> BackupSummary:
    """Write the whole store at ``url`` to ``path`` (``pg_dump`` custom format).

    The file appears only when the dump is complete. The source's audit log gets a
    ``backup.dump`` entry afterwards: a backup holds every piece of personal data.

    Parameters
    ----------
    url
        The store's database URL.
    path
        The archive to write (replaced if it exists).
    actor
        Who takes the backup, for the audit log (default: the shell user).

    Returns
    -------
    BackupSummary

    Raises
    ------
    DatabaseUnavailableError
        When the database cannot be reached.
    CommgridError
        When the database holds no commgrid store, or ``pg_dump`` fails (its message follows).
    """
    url = make_url(url)
    path = Path(path)
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with connect(engine) as conn:
            revision = _store_revision(conn, url)
            rows = table_rows(conn)
            major = _server_major(conn)
        write_atomically(
            path,
            lambda partial: _run(
                [str(postgres_program("pg_dump", major=major)), "--format=custom", "--no-password",
                 f"--file={partial}", f"--dbname={_libpq_uri(url)}"],
                url,
                what=f"pg_dump of the store at {_shown(url)}",
            ),
        )  # fmt: skip
        with begin(engine) as conn:
            _audit(conn, "backup.dump", path, actor, revision=revision, bytes=path.stat().st_size)
    finally:
        engine.dispose()
    return BackupSummary(path, revision, rows)


def archive_revision(path: Path) -> str:
    """The schema revision of the store in a ``pg_dump`` archive.

    Raises
    ------
    InputError
        When the file is missing, is not a custom-format archive, or holds no commgrid store.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no archive at {path}; give a file a store dump wrote", file=str(path), see="dump")
    listing = _archive_list(path)
    if not any(" TABLE DATA public alembic_version " in line for line in listing):
        raise InputError(
            "the archive holds no commgrid store (it has no alembic_version table); give a file a store dump wrote",
            file=str(path),
            see="dump",
        )
    result = _tool(
        [str(postgres_program("pg_restore")), "--data-only", "--table=alembic_version", "--file=-", str(path)]
    )
    copy = re.search(r"^COPY public\.alembic_version .*?\n(.*?)^\\\.$", result.stdout, re.S | re.M)
    versions = copy.group(1).split() if copy else []
    if result.returncode != 0 or len(versions) != 1:
        raise InputError(
            f"cannot read the schema revision in the archive (found {versions}); pg_restore said: "
            f"{_tail(result.stderr)}",
            file=str(path),
        )
    return versions[0]


def expected_schema(revision: str) -> dict[str, set[str]]:
    """The tables, and their columns, that commgrid's migrations create up to ``revision``.

    Read from the migration scripts themselves (each ``op.create_table`` /
    ``op.create_geospatial_table`` with a literal name, its literal ``sa.Column`` names,
    and literal ``op.add_column``), so it follows the schema as migrations change it.
    """
    return {table: set(columns) for table, columns in _expected_schema(revision).items()}


@functools.cache
def _expected_schema(revision: str) -> dict[str, frozenset[str]]:
    scripts = ScriptDirectory(str(migrations.MIGRATIONS_DIR))
    chain = list(scripts.iterate_revisions(revision, "base"))[::-1]
    tables: dict[str, set[str]] = {}
    for script in chain:
        tree = ast.parse(Path(script.path).read_text(encoding="utf-8"))
        upgrade = next((f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "upgrade"), None)
        for call in ast.walk(upgrade) if upgrade is not None else ():
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.args):
                continue
            name = _literal(call.args[0])
            if name is None:
                continue
            if call.func.attr in ("create_table", "create_geospatial_table"):
                tables[name] = {c for c in map(_column_name, call.args[1:]) if c is not None}
            elif call.func.attr == "add_column" and len(call.args) > 1 and name in tables:
                column = _column_name(call.args[1])
                if column is not None:
                    tables[name].add(column)
    return {table: frozenset(columns) for table, columns in tables.items()}


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _column_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Column" and node.args:
        return _literal(node.args[0])
    return None


def archive_schema(path: Path) -> dict[str, set[str]]:
    """The tables of the ``public`` schema in an archive (its table of contents, ``pg_restore -l``),
    with their columns (the archive's ``CREATE TABLE`` statements)."""
    tables = {m.group(1): set() for line in _archive_list(path) if (m := re.search(r"\d+ TABLE public (\S+) ", line))}
    result = _tool([str(postgres_program("pg_restore")), "--schema-only", "--schema=public", "--file=-", str(path)])
    for m in re.finditer(r"^CREATE TABLE public\.(\S+) \((.*?)^\);", result.stdout, re.S | re.M):
        columns = tables.setdefault(m.group(1).strip('"'), set())
        for line in m.group(2).splitlines():
            word = line.strip().split(" ", 1)[0].strip('"')
            if word and word.upper() not in ("CONSTRAINT", "CHECK", "PRIMARY", "UNIQUE", "FOREIGN", "EXCLUDE"):
                columns.add(word)
    return tables


def check_archive_schema(path: Path, revision: str) -> None:
    """Refuse an archive whose tables and columns are not commgrid's at ``revision``.

    A version row alone proves nothing: another tool's database may hold an
    ``alembic_version`` table and even a ``grid_plan``; restoring it with ``--force``
    would drop the store for something no route can read.

    Raises
    ------
    InputError
        Naming the missing tables and columns.
    """
    expected = expected_schema(revision)
    found = archive_schema(path)
    missing_tables = sorted(set(expected) - set(found))
    missing_columns = sorted(
        f"{table}.{column}" for table in set(expected) & set(found) for column in expected[table] - found[table]
    )
    if missing_tables or missing_columns:
        # columns first: of the tables it has, what they lack says most about whose archive it is
        shown = ", ".join((missing_columns + missing_tables)[:12])
        more = len(missing_tables) + len(missing_columns) - 12
        raise InputError(
            f"the archive is not a commgrid store at schema revision {revision}: it lacks {shown}"
            f"{f' and {more} more' if more > 0 else ''}. Nothing was changed; give a file a store dump wrote",
            file=str(path),
            see="dump",
        )


def restore_store(url: str | URL, path: Path, *, force: bool = False, actor: str | None = None) -> BackupSummary:
    """Replace the store at ``url`` with the one in ``path``, all or nothing.

    The target must hold no data (a new database, or a migrated but empty store)
    unless ``force``. An archive of an older schema is restored and then upgraded; one
    of a newer schema than this commgrid knows is refused. Afterwards every data
    version is above anything the target or the archive handed out, so tile caches
    and browsers cut their tiles anew, and the audit log gets a ``backup.restore`` entry.

    Parameters
    ----------
    url
        The target database (PostGIS is created there if missing).
    path
        An archive written by :func:`dump_store`.
    force
        Replace a target that holds data.
    actor
        Who restores, for the audit log (default: the shell user).

    Returns
    -------
    BackupSummary
        With the target's rows after the restore.

    Raises
    ------
    InputError
        When the file is not a commgrid archive.
    ConflictError
        When the target holds data and ``force`` is not set.
    CommgridError
        When the archive's schema is newer than this commgrid's, or the restore fails
        (the target is then unchanged).
    DatabaseUnavailableError
        When the database cannot be reached.
    """
    url = make_url(url)
    path = Path(path)
    revision = archive_revision(path)
    known = {script.revision for script in ScriptDirectory(str(migrations.MIGRATIONS_DIR)).walk_revisions()}
    head = migrations.head()
    if revision not in known:
        raise CommgridError(
            f"{path} holds a store at schema revision {revision}, which this commgrid does not know (its newest is "
            f"{head}); it was written by a newer commgrid. Restore it with that version."
        )
    check_archive_schema(path, revision)  # before anything is dropped
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with begin(engine) as conn:
            held = {t: n for t, n in _nonempty(conn).items() if n}
            if held and not force:
                shown = ", ".join(f"{n:,} in {t}" for t, n in held.items())
                raise ConflictError(
                    f"the store at {_shown(url)} is not empty (rows: {shown}); restoring would replace it. Restore "
                    "into an empty database, or force the restore to replace everything in it.",
                    option="force",
                )
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            has_versions = conn.execute(text("SELECT to_regclass('public.data_version_seq') IS NOT NULL")).scalar_one()
            before = (
                conn.execute(text("SELECT last_value FROM public.data_version_seq")).scalar_one() if has_versions else 0
            )
            major = _server_major(conn)
        _restore(url, path, major=major, versions_before=int(before))
        upgraded = None
        if revision != head:
            migrations.upgrade(url)
            upgraded = head
        with begin(engine) as conn:
            _audit(conn, "backup.restore", path, actor, revision=revision, upgraded_to=upgraded, replaced=held)
            rows = table_rows(conn)
    finally:
        engine.dispose()
    return BackupSummary(path, revision, rows, upgraded)


def _restore(url: URL, path: Path, *, major: int, versions_before: int) -> None:
    """pg_restore's SQL, between the drops and the version move, in one psql transaction."""
    pg_restore = postgres_program("pg_restore", major=major)
    psql = postgres_program("psql", major=major)
    with tempfile.TemporaryDirectory(prefix="commgrid-restore-") as tmp:
        work = Path(tmp)
        (work / "toc.list").write_text(
            "\n".join(line for line in _archive_list(path) if not _SKIPPED_ENTRY.match(line)) + "\n"
        )
        (work / "before.sql").write_text(_DROP_STORE)
        (work / "after.sql").write_text(_MOVE_VERSIONS.format(before=versions_before))
        errors = work / "errors.txt"
        with errors.open("w") as err:
            producer = subprocess.Popen(
                [str(pg_restore), "--file=-", f"--use-list={work / 'toc.list'}", "--no-owner", "--no-privileges",
                 str(path)],
                stdout=subprocess.PIPE, stderr=err, env=_environment(url),
            )  # fmt: skip
            try:
                consumer = subprocess.run(
                    [str(psql), "--no-psqlrc", "--quiet", "--no-password", "--single-transaction",
                     "--set=ON_ERROR_STOP=1", f"--file={work / 'before.sql'}", "--file=-",
                     f"--file={work / 'after.sql'}", f"--dbname={_libpq_uri(url)}"],
                    stdin=producer.stdout, stdout=subprocess.DEVNULL, stderr=err, env=_environment(url),
                    timeout=_TIMEOUT_S, check=False,
                )  # fmt: skip
            finally:
                producer.stdout.close()
                produced = producer.wait()
        if consumer.returncode != 0 or produced != 0:
            raise CommgridError(
                f"The restore of {path} into {_shown(url)} failed and was rolled back; the store is as it was. "
                f"pg_restore/psql said:\n{_tail(errors.read_text(errors='replace'))}"
            )


def _audit(conn: Connection, action: str, path: Path, actor: str | None, **detail: Any) -> None:
    """Log a backup action on the archive ``path`` by ``actor`` (default: the shell user)."""
    # stores older than migration 0006 have no audit log to write to
    if conn.execute(text("SELECT to_regclass('public.audit_log') IS NOT NULL")).scalar_one():
        record(conn, actor=actor or cli_actor(), action=action, target=str(path), detail=detail)


def _nonempty(conn: Connection) -> dict[str, int]:
    """Per table of the target, 1 when it holds a row (cheaper than counting a large store)."""
    tables = [t for t in conn.execute(text(_TABLES)).scalars() if t not in _BOOKKEEPING]
    return {t: int(conn.execute(text(f'SELECT EXISTS (SELECT 1 FROM public."{t}")')).scalar_one()) for t in tables}


def _store_revision(conn: Connection, url: URL) -> str:
    present = conn.execute(text("SELECT to_regclass('public.alembic_version') IS NOT NULL")).scalar_one()
    revision = conn.execute(text("SELECT version_num FROM public.alembic_version")).scalar() if present else None
    if revision is None:
        raise CommgridError(
            f"the database at {_shown(url)} holds no commgrid store (no schema revision); bring it up to date "
            "or name another database",
            see="upgrade_store",
        )
    return revision


def _server_major(conn: Connection) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _archive_list(path: Path) -> list[str]:
    result = _tool([str(postgres_program("pg_restore")), "--list", str(path)])
    if result.returncode != 0:
        raise InputError(
            f"the file is not an archive of pg_dump's custom format (pg_restore said: {_tail(result.stderr)}); "
            "give a file a store dump wrote",
            file=str(path),
            see="dump",
        )
    return result.stdout.splitlines()


def _libpq_uri(url: URL) -> str:
    # libpq takes the same URL without SQLAlchemy's driver tag; the password goes in the
    # environment, never on a command line other users can read in `ps`.
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _environment(url: URL) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # no stray PGDATABASE and such
    env.update(PGCONNECT_TIMEOUT="10", PGAPPNAME="commgrid-backup")
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return env


def _run(args: list[str], url: URL, *, what: str) -> None:
    result = subprocess.run(
        args, capture_output=True, text=True, env=_environment(url), timeout=_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        raise CommgridError(f"{what} failed (exit {result.returncode}):\n{_tail(result.stderr)}")


def _tool(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _tail(text_: str, lines: int = 12) -> str:
    tail = text_.strip().splitlines()[-lines:]
    return "\n".join("    " + line for line in tail) if tail else "    (nothing)"


def schema_problems(conn: Connection) -> list[str]:
    """What the store at ``conn`` lacks of commgrid's schema at its recorded revision (empty when whole).

    Cheap enough for a health check: one look at ``alembic_version`` and one at the catalogue.
    """
    present = conn.execute(text("SELECT to_regclass('public.alembic_version') IS NOT NULL")).scalar_one()
    revisions = conn.execute(text("SELECT version_num FROM public.alembic_version")).scalars().all() if present else []
    if len(revisions) != 1:
        return [f"alembic_version holds {len(revisions)} revisions, expected 1"]
    try:
        expected = expected_schema(revisions[0])
    except Exception:  # alembic raises several kinds for a revision it does not know
        return [f"schema revision {revisions[0]!r} is not one of this commgrid's migrations"]
    rows = conn.execute(
        text("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'")
    ).all()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    problems = [f"table {t} is missing" for t in sorted(set(expected) - set(found))]
    problems += [
        f"column {t}.{c} is missing" for t in sorted(set(expected) & set(found)) for c in sorted(expected[t] - found[t])
    ]
    return problems
