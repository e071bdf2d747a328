"""What every command shares: error translation, consoles, progress bars, settings."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gis.errors import AmbiguousError, CommgridError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Print commgrid errors as one message and exit with the error's code.

    Only commgrid's own errors are the user's to fix: anything else (a ``ValueError`` from
    numpy, say) is a bug and shows as one, with its traceback.

    A database that goes away while the command runs (stopped, restarted, the
    connection cut) is reported the same way, exit code 1, naming the database.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CommgridError as exc:
            err_console.print(
                f"[bold red]error:[/] {escape(worded(exc, fn))}", highlight=False, soft_wrap=True, markup=True
            )
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            message = database_failure(exc, kwargs.get("db"))
            if message is None and isinstance(exc, OSError) and exc.strerror:
                # a file that cannot be written or read: a full disk, a missing folder, no permission
                where = f" {exc.filename}" if exc.filename else ""
                err_console.print(f"[bold red]error:[/] cannot use{escape(where)}: {escape(exc.strerror)}",
                                  highlight=False, soft_wrap=True, markup=True)  # fmt: skip
                raise typer.Exit(2) from None
            if message is None:
                raise
            err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True, markup=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def option_groups(fn: F) -> F:
    """Let a command take options that travel together as one parameter: a dataclass of typer options.

    A parameter annotated with a dataclass whose fields are typer options (``Annotated[..., typer.Option(...)]``,
    each with a default) stands, on the command line, for those options, in their order; the command
    receives them as one instance of the dataclass. Typer has no such grouping, so the signature it reads
    is rewritten: flags, help and defaults are the fields' own.
    """
    signature = inspect.signature(fn, eval_str=True)
    groups: dict[str, tuple[type, list[str]]] = {}
    params: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        group = param.annotation
        if not (isinstance(group, type) and dataclasses.is_dataclass(group)):
            params.append(param)
            continue
        hints = typing.get_type_hints(group, include_extras=True)
        fields = dataclasses.fields(group)
        groups[param.name] = (group, [f.name for f in fields])
        params += [inspect.Parameter(f.name, param.kind, default=f.default, annotation=hints[f.name]) for f in fields]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for name, (group, names) in groups.items():
            kwargs[name] = group(**{n: kwargs.pop(n) for n in names})
        return fn(*args, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def pairs(values: list[str] | None, *, option: str, example: str) -> dict[str, str]:
    """``KEY=VALUE`` options as a mapping (the value may itself hold ``=``).

    Raises
    ------
    InputError
        For an item without ``=`` or with an empty side.
    """
    from gis.errors import InputError

    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"{option} {item!r}: write it as {example}", field=option.lstrip("-"))
        out[key.strip()] = value.strip()
    return out


# The next step an error names (gis.errors.ACTIONS), as a command.
ACTION_COMMANDS = {
    "add_district": "`commgrid districts add`",
    "add_grid_leader": "`commgrid users add NAME --role grid_leader --grid CODE`",
    "add_user": "`commgrid users add NAME --role ROLE`",
    "assign_worker": "`commgrid workers import ROSTER.csv`",
    "dump": "`commgrid dump`",
    "handoff": "the service's POST /incidents/{id}/handoff (GET /departments lists the departments)",
    "incident_taxonomy": "the service's GET /incidents/taxonomy",
    "list_communities": "`commgrid communities list`",
    "list_incidents": "the service's GET /incidents",
    "list_workers": "`commgrid workers list`",
    "partition": "`commgrid partition`",
    "patrol_rule": "`commgrid patrols rule --timezone ZONE`",
    "publish_plan": "`commgrid plans publish NAME`",
    "register_device": "`commgrid patrols devices add DEVICE --worker ID`",
    "upgrade_store": "`commgrid db upgrade`",
}


def _flag(command: Callable[..., Any] | None, option: str) -> str | None:
    """The command's flag for a setting (``input_crs`` may be ``--crs``), or ``None`` when it has none.

    Read from the command's signature (its typer options), so it holds for any typer version.
    """
    if command is None:
        return None
    import inspect

    params = inspect.signature(command, eval_str=True).parameters
    # a command's --crs is its input CRS unless it also has an --input-crs (then --crs is the working CRS)
    candidates = {"input_crs": ("input_crs", "crs"), "working_crs": ("working_crs",)}.get(option, (option,))
    if option == "working_crs" and "input_crs" in params:
        candidates = ("working_crs", "crs")
    for name in candidates:
        for pname, param in params.items():
            info = next((m for m in getattr(param.annotation, "__metadata__", ()) if hasattr(m, "param_decls")), None)
            if info is None or type(info).__name__ == "ArgumentInfo":
                continue
            decls = [d for d in (info.param_decls or ()) if d.startswith("--")]
            flag = max(decls, key=len) if decls else "--" + pname.replace("_", "-")
            # by name (input_crs), or by the flag when the name differs (fmt for --format)
            if pname == name or "--" + name.replace("_", "-") in decls:
                return flag
    return None


def worded(exc: CommgridError, command: Callable[..., Any] | None = None) -> str:
    """The error's message in the command line's words: the flag of ``command`` that fixes it, the command to run next."""
    if isinstance(exc, AmbiguousError) and exc.field:
        return f"{exc.message} with --{exc.field.replace('_', '-')}"
    message = exc.message
    flag = _flag(command, exc.option) if exc.option else None
    if flag is not None:
        message += f" ({flag})"
    if exc.see is not None:
        message += f"; see {ACTION_COMMANDS[exc.see]}"
    return message


def database_failure(exc: BaseException, db: str | None = None) -> str | None:
    """The message for a database failure in the middle of a command, or ``None`` for other errors.

    Parameters
    ----------
    exc
        What the command raised.
    db
        The command's ``--db`` option, to name the database.
    """
    import psycopg
    import sqlalchemy as sa

    if not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | psycopg.OperationalError):
        return None
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    reason = lines[0] if lines else type(orig).__name__
    if isinstance(orig, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
        what = "gave up on a statement"
    else:
        what = "became unreachable"
    return (
        f"The database {store_label(db)} {what} while the command ran ({reason}). The transaction in "
        "progress was rolled back, so nothing of it was kept. Check that the database runs "
        "(`commgrid db status`) and run the command again."
    )


def store_label(db: str | None = None) -> str:
    """Which store a command uses, for messages: its URL without the password, or the embedded cluster's home."""
    from sqlalchemy.engine import make_url

    try:
        settings = settings_from(db)
        if settings.database_url:
            return f"at {make_url(settings.database_url).render_as_string(hide_password=True)}"
        return f"of the embedded cluster in {settings.home}"
    except Exception:  # a URL that does not parse: the command would have said so first
        return "in use"


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
    settings = Settings(**overrides)
    if settings.now is not None:
        from gis import clock

        clock.set_clock(settings.now, since=settings.now_since)
    return settings


DbOpt = Annotated[
    str | None, typer.Option("--db", help="URL of an existing PostGIS database instead of the embedded one.")
]
# for files whose times may lack an offset (GPS fixes, incident reports)
NaiveTimesZoneOpt = Annotated[
    str | None, typer.Option("--timezone", help="Zone of times written without an offset, e.g. Asia/Shanghai.")
]


@contextmanager
def store_connection(db: str | None = None, *, transaction: bool = True):
    """A connection to the store the settings (or ``--db``) name.

    In one transaction committed on success; with ``transaction=False``, a plain
    connection for commands that only read.
    """
    from api.database import open_store
    from gis.store import begin, connect

    engine = open_store(settings_from(db))
    try:
        with (begin if transaction else connect)(engine) as conn:
            yield conn
    finally:
        engine.dispose()
