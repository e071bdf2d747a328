"""``commgrid poster``, ``posters`` and ``cards``: printable sheets of the published grids."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli._common import (
    DbOpt,
    console,
    err_console,
    handle_errors,
    option_groups,
    settings_from,
    store_connection,
)
from gis.errors import InputError

if TYPE_CHECKING:
    from tiles.paper.poster import PrintRequest

PlanOpt = Annotated[
    str | None, typer.Option("--plan", help="A stored plan's name (to preview a draft); default the published plan.")
]
PublicUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--public-url",
        help="Address of the public service, e.g. https://grid.example.org; the QR codes open "
        "<public-url>/public/grids/<code>. Default: COMMGRID_PUBLIC_URL, else the local service "
        "(phones cannot reach it).",
    ),
]
HoursOpt = Annotated[
    str | None,
    typer.Option("--service-hours", help="Service hours to print; default the community's stored ones."),
]
OfficeOpt = Annotated[
    str | None,
    typer.Option(
        "--office-phone",
        help="Community office phone, printed where a grid has no worker; default the community's stored one "
        "(`commgrid communities set`).",
    ),
]


@dataclass(frozen=True)
class SheetSource:
    """What every printed sheet is read with: where its QR codes point, texts printed instead of the stored ones, the plan."""

    public_url: PublicUrlOpt = None
    service_hours: HoursOpt = None
    office_phone: OfficeOpt = None
    plan: PlanOpt = None

    def printing(self) -> PrintRequest:
        """What the sheets are read with (``read_posters``, ``read_community_sheet``)."""
        from tiles.paper.poster import PrintRequest  # the paper stack loads only for the commands that print

        return PrintRequest(self.plan, self.service_hours, self.office_phone)


class Paper(StrEnum):
    A1 = "A1"
    A2 = "A2"
    A3 = "A3"
    A4 = "A4"


class Format(StrEnum):
    pdf = "pdf"
    png = "png"
    both = "both"


PaperOpt = Annotated[Paper, typer.Option("--paper", help="Paper size, portrait: A3 or A4 for a grid's poster.")]
SheetPaperOpt = Annotated[
    Paper | None,
    typer.Option(
        "--paper",
        help="Paper size, portrait: A3 (default) or A4 for a grid, A1, A2 (default) or A3 for a community's grid map.",
    ),
]
DpiOpt = Annotated[int, typer.Option("--dpi", min=36, max=600, help="Resolution of PNG output.")]


def _public_base(public_url: str | None, db: str | None) -> str:
    if public_url:
        return public_url.rstrip("/")
    settings = settings_from(db)
    if settings.public_url:
        return settings.public_url
    base = f"http://{settings.host}:{settings.port}"
    err_console.print(
        f"[yellow]note:[/] the QR codes point to {base}, which only this computer can open; "
        "set COMMGRID_PUBLIC_URL (or pass --public-url) to the service's public address for sheets you will print.",
        highlight=False,
    )
    return base


def _read(conn, codes: list[str], source: SheetSource, *, base: str, with_map: bool) -> list:
    from tiles.paper.poster import read_posters

    return read_posters(conn, codes, base_url=base, printing=source.printing(), with_map=with_map)


def _write_poster(poster, out: Path, *, paper: str, dpi: int) -> None:
    from tiles.paper.poster import render_poster
    from tiles.paper.printing import pdf_to_png

    pdf = render_poster(poster, paper=paper)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf_to_png(pdf, dpi=dpi) if out.suffix.lower() == ".png" else pdf)


@handle_errors
@option_groups
def poster(
    code: Annotated[str | None, typer.Argument(help="The grid's code; or use --community.")] = None,
    community: Annotated[
        str | None,
        typer.Option(
            "--community", help="Community id (or admin code): one grid map of all its grids and their workers."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="File to write: .pdf or .png.")] = Path("poster.pdf"),
    paper: SheetPaperOpt = None,
    dpi: DpiOpt = 150,
    source: SheetSource = SheetSource(),
    db: DbOpt = None,
) -> None:
    """Write the poster of one grid (map, worker, duties, counts, QR code), or a community's grid map, as PDF or PNG."""
    if out.suffix.lower() not in (".pdf", ".png"):
        raise InputError(f"--out must end in .pdf or .png, got {out.name!r}", field="out")
    if (code is None) == (community is None):
        raise InputError("name one grid code, or a --community", field="code")
    base = _public_base(source.public_url, db)
    if community is not None:
        _community_sheet(community, out, source, paper=(paper or Paper.A2).value, dpi=dpi, base=base, db=db)
        return
    size = (paper or Paper.A3).value
    if size not in ("A3", "A4"):
        raise InputError(f"a grid's poster is printed on A3 or A4, not {size}", field="paper")
    with store_connection(db, transaction=False) as conn:
        (sheet,) = _read(conn, [code], source, base=base, with_map=True)
    _write_poster(sheet, out, paper=size, dpi=dpi)
    console.print(f"wrote {out} (grid {sheet.code}, {size})")


