"""The ``commgrid`` command line: one subcommand group per package.

Commands parse their options, call one package function and render the result with
rich; errors from the hierarchy in :mod:`gis.errors` print as one clear message and
exit with the error's code (2 for bad input).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="commgrid",
    help=(
        "commgrid — community grid management (网格化管理).\n\n"
        "Split districts into grids of 300–500 households and 1,000–1,500 residents, "
        "store plans in PostGIS and serve them as a web map.\n\n"
        "Start with `commgrid demo`, which runs everything on a generated sample district."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _register() -> None:
    from api.cli import (
        audit,
        backup,
        communities,
        db,
        demo,
        districts,
        export_public,
        incidents,
        load,
        partition_cmd,
        patrols,
        plans,
        poster,
        report,
        sample,
        serve,
        users,
        workers,
    )

    # in the order `commgrid --help` lists them: a Typer is a group of commands
    for name, command in (
        ("db", db.app),
        ("sample", sample.app),
        ("partition", partition_cmd.partition),
        ("load", load.load),
        ("map", load.export_map),
        ("serve", serve.serve),
        ("demo", demo.demo),
        ("users", users.app),
        ("districts", districts.app),
        ("plans", plans.app),
        ("workers", workers.app),
        ("poster", poster.poster),
        ("posters", poster.posters),
        ("cards", poster.cards),
        ("patrols", patrols.app),
        ("report", report.app),
        ("incidents", incidents.app),
        ("audit", audit.app),
        ("dump", backup.dump),
        ("restore", backup.restore),
        ("communities", communities.app),
        ("export-public", export_public.export_public),
    ):
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=name)
        else:
            app.command(name=name)(command)


_register()


def main() -> None:
    """Entry point of the ``commgrid`` command."""
    import os

    if os.environ.get("COMMGRID_NOW"):
        from api.cli._common import settings_from

        settings_from()  # sets the calendar clock for every subcommand
    app()
