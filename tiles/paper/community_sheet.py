"""The community grid map (社区网格分布图): one sheet with every grid of a community and who serves it.

Posted in a prominent place in the community, it shows the community's grids on one map,
and for each grid its code, its worker's photo, name, work phone and duties (or the
community office for a grid without a worker), the office phone and service hours, and a
QR code to the public page. :func:`read_community_sheet` gathers it (plain data, the
worker's *posted* fields only); :func:`render_community_sheet` lays it out on one page of
A1, A2 (the default) or A3, portrait.

Examples
--------
>>> with connect(engine) as conn:  # doctest: +SKIP
...     sheet = read_community_sheet(conn, "C01", base_url="https://grid.example.org")
>>> Path("community.pdf").write_bytes(render_community_sheet(sheet, paper="A2"))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote, unquote

import shapely
from sqlalchemy import select
from sqlalchemy.engine import Connection

from gis import clock
from gis.errors import InputError
from gis.store import lookup
from gis.store.models import Community, District, Grid
from tiles.paper.mapsvg import ACCENT, GridMap, grid_map_svg
from tiles.paper.poster import (
    _PERSON,
    AS_STORED,
    DEFAULT_SERVICE_HOURS,
    NO_WORKER,
    Poster,
    PrintRequest,
    _pt,
    _wkb,
    community_grid_codes,
    read_area_map,
    read_posters,
)
from tiles.paper.printing import FONT_FAMILY, data_uri, escape, fit_text, html_to_pdf, pdf_to_png, qr_svg

__all__ = [
    "SHEET_PAPERS",
    "CommunitySheet",
    "community_page_url",
    "community_sheet_html",
    "read_community_sheet",
    "render_community_sheet",
    "render_community_sheet_png",
]

# portrait width, height in mm; the layout is drawn for A2 and scaled
SHEET_PAPERS = {"A1": (594.0, 841.0), "A2": (420.0, 594.0), "A3": (297.0, 420.0)}
_MAP_BOX = (392.0, 262.0)  # the map's box on A2, mm


@dataclass(frozen=True)
class CommunitySheet:
    """Everything the community grid map shows.

    Attributes
    ----------
    community_id, community_name
        The community.
    office_phone, service_hours
        The community office (from the stored settings, or as given).
    public_url
        The public page opened on the community, for the QR code.
    plan
        The plan the grids belong to.
    grids
        One :class:`~tiles.paper.poster.Poster` (without a map) per grid, by code.
    map
        The community's grids on one map.
    """

    community_id: str
    community_name: str
    office_phone: str | None
    service_hours: str
    public_url: str
    plan: str
    grids: list[Poster]
    map: GridMap


def community_page_url(base_url: str, community_name: str) -> str:
    """The public page searching for the community (what the sheet's QR code opens)."""
    return f"{base_url.rstrip('/')}/public?q={quote(community_name, safe='')}"


def read_community_sheet(
    conn: Connection,
    community: str,
    *,
    base_url: str,
    printing: PrintRequest = AS_STORED,
) -> CommunitySheet:
    """Read what the community grid map of ``community`` (id or admin code) shows.

    Parameters
    ----------
    base_url
        The public site's address; grid pages are ``<base_url>/public/grids/<code>``.
    printing
        The plan, and contact lines printed instead of the community's stored ones.

    Raises
    ------
    NotFoundError
        When the plan has no grids of that community, or no plan is published.
    """
    codes = community_grid_codes(conn, community, plan=printing.plan)
    grids = read_posters(conn, codes, base_url=base_url, printing=printing, with_map=False)
    plan_row = lookup.plan(conn, printing.plan, None)
    rows = conn.execute(
        select(Grid.id, Grid.geom, Community.community_id, Community.name, District.working_crs)
        .join(Community, Community.id == Grid.community_id)
        .join(District, District.id == Community.district_id)
        .where(Grid.plan_id == plan_row.id, Grid.code.in_(codes))
    ).all()
    area = shapely.union_all(_wkb([r.geom for r in rows]))
    first = grids[0]
    name = first.community_name or rows[0].name
    grid_map = read_area_map(
        conn,
        plan_id=plan_row.id,
        district_id=plan_row.district_id,
        working_crs=rows[0].working_crs,
        area=area,
        label=name,
        grid_ids=[r.id for r in rows],
        aspect=_MAP_BOX[0] / _MAP_BOX[1],
        outline_own=True,
    )
    # the grids' codes stand on the map; the community's name heads the sheet instead
    grid_map = GridMap(**{**grid_map.__dict__, "code": ""})
    return CommunitySheet(
        community_id=rows[0].community_id,
        community_name=name,
        office_phone=first.office_phone,
        service_hours=first.service_hours or DEFAULT_SERVICE_HOURS,
        public_url=community_page_url(base_url, name),
        plan=first.plan,
        grids=grids,
        map=grid_map,
    )


def _grid_card(poster: Poster, office_phone: str | None, w: float, h: float, s: float) -> str:
    """One grid's cell in the sheet's table: code, photo, name, phone, duties."""
    c = poster.contact
    photo_h = min(h - 8 * s, 46 * s)
    photo_w = photo_h * 0.75
    text_w = w - photo_w - 10 * s
    code_pt = fit_text(poster.code, width_mm=text_w, height_mm=7 * s, max_pt=17 * s, min_pt=8 * s, line=1.15)
    if c is None:
        photo = data_uri(_PERSON.encode(), "image/svg+xml")
        name, phone = NO_WORKER, office_phone or ""
        phone_label = "社区电话 office phone"
        duties = "社区居委会负责本网格的日常服务。 The community office serves this grid."
        name_pt = fit_text(name, width_mm=text_w, height_mm=10 * s, max_pt=12 * s, min_pt=6 * s, line=1.2)
    else:
        photo = data_uri(c.photo, "image/jpeg") if c.photo else data_uri(_PERSON.encode(), "image/svg+xml")
        name, phone = c.name, c.work_phone or ""
        phone_label = "工作电话 work phone"
        duties = c.duties or "网格员负责本网格的信息采集、矛盾纠纷排查、安全隐患巡查、政策宣传和便民服务。"
        name_pt = fit_text(name, width_mm=text_w, height_mm=10 * s, max_pt=20 * s, min_pt=8 * s, line=1.2)
    phone_pt = fit_text(phone or "—", width_mm=text_w, height_mm=8 * s, max_pt=17 * s, min_pt=8 * s, line=1.15)
    duties_h = max(h - 44 * s, 6 * s)
    duties_pt = fit_text(duties, width_mm=text_w, height_mm=duties_h, max_pt=11 * s, min_pt=5 * s, line=1.35)
    return (
        f'<div class="cell" style="width:{w:.2f}mm;height:{h:.2f}mm">'
        f'<img class="photo" src="{photo}" alt="" style="width:{photo_w:.2f}mm;height:{photo_h:.2f}mm">'
        f'<div class="who" style="left:{photo_w + 7 * s:.2f}mm">'
        f'<div class="code" style="font-size:{_pt(code_pt)}">{escape(poster.code)}'
        f' <span class="gname">{escape(poster.grid_name)}</span></div>'
        f'<div class="name" style="font-size:{_pt(name_pt)}">{escape(name)}</div>'
        f'<div class="label">{phone_label}</div>'
        f'<div class="phone" style="font-size:{_pt(phone_pt)}">{escape(phone)}</div>'
        f'<div class="duty" style="font-size:{_pt(duties_pt)};max-height:{duties_h:.2f}mm">'
        f"<b>职责 duties</b> {escape(duties)}</div>"
        f"</div></div>"
    )


def community_sheet_html(sheet: CommunitySheet, *, paper: str = "A2") -> str:
    """The community grid map as an HTML document WeasyPrint lays out on one page.

    Raises
    ------
    InputError
        For a paper size other than A1, A2 or A3.
    """
    if paper not in SHEET_PAPERS:
        raise InputError(f"paper must be one of {', '.join(SHEET_PAPERS)}, got {paper!r}", field="paper")
    width, height = SHEET_PAPERS[paper]
    s = width / SHEET_PAPERS["A2"][0]
    margin = 14 * s
    map_w, map_h = _MAP_BOX[0] * s, _MAP_BOX[1] * s
    map_top = 62 * s
    footer_h = 40 * s
    table_top = map_top + map_h + 8 * s
    table_h = height - table_top - footer_h - 10 * s
    n = len(sheet.grids)
    cols = 2 if n <= 4 else 3 if n <= 12 else 4
    rows = max(1, math.ceil(n / cols))
    gap = 3 * s
    # a little under the exact width: rounded millimetres must not push the last cell to the next row
    cell_w = (width - 2 * margin - (cols - 1) * gap) / cols - 0.2 * s
    cell_h = (table_h - rows * gap) / rows
    cells = "".join(_grid_card(g, sheet.office_phone, cell_w, min(cell_h, 80 * s), s) for g in sheet.grids)
    svg = grid_map_svg(sheet.map, width_mm=map_w, height_mm=map_h, scale=s * 1.3)
    title_pt = fit_text(
        sheet.community_name, width_mm=width - 2 * margin - 60 * s, height_mm=24 * s, max_pt=60 * s, min_pt=18 * s
    )
    office = escape(sheet.office_phone) if sheet.office_phone else "—"
    printed = clock.today().isoformat()
    return f"""<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8">
<title>{escape(sheet.community_name)} 社区网格分布图</title>
<style>
@page {{ size: {width}mm {height}mm; margin: 0; }}
* {{ box-sizing: border-box; }}
html, body {{ margin: 0; padding: 0; }}
body {{ font-family: "{FONT_FAMILY}", sans-serif; color: #222; width: {width}mm; height: {height}mm;
       position: relative; overflow: hidden; }}
.abs {{ position: absolute; overflow: hidden; }}
.header {{ left: 0; top: 0; width: {width}mm; height: {54 * s:.2f}mm; background: {ACCENT}; color: #fff;
          padding: {8 * s:.2f}mm {margin:.2f}mm; }}
.header h1 {{ margin: 0; font-size: {_pt(title_pt)}; line-height: 1.15; }}
.header .sub {{ font-size: {_pt(20 * s)}; opacity: .95; margin-top: {2 * s:.2f}mm; }}
.header img.qr {{ position: absolute; right: {margin:.2f}mm; top: {6 * s:.2f}mm; width: {42 * s:.2f}mm;
                 height: {42 * s:.2f}mm; background: #fff; padding: {1.5 * s:.2f}mm; border-radius: {1.5 * s:.2f}mm; }}
img.map {{ display: block; width: {map_w:.2f}mm; height: {map_h:.2f}mm; }}
.table {{ font-size: 0; }}
.cell {{ display: inline-block; position: relative; vertical-align: top; margin: 0 {gap:.2f}mm {gap:.2f}mm 0;
        border: {0.5 * s:.2f}mm solid #d8d2c6; border-radius: {2 * s:.2f}mm; background: #fbfaf7; overflow: hidden; }}
.cell:nth-child({cols}n) {{ margin-right: 0; }}
.cell img.photo {{ position: absolute; left: {3 * s:.2f}mm; top: {3 * s:.2f}mm; object-fit: cover;
                  border-radius: {1 * s:.2f}mm; }}
.who {{ position: absolute; top: {3 * s:.2f}mm; right: {3 * s:.2f}mm; bottom: {3 * s:.2f}mm; overflow: hidden;
       overflow-wrap: anywhere; }}
.code {{ font-weight: bold; color: {ACCENT}; line-height: 1.15; }}
.gname {{ font-weight: normal; color: #555; font-size: {_pt(9 * s)}; }}
.name {{ font-weight: bold; line-height: 1.2; margin-top: {1 * s:.2f}mm; }}
.label {{ font-size: {_pt(8 * s)}; color: #6b6b6b; margin-top: {1 * s:.2f}mm; }}
.phone {{ font-weight: bold; color: {ACCENT}; line-height: 1.15; }}
.duty {{ color: #333; line-height: 1.35; margin-top: {1.5 * s:.2f}mm; overflow: hidden; }}
.footer {{ left: {margin:.2f}mm; right: {margin:.2f}mm; bottom: {6 * s:.2f}mm; height: {footer_h:.2f}mm;
          border-top: {0.8 * s:.2f}mm solid {ACCENT}; padding-top: {3 * s:.2f}mm; font-size: {_pt(13 * s)}; }}
.footer .big {{ font-size: {_pt(22 * s)}; font-weight: bold; color: {ACCENT}; }}
.footer .col {{ position: absolute; top: {3 * s:.2f}mm; }}
.footer .small {{ font-size: {_pt(9 * s)}; color: #777; }}
</style></head>
<body>
<div class="abs header">
  <h1>{escape(sheet.community_name)}</h1>
  <div class="sub">社区网格分布图 · Community grid map · {n} 个网格 grids</div>
  <img class="qr" src="{qr_svg(sheet.public_url)}" alt="QR code">
</div>
<div class="abs" style="left:{margin:.2f}mm;top:{map_top:.2f}mm;width:{map_w:.2f}mm;height:{map_h:.2f}mm">
  <img class="map" src="{data_uri(svg.encode(), "image/svg+xml")}" alt="map of the community's grids"></div>
<div class="abs table" style="left:{margin:.2f}mm;top:{table_top:.2f}mm;width:{width - 2 * margin:.2f}mm;
     height:{table_h:.2f}mm">{cells}</div>
<div class="abs footer">
  <div class="col" style="left:0;width:40%"><div class="label">社区居委会电话 community office</div>
    <div class="big">{office}</div></div>
  <div class="col" style="left:40%;width:35%"><div class="label">服务时间 service hours</div>
    <div><b>{escape(sheet.service_hours)}</b></div>
    <div class="small">扫码查找您家所在网格 scan to find your home's grid:
      {escape(unquote(sheet.public_url))}</div></div>
  <div class="col" style="right:0;width:24%;text-align:right"><b>紧急求助 emergency</b>
    <div>报警 110 · 火警 119 · 急救 120</div>
    <div class="small">方案 plan {escape(sheet.plan)} · 印制 printed {printed}</div></div>
</div>
</body></html>"""


def render_community_sheet(sheet: CommunitySheet, *, paper: str = "A2") -> bytes:
    """The community grid map as a one-page PDF; see :func:`community_sheet_html`."""
    return html_to_pdf(community_sheet_html(sheet, paper=paper))


def render_community_sheet_png(sheet: CommunitySheet, *, paper: str = "A2", dpi: float = 50) -> bytes:
    """The community grid map as a PNG image at ``dpi``."""
    return pdf_to_png(render_community_sheet(sheet, paper=paper), dpi=dpi)