def _community_sheet(community: str, out: Path, source: SheetSource, *, paper: str, dpi: int, base: str, db) -> None:
    from tiles.paper.community_sheet import read_community_sheet, render_community_sheet
    from tiles.paper.printing import pdf_to_png

    if paper == "A4":
        raise InputError("a community's grid map is printed on A1, A2 or A3, not A4", field="paper")
    with store_connection(db, transaction=False) as conn:
        sheet = read_community_sheet(conn, community, base_url=base, printing=source.printing())
    pdf = render_community_sheet(sheet, paper=paper)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf_to_png(pdf, dpi=dpi) if out.suffix.lower() == ".png" else pdf)
    console.print(f"wrote {out} (community {sheet.community_name}: {len(sheet.grids)} grids, {paper})")


@handle_errors
@option_groups
def posters(
    community: Annotated[str, typer.Option("--community", help="Community id (or 12-digit admin code).")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write <code>.pdf / <code>.png into.")],
    fmt: Annotated[Format, typer.Option("--format", help="pdf, png or both.")] = Format.pdf,
    paper: PaperOpt = Paper.A3,
    dpi: DpiOpt = 150,
    source: SheetSource = SheetSource(),
    db: DbOpt = None,
) -> None:
    """Write the posters of every grid of a community into a folder."""
    from tiles.paper.poster import community_grid_codes

    base = _public_base(source.public_url, db)
    with store_connection(db, transaction=False) as conn:
        codes = community_grid_codes(conn, community, plan=source.plan)
        sheets = _read(conn, codes, source, base=base, with_map=True)
    suffixes = [".pdf", ".png"] if fmt is Format.both else [f".{fmt.value}"]
    for sheet in sheets:
        for suffix in suffixes:
            _write_poster(sheet, out / f"{sheet.code}{suffix}", paper=paper.value, dpi=dpi)
    console.print(f"wrote {len(sheets)} posters of community {community} into {out}/")


@handle_errors
@option_groups
def cards(
    codes: Annotated[list[str] | None, typer.Argument(help="Grid codes; or use --community.")] = None,
    community: Annotated[str | None, typer.Option("--community", help="Every grid of this community.")] = None,
    out: Annotated[Path, typer.Option("--out", help="PDF to write.")] = Path("cards.pdf"),
    source: SheetSource = SheetSource(),
    db: DbOpt = None,
) -> None:
    """Write service contact cards: one A4 page of ten cut-out cards per grid."""
    from tiles.paper.cards import CARDS_PER_PAGE, render_cards
    from tiles.paper.poster import community_grid_codes

    if not codes and community is None:
        raise InputError("name grid codes or a --community", field="codes")
    base = _public_base(source.public_url, db)
    with store_connection(db, transaction=False) as conn:
        wanted = list(codes or []) + (community_grid_codes(conn, community, plan=source.plan) if community else [])
        sheets = _read(conn, wanted, source, base=base, with_map=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(render_cards(sheets))
    console.print(f"wrote {out}: {len(sheets)} pages of {CARDS_PER_PAGE} cards")
