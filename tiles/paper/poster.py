"""The printed poster of a grid (网格公示牌): its map, its posted contact and how to reach it.

:func:`read_poster` gathers everything a poster shows from the store (a :class:`Poster`,
plain data); :func:`render_poster` lays it out as a one-page PDF (A3 portrait by default,
A4 on request) and :func:`render_poster_png` as an image. Only a worker's *posted* fields
(name, work phone, photo, duties) are read; a grid without a worker tells readers to call
the community office instead.

The layout is fixed boxes on the page (:func:`poster_layout`), so the map is always
where the layout puts it; text that could be long (names, duties) gets the largest type
that fits its box and wraps inside it.

Examples
--------
>>> with connect(engine) as conn:  # doctest: +SKIP
...     poster = read_poster(conn, "440304001001001", public_url="https://grid.example.org/public/grids/440304001001001")
>>> Path("poster.pdf").write_bytes(render_poster(poster))  # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

import numpy as np
import shapely
from pyproj import Geod, Transformer
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from gis import clock
from gis.errors import AmbiguousError, InputError, NotFoundError
from gis.store import lookup
from gis.store.models import SRID, Barrier, Community, District, Grid, GridAssignment, GridPlan, PlanStatus, Unit
from gis.workers.store import PostedContact, posted_contact
from tiles.paper.mapsvg import ACCENT, GridMap, Street, grid_map_svg, view_box
from tiles.paper.printing import FONT_FAMILY, PAPERS, data_uri, escape, fit_text, html_to_pdf, pdf_to_png, qr_svg

__all__ = [
    "AS_STORED",
    "DEFAULT_SERVICE_HOURS",
    "Box",
    "Poster",
    "PosterLayout",
    "PrintRequest",
    "community_grid_codes",
    "grid_page_url",
    "grid_title",
    "poster_html",
    "poster_layout",
    "read_area_map",
    "read_poster",
    "read_posters",
    "render_poster",
    "render_poster_png",
]

DEFAULT_SERVICE_HOURS = "工作日 8:30–12:00, 14:00–17:30 · Mon–Fri"
NO_WORKER = "本网格暂未配备网格员，请联系社区居委会"
NO_WORKER_EN = "No grid worker is posted yet: please call the community office"
_A3_WIDTH = PAPERS["A3"][0]


@dataclass(frozen=True)
class Poster:
    """Everything one grid's poster or contact card shows.

    Attributes
    ----------
    code, grid_name
        The grid's code and display name (see :func:`grid_title`).
    community_name, community_id
        The community the grid belongs to.
    households, population
        The grid's totals.
    contact
        The active worker's posted fields, ``None`` when the grid has no worker.
    public_url
        The grid's public page, for the QR code.
    service_hours
        When the community office (and worker) can be reached.
    office_phone
        The community office's phone, shown when no worker is posted (optional).
    plan
        The plan the grid belongs to.
    map
        The map, ``None`` for sheets without one (contact cards).
    """

    code: str
    grid_name: str
    community_name: str
    community_id: str | None
    households: int
    population: int
    contact: PostedContact | None
    public_url: str
    service_hours: str = DEFAULT_SERVICE_HOURS
    office_phone: str | None = None
    plan: str = ""
    bounds: tuple[float, float, float, float] | None = None  # lon/lat of the grid
    map: GridMap | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Box:
    """A rectangle on the page, in mm from the top-left corner."""

    x: float
    y: float
    w: float
    h: float

    def css(self) -> str:
        return f"left:{self.x:.2f}mm;top:{self.y:.2f}mm;width:{self.w:.2f}mm;height:{self.h:.2f}mm"


@dataclass(frozen=True)
class PosterLayout:
    """Where each part of the poster sits; A4 is the A3 layout scaled by ``scale``."""

    paper: str
    width: float
    height: float
    scale: float
    header: Box
    map: Box
    worker: Box
    duties: Box
    facts: Box
    footer: Box


def poster_layout(paper: str = "A3") -> PosterLayout:
    """The poster's boxes for ``paper`` (``"A3"`` or ``"A4"``, portrait).

    Raises
    ------
    InputError
        For another paper size.
    """
    if paper not in PAPERS:
        raise InputError(f"paper must be one of {', '.join(PAPERS)}, got {paper!r}", field="paper")
    width, height = PAPERS[paper]
    s = width / _A3_WIDTH

    def box(x: float, y: float, w: float, h: float) -> Box:
        return Box(x * s, y * s, w * s, h * s)

    return PosterLayout(
        paper=paper,
        width=width,
        height=height,
        scale=s,
        header=box(0, 0, 297, 54),
        map=box(14, 62, 269, 196),
        worker=box(14, 266, 140, 78),
        duties=box(160, 266, 123, 78),
        facts=box(14, 350, 269, 30),
        footer=box(14, 386, 269, 28),
    )


def grid_title(code: str, name: str | None) -> str:
    """A grid's display name: its own, else "第 n 网格" from the sequence that ends its code.

    Examples
    --------
    >>> grid_title("440304001001007", None), grid_title("SQ01-012", None), grid_title("X", "桂园一网格")
    ('第7网格', '第12网格', '桂园一网格')
    """
    if name:
        return name
    found = re.search(r"(\d{3})$", code)
    return f"第{int(found.group(1))}网格" if found else f"网格 {code}"


# -- reading ------------------------------------------------------------------------------------


def _grid_row(conn: Connection, code: str, plan: str | None):
    query = (
        select(
            Grid.id,
            Grid.code,
            Grid.name,
            Grid.households,
            Grid.population,
            Grid.geom,
            Grid.plan_id,
            GridPlan.name.label("plan"),
            GridPlan.district_id,
            District.working_crs,
            Community.name.label("community_name"),
            Community.community_id,
            Community.office_phone,
            Community.service_hours,
        )
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .join(District, District.id == GridPlan.district_id)
        .outerjoin(Community, Community.id == Grid.community_id)
        .where(Grid.code == code)
    )
    if plan is None:
        rows = conn.execute(query.where(GridPlan.status == PlanStatus.PUBLISHED)).all()
        if len(rows) > 1:
            raise AmbiguousError(
                f"grid {code!r} is in the published plans of {len(rows)} districts; name one", field="plan"
            )
    else:
        rows = conn.execute(query.where(GridPlan.id == lookup.plan(conn, plan, None).id)).all()
    if not rows:
        where = "the published plan" if plan is None else f"plan {plan!r}"
        raise NotFoundError(f"{where} has no grid {code!r}; grid codes are listed at /collections/grids/items")
    return rows[0]


def grid_page_url(base_url: str, code: str) -> str:
    """The public page of grid ``code`` under the site at ``base_url``: what a poster's QR code opens."""
    return f"{base_url.rstrip('/')}/public/grids/{quote(code, safe='')}"


