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
    from api.cli import db, demo, load, partition_cmd, plans, sample, serve, users

    app.add_typer(db.app, name="db")
    app.add_typer(sample.app, name="sample")
    app.command(name="partition")(partition_cmd.partition)
    app.command(name="load")(load.load)
    app.command(name="map")(load.export_map)
    app.command(name="serve")(serve.serve)
    app.command(name="demo")(demo.demo)
    app.add_typer(users.app, name="users")
    app.add_typer(plans.app, name="plans")
    from api.cli import districts

    app.add_typer(districts.app, name="districts")
    from api.cli import poster, workers

    app.add_typer(workers.app, name="workers")
    app.command(name="poster")(poster.poster)
    app.command(name="posters")(poster.posters)
    app.command(name="cards")(poster.cards)
    from api.cli import patrols, report

    app.add_typer(patrols.app, name="patrols")
    app.add_typer(report.app, name="report")
    from api.cli import incidents

    app.add_typer(incidents.app, name="incidents")
    from api.cli import audit, backup

    app.add_typer(audit.app, name="audit")
    app.command(name="dump")(backup.dump)
    app.command(name="restore")(backup.restore)


_register()


def main() -> None:
    """Entry point of the ``commgrid`` command."""
    import os

    if os.environ.get("COMMGRID_NOW"):
        from api.cli._common import settings_from

        settings_from()  # sets the calendar clock for every subcommand
    app()
