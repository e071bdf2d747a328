"""Posters and contact cards drawn from a hand-made grid: their text, their pages, where the map lands.

The district, in metres (a metric CRS)::

      0    100   200   300
  200 +-----+-----+--~--+      N = neighbours, G = the grid
      | N1  |  G  | N2~ |      ═ a street (y = 100) named 长寿路
  100 +═════+═════+═══~═+      ~ a river (x = 225) named 新洲河
      |       N3      ~ |
    0 +---------------~-+
"""

from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import pytest
import shapely
from PIL import Image, ImageDraw

from gis.workers.roster import photo_jpeg
from gis.workers.store import PostedContact
from tiles.paper.cards import CARDS_PER_PAGE, render_cards
from tiles.paper.mapsvg import GridMap, Street, grid_map_svg, nice_length, view_box
from tiles.paper.poster import Poster, poster_layout, render_poster, render_poster_png
from tiles.paper.printing import pdf_pages

PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(
    PDFTOTEXT is None, reason="pdftotext is not installed (poppler-utils; scripts/setup.sh test installs it)"
)

LONG_COMMUNITY = "华强北街道华富社区第二居民委员会（含华富村东区、西区）"
LONG_GRID = "华富社区第十二网格（华富村东区、华富村西区及莲花路沿线周边商铺）"
LONG_DUTIES = (
    "负责本网格内实有人口、实有房屋、实有单位等基础信息的采集、录入和动态更新；开展矛盾纠纷排查化解，"
    "及时发现并上报各类安全隐患和突发事件；协助做好社会治安、消防安全、环境卫生等工作；关心关爱困难群众、"
    "独居老人、残疾人和留守儿童等特殊人群，提供代办代缴等便民服务；宣传党和国家的方针政策及法律法规。"
) * 2


def portrait() -> bytes:
    img = Image.new("RGB", (300, 400), (214, 226, 238))
    draw = ImageDraw.Draw(img)
    draw.ellipse([90, 80, 210, 230], fill=(236, 202, 168))
    draw.rectangle([40, 300, 260, 400], fill=(70, 110, 160))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def grid_map() -> GridMap:
    grid = shapely.box(100, 100, 200, 200)
    neighbours = [
        ("SQ01-001", shapely.box(0, 100, 100, 200)),
        ("SQ01-003", shapely.box(200, 100, 300, 200)),
        ("SQ01-004", shapely.box(0, 0, 300, 100)),
    ]
    units = np.array(
        [shapely.box(110 + 40 * i, 110, 140 + 40 * i, 190) for i in range(2)] + [shapely.box(10, 10, 90, 90)]
    )
    streets = [
        Street("major", "长寿路", shapely.LineString([(-50, 100), (350, 100)])),
        Street("river", "新洲河", shapely.LineString([(225, -50), (225, 250)])),
    ]
    return GridMap(
        code="SQ01-002",
        grid=grid,
        view=view_box(grid, aspect=269 / 196),
        neighbours=neighbours,
        units=units,
        units_inside=np.array([True, True, False]),
        streets=streets,
    )


def poster(**changes) -> Poster:
    base = Poster(
        code="SQ01-002",
        grid_name="第2网格",
        community_name="桂园社区",
        community_id="SQ01",
        households=412,
        population=1204,
        contact=PostedContact("王晓梅", "0755-8888 1234", "负责网格巡查、信息采集和便民服务。", photo_jpeg(portrait())),
        public_url="https://grid.example.org/public/grids/SQ01-002",
        plan="v1",
        map=grid_map(),
    )
    return replace(base, **changes)


def pdf_text(pdf: bytes) -> str:
    out = subprocess.run([PDFTOTEXT, "-raw", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return "".join(out.split())  # wrapped lines join up again


def test_view_box_fits_the_grid_with_the_box_aspect():
    minx, miny, maxx, maxy = view_box(shapely.box(0, 0, 100, 20), aspect=2.0, margin=0.1)
    assert (maxx - minx) / (maxy - miny) == pytest.approx(2.0)
    assert minx <= -10 and maxx >= 110  # the margin is kept on the long side
    assert [nice_length(x) for x in (1, 19, 260, 9999)] == [1, 10, 200, 5000]


def test_the_map_draws_neighbours_streets_river_and_furniture():
    svg = grid_map_svg(grid_map(), width_mm=269, height_mm=196)
    # the words printed (halos, drawn with a stroke, left out); a steep name stands one character per line
    words = "|".join(t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text") if not t.get("stroke"))
    for text in (
        "SQ01-002",
        "SQ01-001",
        "SQ01-003",
        "长寿路",
        "新|洲|河",
        "N 北",
        "本网格",
        "道路 street",
        "河流 river",
    ):
        assert text in words, text
    no_streets = grid_map_svg(replace(grid_map(), streets=[]), width_mm=269, height_mm=196)
    assert "道路 street" not in no_streets and "长寿路" not in no_streets


@needs_pdftotext
@pytest.mark.parametrize("paper", ["A3", "A4"])
def test_a_long_named_poster_is_one_page_holding_all_its_chinese_text(paper):
    contact = PostedContact("欧阳·阿卜杜热合曼·买买提依明", "0755-2345 6789 转 801", LONG_DUTIES[:400], None)
    pdf = render_poster(poster(community_name=LONG_COMMUNITY, grid_name=LONG_GRID, contact=contact), paper=paper)
    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    for expected in (LONG_COMMUNITY, LONG_GRID, contact.name, "0755-23456789转801", LONG_DUTIES[:400], "SQ01-002"):
        assert "".join(expected.split()) in text, expected
    assert "412" in text and "1,204" in text and "服务时间" in text and "长寿路" in text


@needs_pdftotext
def test_a_grid_without_a_worker_says_whom_to_call():
    text = pdf_text(render_poster(poster(contact=None, office_phone="0755-8320 0000")))
    assert "本网格暂未配备网格员，请联系社区居委会" in text
    assert "0755-83200000" in text


def test_the_png_has_the_map_where_the_layout_puts_it():
    dpi = 40
    image = np.asarray(Image.open(io.BytesIO(render_poster_png(poster(), dpi=dpi))).convert("RGB")).astype(int)
    layout = poster_layout("A3")
    assert image.shape[1] == pytest.approx(layout.width / 25.4 * dpi, abs=1)

    def region(box) -> np.ndarray:
        px = dpi / 25.4
        return image[
            int(box.y * px) + 2 : int((box.y + box.h) * px) - 2, int(box.x * px) + 2 : int((box.x + box.w) * px) - 2
        ]

    assert image.std() > 20, "the poster is blank"
    inside = region(layout.map)
    red = (inside[..., 0] > 150) & (inside[..., 1] < 90) & (inside[..., 2] < 90)  # the grid's outline and code
    paper = (np.abs(inside - [0xF4, 0xF2, 0xEC]).max(axis=-1) < 8).mean()
    assert red.mean() > 0.002 and paper < 0.9
    # the strip between the header and the map is blank paper
    strip = image[int(56 * dpi / 25.4) : int(61 * dpi / 25.4), 10:-10]
    assert (strip > 245).all()


@needs_pdftotext
def test_contact_cards_give_each_grid_a_page_of_cards():
    other = poster(code="SQ01-003", grid_name="第3网格", contact=None, map=None)
    pdf = render_cards([poster(map=None), other])
    assert pdf_pages(pdf) == 2
    text = pdf_text(pdf)
    assert text.count("0755-88881234") == CARDS_PER_PAGE
    assert text.count("请联系社区居委会") == CARDS_PER_PAGE
    assert "网格服务联系卡" in text