@dataclass(frozen=True)
class PrintRequest:
    """What a print asks for besides its grids: the plan, and contact lines given for this print.

    Attributes
    ----------
    plan
        A plan's name; ``None`` for the published plan.
    service_hours, office_phone
        Printed instead of the community's stored settings (see :mod:`gis.communities`);
        ``None``: the stored ones, else :data:`DEFAULT_SERVICE_HOURS` and no office phone.
    """

    plan: str | None = None
    service_hours: str | None = None
    office_phone: str | None = None

    def contact_lines(self, stored_hours: str | None, stored_phone: str | None) -> tuple[str, str | None]:
        """The service hours and office phone printed, given the community's stored ones."""
        return self.service_hours or stored_hours or DEFAULT_SERVICE_HOURS, self.office_phone or stored_phone


AS_STORED = PrintRequest()  # the published plan, the community's own contact lines


def read_posters(
    conn: Connection,
    codes: list[str],
    *,
    base_url: str,
    printing: PrintRequest = AS_STORED,
    with_map: bool = True,
) -> list[Poster]:
    """:func:`read_poster` for each of ``codes``, each pointing to its page under ``base_url``."""
    return [
        read_poster(conn, code, public_url=grid_page_url(base_url, code), printing=printing, with_map=with_map)
        for code in codes
    ]


