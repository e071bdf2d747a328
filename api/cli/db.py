"""``commgrid db``: the embedded PostGIS cluster and schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli._common import DbOpt, console, handle_errors, settings_from

app = typer.Typer(help="Manage the store: the embedded PostGIS cluster and schema migrations.", no_args_is_help=True)

HomeOpt = Annotated[str | None, typer.Option("--home", help="commgrid home folder (default $COMMGRID_HOME).")]


def _cluster(home: str | None):
    from gis.cluster import EmbeddedCluster

    return EmbeddedCluster(settings_from(home=home).home)


@app.command()
@handle_errors
def start(home: HomeOpt = None) -> None:
    """Start the embedded cluster (created on first use) and bring the schema up to date."""
    from gis import migrations

    cluster = _cluster(home)
    status = cluster.start()
    migrations.upgrade(cluster.url())
    console.print(f"[green]running[/] on port {status.port} (pid {status.pid}), data in {status.data_dir}")


@app.command()
@handle_errors
def stop(home: HomeOpt = None) -> None:
    """Stop the embedded cluster; data is kept."""
    _cluster(home).stop()
    console.print("stopped")


@app.command()
@handle_errors
def status(home: HomeOpt = None) -> None:
    """Show whether the embedded cluster runs, where, and its data folder."""
    s = _cluster(home).status()
    state = "[green]running[/]" if s.running else "[yellow]stopped[/]"
    console.print(
        f"{state}  port {s.port}  pid {s.pid}\nhome {s.home}\ndata {s.data_dir}\nlog  {s.log_file}\nurl  {s.url}"
    )


@app.command()
@handle_errors
def upgrade(db: DbOpt = None, home: HomeOpt = None, revision: str = "head") -> None:
    """Apply schema migrations up to REVISION (default: the newest)."""
    from api.database import database_url
    from gis import migrations

    migrations.upgrade(database_url(settings_from(db, home)), revision)
    console.print(f"schema at {revision}")


@app.command()
@handle_errors
def check(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Fail when the models and the migrations disagree (for CI)."""
    from api.database import database_url
    from gis import migrations

    url = database_url(settings_from(db, home))
    migrations.upgrade(url)
    migrations.check(url)
    console.print("models and migrations agree")
