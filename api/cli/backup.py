"""``commgrid dump`` and ``commgrid restore``: the whole store to one file and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli._common import DbOpt, console, handle_errors, settings_from


def _url(db: str | None):
    from api.database import database_url

    return database_url(settings_from(db))  # starts the embedded cluster when it is the store


def _rows(rows: dict[str, int]) -> Table:
    table = Table("table", "rows")
    for name, n in rows.items():
        if n:
            table.add_row(name, f"{n:,}")
    return table


@handle_errors
def dump(
    file: Annotated[Path, typer.Argument(help="The archive to write (pg_dump custom format).")],
    db: DbOpt = None,
) -> None:
    """Write the whole store to FILE: plans, units, incidents, workers and photos, patrols, users, audit log.

    The file holds personal data: keep it as safe as the database. Restore it with
    `commgrid restore FILE`; any PostgreSQL tool (pg_restore) reads it too.
    """
    from gis.store.audit import cli_actor
    from gis.store.backup import dump_store

    summary = dump_store(_url(db), file, actor=cli_actor())
    console.print(_rows(summary.rows))
    console.print(f"wrote {file} ({file.stat().st_size:,} bytes, schema revision {summary.revision})", soft_wrap=True)


@handle_errors
def restore(
    file: Annotated[Path, typer.Argument(help="An archive written by `commgrid dump`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the target store even when it holds data (all of it is lost).")
    ] = False,
    db: DbOpt = None,
) -> None:
    """Replace the store with the one in FILE, all or nothing (refused when the store holds data, unless --force).

    An archive of an older schema is upgraded after the restore. Tile caches and
    browsers of a running service see new data versions and fetch every tile anew.
    """
    from gis.store.audit import cli_actor
    from gis.store.backup import restore_store

    summary = restore_store(_url(db), file, force=force, actor=cli_actor())
    console.print(_rows(summary.rows))
    upgraded = f", upgraded to {summary.upgraded_to}" if summary.upgraded_to else ""
    console.print(f"restored {file} (schema revision {summary.revision}{upgraded})", soft_wrap=True)