def read_poster(
    conn: Connection, code: str, *, public_url: str, printing: PrintRequest = AS_STORED, with_map: bool = True
) -> Poster:
    """Read what the poster of grid ``code`` shows.

    Parameters
    ----------
    code
        The grid's code.
    public_url
        The grid's public page (for the QR code).
    printing
        The plan and the contact lines to print; by default the published plan's grid with
        its community's stored contact lines.
    with_map
        Also read the map's geometries (contact cards need none).

    Raises
    ------
    NotFoundError
        When the plan has no such grid, or no plan is published.
    """
    row = _grid_row(conn, code, printing.plan)
    contact = posted_contact(conn, district_id=row.district_id, grid_code=row.code)
    grid_map = _read_map(conn, row) if with_map else None
    bounds = tuple(float(v) for v in shapely.bounds(_wkb([row.geom])[0]))
    service_hours, office_phone = printing.contact_lines(row.service_hours, row.office_phone)
    return Poster(
        code=row.code,
        grid_name=grid_title(row.code, row.name),
        community_name=row.community_name or row.community_id or "",
        community_id=row.community_id,
        households=int(row.households),
        population=int(row.population),
        contact=contact,
        public_url=public_url,
        service_hours=service_hours,
        office_phone=office_phone,
        plan=row.plan,
        bounds=bounds,  # type: ignore[arg-type]
        map=grid_map,
    )


def community_grid_codes(conn: Connection, community: str, *, plan: str | None = None) -> list[str]:
    """The codes of a community's grids in a plan (the published one by default), in order.

    Parameters
    ----------
    community
        The community's id (as in the source data) or its 12-digit admin code.

    Raises
    ------
    NotFoundError
        When the plan has no grids of that community.
    """
    plans = lookup.plans(conn, plan=plan, private=True)  # every published plan of the city by default
    codes = (
        conn.execute(
            select(Grid.code)
            .join(Community, Community.id == Grid.community_id)
            .where(
                Grid.plan_id.in_([p.id for p in plans]),
                (Community.community_id == community) | (Community.admin_code == community),
            )
            .order_by(Grid.code)
        )
        .scalars()
        .all()
    )
    if not codes:
        known = conn.execute(
            select(Community.community_id, Community.name)
            .where(Community.district_id.in_([p.district_id for p in plans]))
            .order_by(Community.community_id)
        ).all()
        shown = ", ".join(f"{c} ({n})" for c, n in known[:20]) or "none"
        names = ", ".join(repr(p.name) for p in plans)
        raise NotFoundError(f"plan {names} has no grids of community {community!r}; communities: {shown}")
    return list(codes)


def _wkb(values) -> np.ndarray:
    return shapely.from_wkb([bytes(v.data if hasattr(v, "data") else v) for v in values])


def _read_map(conn: Connection, row) -> GridMap:
    layout = poster_layout("A3")
    return read_area_map(
        conn,
        plan_id=row.plan_id,
        district_id=row.district_id,
        working_crs=row.working_crs,
        area=_wkb([row.geom])[0],
        label=row.code,
        grid_ids=[row.id],
        aspect=layout.map.w / layout.map.h,
    )


def read_area_map(
    conn: Connection,
    *,
    plan_id: int,
    district_id: int,
    working_crs: str,
    area: shapely.Geometry,
    label: str,
    grid_ids: list[int],
    aspect: float,
    outline_own: bool = False,
) -> GridMap:
    """The map of ``area`` (lon/lat): one grid, or a community's grids (``outline_own``: outlined and labelled).

    Units of the grids ``grid_ids`` are drawn as inside; the plan's other grids in view
    are outlined with their codes, as are the grids of ``grid_ids`` when ``outline_own``.
    """
    to_metric = Transformer.from_crs(SRID, working_crs, always_xy=True)
    to_lonlat = Transformer.from_crs(working_crs, SRID, always_xy=True)
    grid = shapely.transform(area, to_metric.transform, interleaved=False)
    view = view_box(grid, aspect=aspect)
    # the view back in lon/lat, densified so its curved edges are covered
    window = shapely.transform(
        shapely.segmentize(shapely.box(*view), (view[2] - view[0]) / 20), to_lonlat.transform, interleaved=False
    )
    envelope = func.ST_GeomFromText(window.wkt, SRID)
    neighbours = conn.execute(
        select(Grid.code, Grid.geom)
        .where(
            Grid.plan_id == plan_id,
            Grid.id.not_in([] if outline_own else grid_ids),
            func.ST_Intersects(Grid.geom, envelope),
        )
        .order_by(Grid.code)
    ).all()
    units = conn.execute(
        select(Unit.geom, GridAssignment.grid_id.in_(grid_ids).label("inside"))
        .outerjoin(GridAssignment, (GridAssignment.unit_id == Unit.id) & (GridAssignment.plan_id == plan_id))
        .where(Unit.district_id == district_id, func.ST_Intersects(Unit.geom, envelope))
    ).all()
    streets = conn.execute(
        select(Barrier.barrier_class, Barrier.name, Barrier.geom).where(
            Barrier.district_id == district_id, func.ST_Intersects(Barrier.geom, envelope)
        )
    ).all()

    def metric(values) -> np.ndarray:
        if not values:
            return np.empty(0, dtype=object)
        return shapely.transform(_wkb(values), to_metric.transform, interleaved=False)

    # ground metres per CRS unit across the view's middle (a projected CRS is not always true to scale)
    (west, east), (south, north) = to_lonlat.transform([view[0], view[2]], [(view[1] + view[3]) / 2] * 2)
    ground = Geod(ellps="WGS84").inv(west, south, east, north)[2]
    neighbour_geoms = metric([n.geom for n in neighbours])
    street_geoms = metric([s.geom for s in streets])
    return GridMap(
        code=label,
        grid=grid,
        view=view,
        neighbours=[(n.code, g) for n, g in zip(neighbours, neighbour_geoms, strict=True)],
        units=metric([u.geom for u in units]),
        units_inside=np.array([bool(u.inside) for u in units], dtype=bool),
        streets=[
            Street(s.barrier_class, s.name, g) for s, g in zip(streets, street_geoms, strict=True) if not g.is_empty
        ],
        unit_metres=ground / (view[2] - view[0]),
    )


