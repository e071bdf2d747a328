"""What every command shares: error translation, consoles, progress bars, settings."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gis.errors import CommgridError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Print commgrid errors as one message and exit with the error's code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CommgridError as exc:
            err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True, markup=True)
            raise typer.Exit(exc.exit_code) from None
        except ValueError as exc:  # option values that parse but make no sense (ranges, CRS names)
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bar(description: str, *, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A rich progress bar; yields ``advance(done, total, label)`` for engine callbacks."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[label]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total, label="")

        def advance(done: int, total: int, label: str = "") -> None:
            progress.update(task, completed=done, total=total, label=label)

        yield advance


def settings_from(db: str | None = None, home: str | None = None):
    """Settings from the environment, overridden by command-line options."""
    from pathlib import Path

    from api.settings import Settings

    overrides: dict[str, Any] = {}
    if db:
        overrides["database_url"] = db
    if home:
        overrides["home"] = Path(home)
    return Settings(**overrides)


DbOpt = Annotated[
    str | None, typer.Option("--db", help="URL of an existing PostGIS database instead of the embedded one.")
]


@contextmanager
def store_connection(db: str | None = None):
    """A connection in one transaction on the store the settings (or ``--db``) name, committed on success."""
    from api.database import open_store
    from gis.store import begin

    engine = open_store(settings_from(db))
    try:
        with begin(engine) as conn:
            yield conn
    finally:
        engine.dispose()
