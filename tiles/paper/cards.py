"""Service contact cards (网格服务联系卡): a sheet of cut-out cards to hand every household.

Each A4 page holds :data:`CARDS_PER_PAGE` copies of one grid's card (90 × 54 mm, the
Chinese business-card size) in two columns with dashed cutting lines; several grids give
one page each. A card shows the community, the grid, the worker's posted name, work
phone and duties (or whom to call instead), the service hours and a QR code to the grid's page.
It reads the same :class:`~tiles.paper.poster.Poster` data as the poster, without the map.
"""

from __future__ import annotations

from collections.abc import Sequence

from tiles.paper.mapsvg import ACCENT
from tiles.paper.poster import NO_WORKER, Poster
from tiles.paper.printing import FONT_FAMILY, PAPERS, escape, fit_text, html_to_pdf, qr_svg

__all__ = ["CARDS_PER_PAGE", "CARD_SIZE", "cards_html", "render_cards"]

CARD_SIZE = (90.0, 54.0)  # mm
_COLUMNS, _ROWS = 2, 5
CARDS_PER_PAGE = _COLUMNS * _ROWS


def _card(poster: Poster, qr: str) -> str:
    contact = poster.contact
    width = CARD_SIZE[0] - 8 - 24  # left of the QR code
    title = f"{poster.grid_name} · {poster.code}"
    title_pt = fit_text(title, width_mm=width, height_mm=9, max_pt=10, min_pt=6.5, line=1.2)
    if contact is not None:
        name_pt = fit_text(contact.name, width_mm=width, height_mm=7.5, max_pt=15, min_pt=8, line=1.15)
        phone = contact.work_phone or ""
        phone_pt = fit_text(phone, width_mm=width, height_mm=7.5, max_pt=14, min_pt=8, line=1.1)
        who = (
            f'<div class="k">网格员 grid worker</div><div class="name" style="font-size:{name_pt:.1f}pt">'
            f"{escape(contact.name)}</div>"
            f'<div class="k">工作电话 work phone</div><div class="phone" style="font-size:{phone_pt:.1f}pt">'
            f"{escape(phone)}</div>"
        )
        if contact.duties:
            # what the worker does for residents, as on the poster, in the space left above the hours
            duties_pt = fit_text(contact.duties, width_mm=width, height_mm=5.8, max_pt=6.5, min_pt=4.5, line=1.2)
            who += (
                f'<div class="duties" style="font-size:{duties_pt:.1f}pt"><b>职责 duties</b> '
                f"{escape(contact.duties)}</div>"
            )
    else:
        office = (
            f'<div class="k">社区电话 office phone</div><div class="phone">{escape(poster.office_phone)}</div>'
            if poster.office_phone
            else '<div class="k">please call the community office</div>'
        )
        who = f'<div class="name" style="font-size:9pt">{NO_WORKER}</div>{office}'
    community_pt = fit_text(
        poster.community_name, width_mm=CARD_SIZE[0] - 40, height_mm=4.5, max_pt=9, min_pt=6, line=1.1
    )
    return f"""<div class="card">
  <div class="band"><span class="c" style="font-size:{community_pt:.1f}pt">{escape(poster.community_name)}</span>
    <span class="t">网格服务联系卡</span></div>
  <div class="body">
    <div class="grid" style="font-size:{title_pt:.1f}pt">{escape(title)}</div>
    {who}
    <div class="hours"><b>紧急求助</b> 报警 110 · 火警 119 · 急救 120<br>服务时间 {escape(poster.service_hours)}</div>
  </div>
  <img class="qr" src="{qr}" alt="QR code">
  <div class="scan">扫码查看<br>scan me</div>
</div>"""


def cards_html(posters: Sequence[Poster]) -> str:
    """The sheets as an HTML document: one A4 page of identical cards per grid."""
    page_w, page_h = PAPERS["A4"]
    card_w, card_h = CARD_SIZE
    margin_x, margin_y = (page_w - _COLUMNS * card_w) / 2, (page_h - _ROWS * card_h) / 2
    pages = []
    for poster in posters:
        card = _card(poster, qr_svg(poster.public_url))
        pages.append(f'<section class="sheet">{card * CARDS_PER_PAGE}</section>')
    return f"""<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8"><title>网格服务联系卡 contact cards</title>
<style>
@page {{ size: A4 portrait; margin: {margin_y:.2f}mm {margin_x:.2f}mm; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; font-family: "{FONT_FAMILY}", sans-serif; color: #222; }}
.sheet {{ width: {_COLUMNS * card_w}mm; height: {_ROWS * card_h}mm; break-after: page; font-size: 0; }}
.sheet:last-child {{ break-after: auto; }}
.card {{ display: inline-block; position: relative; width: {card_w}mm; height: {card_h}mm; overflow: hidden;
        border: 0.25mm dashed #b5b5b5; vertical-align: top; font-size: 8pt; }}
.band {{ position: absolute; left: 0; top: 0; right: 0; height: 9mm; background: {ACCENT}; color: #fff;
        padding: 1.6mm 4mm 0; white-space: nowrap; overflow: hidden; }}
.band .c {{ font-weight: bold; }}
.band .t {{ position: absolute; right: 4mm; top: 2.2mm; font-size: 7.5pt; opacity: .95; }}
.body {{ position: absolute; left: 4mm; top: 10.5mm; width: {card_w - 8 - 24}mm; bottom: 2mm; overflow: hidden;
        overflow-wrap: anywhere; }}
.grid {{ font-weight: bold; line-height: 1.2; margin-bottom: 0.8mm; }}
.k {{ font-size: 6pt; color: #6b6b6b; line-height: 1.2; }}
.name {{ font-weight: bold; line-height: 1.15; margin-bottom: 0.6mm; }}
.phone {{ font-weight: bold; color: {ACCENT}; line-height: 1.1; font-size: 14pt; }}
.duties {{ line-height: 1.2; max-height: 6mm; overflow: hidden; color: #333; margin-top: 0.6mm; }}
.hours {{ position: absolute; bottom: 0; left: 0; right: 0; font-size: 6pt; color: #555; line-height: 1.25; }}
.qr {{ position: absolute; right: 4mm; top: 15mm; width: 21mm; height: 21mm; }}
.scan {{ position: absolute; right: 4mm; top: 37mm; width: 21mm; text-align: center; font-size: 5.5pt; color: #666;
        line-height: 1.25; }}
</style></head><body>
{"".join(pages)}
</body></html>"""


def render_cards(posters: Sequence[Poster]) -> bytes:
    """A PDF of contact cards: one A4 page of :data:`CARDS_PER_PAGE` cards per grid.

    Raises
    ------
    FontMissingError
        When Noto Sans CJK is not installed.
    """
    return html_to_pdf(cards_html(posters))