# -- layout -------------------------------------------------------------------------------------

_PERSON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 30 40"><rect width="30" height="40" fill="#e7e3da"/>'
    '<circle cx="15" cy="15" r="7" fill="#b9b2a3"/><path d="M3 40c0-9 5.5-14 12-14s12 5 12 14z" fill="#b9b2a3"/></svg>'
)


def _pt(value: float) -> str:
    return f"{value:.1f}pt"


def poster_html(poster: Poster, *, paper: str = "A3") -> str:
    """The poster as an HTML document WeasyPrint lays out on one page.

    Raises
    ------
    InputError
        For an unknown paper size.
    """
    lay = poster_layout(paper)
    s = lay.scale
    title = f"{poster.grid_name}"
    community = poster.community_name or "社区"
    text_w = lay.header.w - 130 * s  # left of the code box
    title_pt = fit_text(title, width_mm=text_w, height_mm=28 * s, max_pt=54 * s, min_pt=16 * s, line=1.15)
    community_pt = fit_text(
        f"{community} · 网格服务公示 Community grid service",
        width_mm=text_w,
        height_mm=11 * s,
        max_pt=24 * s,
        min_pt=10 * s,
        line=1.25,
    )
    map_svg = ""
    if poster.map is not None:
        svg = grid_map_svg(poster.map, width_mm=lay.map.w, height_mm=lay.map.h, scale=s)
        map_svg = (
            f'<img class="map" src="{data_uri(svg.encode(), "image/svg+xml")}" alt="map of grid {escape(poster.code)}">'
        )
    worker = _worker_html(poster, lay)
    duties = _duties_html(poster, lay)
    qr = qr_svg(poster.public_url)
    printed = clock.today().isoformat()
    code_pt = fit_text(poster.code, width_mm=86 * s, height_mm=9 * s, max_pt=24 * s, min_pt=12 * s, line=1.0)
    return f"""<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8">
<title>{escape(community)} {escape(title)} {escape(poster.code)}</title>
<style>
@page {{ size: {lay.width}mm {lay.height}mm; margin: 0; }}
* {{ box-sizing: border-box; }}
html, body {{ margin: 0; padding: 0; }}
body {{ font-family: "{FONT_FAMILY}", sans-serif; color: #222; width: {lay.width}mm; height: {lay.height}mm;
       position: relative; overflow: hidden; }}
.abs {{ position: absolute; overflow: hidden; }}
.wrap {{ overflow-wrap: anywhere; word-break: normal; line-break: strict; }}
.header {{ background: {ACCENT}; color: #fff; padding: {6 * s:.2f}mm {14 * s:.2f}mm; }}
.header .community {{ font-size: {_pt(community_pt)}; line-height: 1.25; opacity: .95; width: {text_w:.2f}mm;
                     max-height: {11 * s:.2f}mm; overflow: hidden; }}
.header h1 {{ font-size: {_pt(title_pt)}; line-height: 1.15; margin: {1.5 * s:.2f}mm 0 0; font-weight: bold;
             width: {text_w:.2f}mm; height: {29 * s:.2f}mm; overflow: hidden; }}
.codebox {{ position: absolute; right: {14 * s:.2f}mm; top: {10 * s:.2f}mm; width: {94 * s:.2f}mm;
           background: #fff; color: {ACCENT}; border-radius: {2.5 * s:.2f}mm; padding: {2.5 * s:.2f}mm {4 * s:.2f}mm;
           text-align: center; }}
.codebox .k {{ font-size: {_pt(10 * s)}; color: #555; }}
.codebox .v {{ font-size: {_pt(code_pt)}; font-weight: bold; letter-spacing: .02em; line-height: 1.15; }}
img.map {{ display: block; width: {lay.map.w:.2f}mm; height: {lay.map.h:.2f}mm; }}
.panel {{ border: {0.5 * s:.2f}mm solid #d8d2c6; border-radius: {2.5 * s:.2f}mm; background: #fbfaf7; }}
.worker img.photo {{ position: absolute; left: {5 * s:.2f}mm; top: {5 * s:.2f}mm; width: {51 * s:.2f}mm;
                    height: {68 * s:.2f}mm; object-fit: cover; border-radius: {1.5 * s:.2f}mm; }}
.worker .who {{ position: absolute; left: {62 * s:.2f}mm; top: {5 * s:.2f}mm; right: {5 * s:.2f}mm;
               bottom: {5 * s:.2f}mm; overflow: hidden; }}
.label {{ font-size: {_pt(10.5 * s)}; color: #6b6b6b; letter-spacing: .03em; }}
.name {{ font-weight: bold; line-height: 1.2; margin: {0.5 * s:.2f}mm 0 {3 * s:.2f}mm; }}
.phone {{ font-weight: bold; color: {ACCENT}; line-height: 1.15; margin-top: {0.5 * s:.2f}mm; }}
.duties {{ padding: {5 * s:.2f}mm {6 * s:.2f}mm; }}
.duties h2 {{ font-size: {_pt(15 * s)}; margin: 0 0 {2 * s:.2f}mm; color: {ACCENT}; }}
.duties h2 span {{ font-size: {_pt(10.5 * s)}; color: #6b6b6b; font-weight: normal; margin-left: {2 * s:.2f}mm; }}
.duties p {{ margin: 0; }}
.facts .cell {{ position: absolute; top: {3.5 * s:.2f}mm; bottom: {3.5 * s:.2f}mm; padding: 0 {5 * s:.2f}mm;
               border-left: {0.4 * s:.2f}mm solid #d8d2c6; overflow: hidden; }}
.facts .cell.first {{ border-left: none; }}
.facts .big {{ font-size: {_pt(24 * s)}; font-weight: bold; line-height: 1.15; }}
.facts .hours {{ font-size: {_pt(13 * s)}; font-weight: bold; line-height: 1.3; margin-top: {1 * s:.2f}mm; }}
.footer img.qr {{ position: absolute; left: 0; top: 0; width: {28 * s:.2f}mm; height: {28 * s:.2f}mm; }}
.footer .scan {{ position: absolute; left: {33 * s:.2f}mm; top: {2 * s:.2f}mm; right: {90 * s:.2f}mm; }}
.footer .scan b {{ font-size: {_pt(15 * s)}; }}
.footer .url {{ font-size: {_pt(10 * s)}; color: #444; margin-top: {1 * s:.2f}mm; }}
.footer .sos {{ position: absolute; right: 0; top: {2 * s:.2f}mm; width: {84 * s:.2f}mm; text-align: right; }}
.footer .sos b {{ font-size: {_pt(13 * s)}; color: {ACCENT}; }}
.footer .sos div {{ font-size: {_pt(11 * s)}; margin-top: {1 * s:.2f}mm; }}
.footer .small {{ font-size: {_pt(8.5 * s)}; color: #888; margin-top: {2.5 * s:.2f}mm; }}
</style></head>
<body>
<div class="abs header" style="{lay.header.css()}">
  <div class="community wrap">{escape(community)} · 网格服务公示
    <span style="font-size:.7em;white-space:nowrap">Community grid service</span></div>
  <h1 class="wrap">{escape(title)}</h1>
  <div class="codebox"><div class="k">网格编码 grid code</div><div class="v wrap">{escape(poster.code)}</div></div>
</div>
<div class="abs" style="{lay.map.css()}">{map_svg}</div>
<div class="abs panel worker" style="{lay.worker.css()}">{worker}</div>
<div class="abs panel duties" style="{lay.duties.css()}">{duties}</div>
<div class="abs panel facts" style="{lay.facts.css()}">
  <div class="cell first" style="left:0;width:{0.22 * lay.facts.w:.2f}mm"><div class="label">户数 households</div>
    <div class="big">{poster.households:,}</div></div>
  <div class="cell" style="left:{0.22 * lay.facts.w:.2f}mm;width:{0.22 * lay.facts.w:.2f}mm">
    <div class="label">人口 residents</div>
    <div class="big">{poster.population:,}</div></div>
  <div class="cell" style="left:{0.44 * lay.facts.w:.2f}mm;right:0"><div class="label">服务时间 service hours</div>
    <div class="hours wrap">{escape(poster.service_hours)}</div></div>
</div>
<div class="abs footer" style="{lay.footer.css()}">
  <img class="qr" src="{qr}" alt="QR code">
  <div class="scan"><b>扫码查看本网格信息</b> <span class="label">scan for this grid's page</span>
    <div class="url wrap">{escape(poster.public_url)}</div>
    <div class="small">方案 plan {escape(poster.plan)} · 印制 printed {printed} · commgrid</div></div>
  <div class="sos"><b>紧急求助 emergency</b><div>报警 police 110 · 火警 fire 119</div>
    <div>急救 ambulance 120</div></div>
</div>
</body></html>"""


