"""What the public sees of a grid: posters, contact cards, the posted contact and the public page.

Every route here is public and reads only grids of a published plan. A worker reaches
these routes only through their *posted* fields (name, work phone, photo, duties), and
only while they are the grid's active worker; a grid without one names whom to call
instead. Rendering a poster costs about a second of CPU, so rendered sheets are kept
(a few dozen, in memory) under the data versions they were drawn from: a change to
plans, communities, units or workers draws them anew. At most ``max_renders`` sheets are
drawn at once (503 with Retry-After beyond), and PNGs are cut from the kept PDF.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Connection

from api.dependencies import Conn
from api.routes.common import ERROR_RESPONSES, NOT_MODIFIED, answering
from api.routes.map import maplibre_page, static_text
from gis import clock
from gis.errors import BusyError, NotFoundError
from gis.search import MAX_QUERY_CHARS, search_public
from gis.store import connect, lookup
from tiles.paper.cards import render_cards
from tiles.paper.community_sheet import read_community_sheet, render_community_sheet
from tiles.paper.poster import NO_WORKER, Poster, grid_page_url, read_poster, render_poster
from tiles.paper.printing import pdf_to_png

__all__ = ["CONTACT_FIELDS", "WORKER_FIELDS", "RenderCache", "Renders", "contact_fields", "public_html"]

router = APIRouter(tags=["public"])

# The whole public contact: a test holds the routes to exactly these keys.
CONTACT_FIELDS = (
    "code",
    "grid",
    "community",
    "households",
    "population",
    "service_hours",
    "worker",
    "call_instead",
    "office_phone",
    "bbox",
    "links",
)
WORKER_FIELDS = ("name", "work_phone", "duties", "photo")
_VERSIONED = ("plans", "communities", "units", "workers")  # what a sheet is drawn from

Paper = Annotated[Literal["A3", "A4"], Query(description="paper size, portrait")]
Dpi = Annotated[int, Query(ge=36, le=300, description="dots per inch of the image")]


class RenderCache:
    """The last few rendered sheets, by what they were drawn from, bounded in count and bytes."""

    def __init__(self, size: int = 32, max_bytes: int = 128 << 20) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple) -> bytes | None:
        body = self._items.get(key)
        if body is not None:
            self._items.move_to_end(key)
        return body

    def put(self, key: tuple, body: bytes) -> None:
        old = self._items.pop(key, None)
        self._bytes -= len(old) if old is not None else 0
        self._items[key] = body
        self._bytes += len(body)
        while len(self._items) > self.size or (self._bytes > self.max_bytes and len(self._items) > 1):
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped)


class Renders:
    """Rendered sheets: kept (:class:`RenderCache`), drawn once for all who ask at the same time,
    and at most ``limit`` different ones drawn at once; beyond that a request gets 503 with
    ``Retry-After`` (:class:`~gis.errors.BusyError`) instead of a thread and a few hundred MB.
    """

    def __init__(self, limit: int, cache: RenderCache | None = None) -> None:
        self.limit = limit
        self.cache = cache or RenderCache()
        self._drawing: dict[tuple, asyncio.Future[bytes]] = {}

    async def get(self, key: tuple, work: Callable[[], bytes]) -> bytes:
        body = self.cache.get(key)
        if body is not None:
            return body
        drawing = self._drawing.get(key)
        if drawing is not None:
            return await asyncio.shield(drawing)
        if len(self._drawing) >= self.limit:
            raise BusyError(f"{len(self._drawing)} sheets are being drawn, the most this service draws at once")
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._drawing[key] = future
        try:
            body = await run_in_threadpool(work)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # read: those waiting get it, and nobody waiting is no warning
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._drawing[key]
        self.cache.put(key, body)
        future.set_result(body)
        return body


def _renders(request: Request) -> Renders:
    state = request.app.state
    if getattr(state, "renders", None) is None:
        state.renders = Renders(state.settings.max_renders, RenderCache(max_bytes=state.settings.render_cache_mb << 20))
    return state.renders


def _base(request: Request) -> str:
    # printed and encoded links point at the site residents reach, not at whoever rendered them
    public_url = request.app.state.settings.public_url
    return public_url or str(request.base_url).rstrip("/")


def _page_url(request: Request, code: str) -> str:
    return grid_page_url(_base(request), code)


async def _sheet(
    request: Request,
    name: str,
    parts: tuple,
    draw: Callable[[Connection], bytes],
    *,
    dpi: int | None = None,
) -> Response:
    """A rendered sheet, as a PDF, or as a PNG at ``dpi``: from the cache when the data it shows has not changed,
    else drawn in a thread.

    The sheet is ``name`` of ``parts`` (a grid's code and paper, say); a PNG is cut from the
    PDF, which is kept too, so the other forms of a sheet are drawn from the kept one.
    """
    stem = "-".join((name, *map(str, parts)))
    key = (f"{name}.pdf", *parts)
    if dpi is None:
        media_type, filename, convert = "application/pdf", f"{stem}.pdf", None
    else:
        media_type, filename = "image/png", f"{stem}.png"
        convert = (("png", dpi), lambda pdf: pdf_to_png(pdf, dpi=dpi))
    app = request.app
    versions = await app.state.probe.current()
    # the printed date is on the sheet, and the public URL in its QR code
    full_key = (*key, _base(request), clock.today(), *(versions.get(layer, 0) for layer in _VERSIONED))
    shown_key = full_key if convert is None else (*full_key, *convert[0])
    etag = '"' + hashlib.sha256(repr(shown_key).encode()).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": "no-cache",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    renders = _renders(request)
    body = renders.cache.get(shown_key)
    if body is None:

        def work() -> bytes:
            with connect(app.state.engine) as conn:
                return draw(conn)

        body = await renders.get(full_key, work)
        if convert is not None:
            sheet = body
            body = await renders.get(shown_key, lambda: convert[1](sheet))
    return Response(body, media_type=media_type, headers=headers)


def _poster(conn: Connection, request: Request, code: str, *, with_map: bool = True) -> Poster:
    return read_poster(conn, code, public_url=_page_url(request, code), with_map=with_map)


async def grid_poster_pdf(request: Request, code: str, paper: Paper = "A3") -> Response:
    return await _sheet(
        request, "poster", (code, paper), lambda conn: render_poster(_poster(conn, request, code), paper=paper)
    )


async def grid_poster_png(request: Request, code: str, paper: Paper = "A3", dpi: Dpi = 100) -> Response:
    return await _sheet(
        request, "poster", (code, paper), lambda conn: render_poster(_poster(conn, request, code), paper=paper), dpi=dpi
    )


SheetPaper = Annotated[Literal["A1", "A2", "A3"], Query(description="paper size, portrait")]


def _community_sheet(conn: Connection, request: Request, community: str, paper: str) -> bytes:
    sheet = read_community_sheet(conn, community, base_url=_base(request))
    return render_community_sheet(sheet, paper=paper)


async def community_poster_pdf(request: Request, community: str, paper: SheetPaper = "A2") -> Response:
    return await _sheet(
        request, "community", (community, paper), lambda conn: _community_sheet(conn, request, community, paper)
    )


async def community_poster_png(
    request: Request, community: str, paper: SheetPaper = "A2", dpi: Annotated[int, Query(ge=20, le=150)] = 50
) -> Response:
    return await _sheet(
        request,
        "community",
        (community, paper),
        lambda conn: _community_sheet(conn, request, community, paper),
        dpi=dpi,
    )


async def grid_cards_pdf(request: Request, code: str) -> Response:
    return await _sheet(
        request, "cards", (code,), lambda conn: render_cards([_poster(conn, request, code, with_map=False)])
    )


_PDF = answering("application/pdf", others=NOT_MODIFIED)
_PNG = answering("image/png", others=NOT_MODIFIED)
# The printed sheets differ only by what they draw: registered from one table, in the order OpenAPI lists them.
_SHEETS = (
    ("/grids/{code}/poster.pdf", grid_poster_pdf, _PDF, "Printable poster of a grid of the published plan (PDF)"),
    ("/grids/{code}/poster.png", grid_poster_png, _PNG, "Poster of a grid of the published plan as an image (PNG)"),
    (
        "/communities/{community}/poster.pdf",
        community_poster_pdf,
        _PDF,
        "The community grid map: every grid of a community of the published plan and its worker (PDF)",
    ),
    ("/communities/{community}/poster.png", community_poster_png, _PNG, "The community grid map as an image (PNG)"),
    (
        "/grids/{code}/cards.pdf",
        grid_cards_pdf,
        _PDF,
        "A4 sheet of service contact cards of a grid of the published plan (PDF)",
    ),
)
for path, endpoint, answer, summary in _SHEETS:
    router.add_api_route(path, endpoint, operation_id=endpoint.__name__, summary=summary, **answer)


@router.get(
    "/grids/{code}/worker-photo",
    operation_id="grid_worker_photo",
    summary="The posted photo of the grid's active worker (JPEG)",
    **answering(
        "image/jpeg",
        others={404: {**ERROR_RESPONSES[404], "description": "no such grid, no worker, or no photo"}, **NOT_MODIFIED},
    ),
)
def grid_worker_photo(request: Request, conn: Conn, code: str) -> Response:
    contact = _poster(conn, request, code, with_map=False).contact
    if contact is None or contact.photo is None:
        raise NotFoundError(f"grid {code!r} has no posted worker photo")
    etag = '"' + hashlib.sha256(contact.photo).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(contact.photo, media_type="image/jpeg", headers=headers)


def contact_fields(poster: Poster, photo: str | None) -> dict:
    """A grid's public contact without the service's links (what the static export holds too)."""
    c = poster.contact
    worker = None
    if c is not None:
        worker = {"name": c.name, "work_phone": c.work_phone, "duties": c.duties, "photo": photo}
    phone = f" {poster.office_phone}" if poster.office_phone else ""
    return {
        "code": poster.code,
        "grid": poster.grid_name,
        "community": poster.community_name,
        "households": poster.households,
        "population": poster.population,
        "service_hours": poster.service_hours,
        "worker": worker,
        "call_instead": None if c is not None else f"{NO_WORKER}（{poster.community_name}{phone}）",
        "office_phone": poster.office_phone,
        "bbox": list(poster.bounds) if poster.bounds else None,
    }


def _contact(request: Request, poster: Poster) -> dict:
    base = _base(request)
    code = quote(poster.code, safe="")
    photo = f"{base}/grids/{code}/worker-photo" if poster.contact is not None and poster.contact.photo else None
    return {
        **contact_fields(poster, photo),
        "links": {
            "page": _page_url(request, poster.code),
            "poster_pdf": f"{base}/grids/{code}/poster.pdf",
            "poster_png": f"{base}/grids/{code}/poster.png",
            "cards_pdf": f"{base}/grids/{code}/cards.pdf",
        },
    }


@router.get(
    "/public/contacts/{code}",
    operation_id="public_contact",
    summary="The posted contact of a grid of the published plan",
)
def public_contact(request: Request, conn: Conn, code: str) -> dict:
    return _contact(request, _poster(conn, request, code, with_map=False))


@router.get(
    "/public/locate",
    operation_id="public_locate",
    summary="The posted contact of the published grid at a point",
)
def public_locate(
    request: Request,
    conn: Conn,
    lon: Annotated[float, Query(ge=-180, le=180, description="longitude (EPSG:4326)")],
    lat: Annotated[float, Query(ge=-90, le=90, description="latitude (EPSG:4326)")],
) -> dict:
    try:
        code = lookup.grid_code_at(conn, lon, lat)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc.message}; the grids are on the map at /public") from None
    return public_contact(request, conn, code)  # the grid's contact, as /public/contacts/{code} answers it


@router.get(
    "/public/search",
    operation_id="public_search",
    summary="Grids (by part of their code), communities and streets (by name) of the published plans",
)
def public_search(
    conn: Conn,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="what the resident typed")],
    limit: Annotated[int, Query(ge=1, le=50, description="most results of each kind")] = 10,
    district: Annotated[str | None, Query(max_length=200, description="only this district")] = None,
) -> dict:
    hits = search_public(conn, q, limit=limit, district=district)
    return {"results": [h.as_dict() for h in hits]}  # the query is not echoed: it may name a person


def public_html(page: str, assets: str) -> str:
    """One of the two public maps (``public.html`` here, ``public_site.html`` exported) behind the head they share.

    The head holds their one stylesheet and the contact card both draw; ``assets`` is where
    MapLibre's stylesheet is fetched from (this server's vendor folder, or the export's).
    """
    return static_text("public_head.html").replace("{assets}", assets) + static_text(page)


def _page() -> HTMLResponse:
    return maplibre_page(public_html("public.html", "/static/vendor/maplibre-gl/"))


@router.get("/public", operation_id="public_page", response_class=HTMLResponse, summary="Public grid map")
def public_page() -> HTMLResponse:
    return _page()


@router.get(
    "/public/grids/{code}",
    operation_id="public_grid_page",
    response_class=HTMLResponse,
    summary="Public page of one grid (the map, opened on it)",
)
def public_grid_page(code: str) -> HTMLResponse:
    return _page()