def _worker_html(poster: Poster, lay: PosterLayout) -> str:
    s = lay.scale
    contact = poster.contact
    width = lay.worker.w - 67 * s
    if contact is None:
        phone = poster.office_phone
        phone_html = (
            f'<div class="label">社区电话 office phone</div><div class="phone" style="font-size:{_pt(22 * s)}">'
            f"{escape(phone)}</div>"
            if phone
            else ""
        )
        return (
            f'<img class="photo" src="{data_uri(_PERSON.encode(), "image/svg+xml")}" alt="">'
            f'<div class="who"><div class="label">网格员 grid worker</div>'
            f'<div class="name wrap" style="font-size:{_pt(17 * s)}">{NO_WORKER}</div>'
            f'<div class="label wrap">{NO_WORKER_EN}</div><div style="height:{3 * s:.2f}mm"></div>{phone_html}</div>'
        )
    photo = data_uri(contact.photo, "image/jpeg") if contact.photo else data_uri(_PERSON.encode(), "image/svg+xml")
    name_pt = fit_text(contact.name, width_mm=width, height_mm=22 * s, max_pt=32 * s, min_pt=14 * s, line=1.2)
    phone = contact.work_phone or ""
    phone_pt = fit_text(phone, width_mm=width, height_mm=20 * s, max_pt=26 * s, min_pt=12 * s, line=1.15)
    return (
        f'<img class="photo" src="{photo}" alt="photo of the grid worker">'
        f'<div class="who"><div class="label">网格员 grid worker</div>'
        f'<div class="name wrap" style="font-size:{_pt(name_pt)}">{escape(contact.name)}</div>'
        f'<div class="label">工作电话 work phone</div>'
        f'<div class="phone wrap" style="font-size:{_pt(phone_pt)}">{escape(phone)}</div></div>'
    )


def _duties_html(poster: Poster, lay: PosterLayout) -> str:
    s = lay.scale
    contact = poster.contact
    text = (contact.duties if contact else None) or (
        "网格员负责本网格的信息采集、矛盾纠纷排查、安全隐患巡查、政策宣传和便民服务。"
        if contact
        else "社区居委会负责本网格的日常服务。如需帮助，请在服务时间内联系社区居委会。"
    )
    size = fit_text(
        text, width_mm=lay.duties.w - 12 * s, height_mm=lay.duties.h - 22 * s, max_pt=16 * s, min_pt=7 * s, line=1.5
    )
    return (
        f"<h2>工作职责<span>duties</span></h2>"
        f'<p class="wrap" style="font-size:{_pt(size)};line-height:1.5">{escape(text)}</p>'
    )


def render_poster(poster: Poster, *, paper: str = "A3") -> bytes:
    """The poster as a one-page PDF.

    Raises
    ------
    InputError
        For an unknown paper size.
    FontMissingError
        When Noto Sans CJK is not installed.
    """
    return html_to_pdf(poster_html(poster, paper=paper))


def render_poster_png(poster: Poster, *, paper: str = "A3", dpi: float = 100) -> bytes:
    """The poster as a PNG image at ``dpi``; see :func:`render_poster`."""
    return pdf_to_png(render_poster(poster, paper=paper), dpi=dpi)
