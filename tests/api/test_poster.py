"""Posters and contact cards of the published grids: public routes and the ``poster``/``posters``/``cards`` commands.

The shared ``api_db`` holds no workers, so every sheet here says whom to call instead;
tests/api/test_workers.py checks sheets with a posted worker.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from PIL import Image
from typer.testing import CliRunner

from api.cli import app as cli
from tiles.paper.printing import pdf_pages

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})
PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext is not installed (poppler-utils)")


@pytest.fixture(scope="module")
def grid(client) -> dict:
    return client.get("/collections/grids/items", params={"limit": 1}).json()["features"][0]


def pdf_text(pdf: bytes) -> str:
    return subprocess.run([PDFTOTEXT, "-raw", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


@needs_pdftotext
def test_the_public_poster_pdf_names_the_grid_and_whom_to_call(client, grid):
    r = client.get(f"/grids/{grid['id']}/poster.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert pdf_pages(r.content) == 1
    text = pdf_text(r.content)
    assert grid["id"] in text and grid["properties"]["community_name"] in text
    assert "本网格暂未配备网格员，请联系社区居委会" in "".join(text.split())
    assert f"{grid['properties']['households']:,}" in text
    assert f"/public/grids/{grid['id']}" in text  # the QR code's address, printed under it
    again = client.get(f"/grids/{grid['id']}/poster.pdf", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_the_public_poster_png_is_a4_when_asked(client, grid):
    r = client.get(f"/grids/{grid['id']}/poster.png", params={"paper": "A4", "dpi": 50})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    assert image.size == pytest.approx((210 / 25.4 * 50, 297 / 25.4 * 50), abs=1)


def test_bad_poster_requests_say_what_is_wrong(client, grid):
    missing = client.get("/grids/NOPE/poster.pdf")
    assert missing.status_code == 404 and "has no grid 'NOPE'" in missing.json()["description"]
    assert client.get(f"/grids/{grid['id']}/poster.pdf", params={"paper": "A5"}).status_code == 422
    assert client.get(f"/grids/{grid['id']}/worker-photo").status_code == 404


def test_cards_are_one_page_per_grid(client, grid):
    r = client.get(f"/grids/{grid['id']}/cards.pdf")
    assert r.status_code == 200 and pdf_pages(r.content) == 1


def test_the_poster_command_writes_pdf_and_png(api_db, grid, tmp_path):
    db = api_db.render_as_string(hide_password=False)
    out = tmp_path / "poster.png"
    args = ["poster", grid["id"], "--out", str(out), "--dpi", "40", "--public-url", "https://grid.example.org/"]
    result = runner.invoke(cli, [*args, "--db", db])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == pytest.approx((297 / 25.4 * 40, 420 / 25.4 * 40), abs=1)
    bad = runner.invoke(cli, ["poster", grid["id"], "--out", str(tmp_path / "poster.svg"), "--db", db])
    assert bad.exit_code == 2 and "--out must end in .pdf or .png" in bad.output


def test_posters_and_cards_of_a_community(api_db, client, grid, tmp_path):
    db = api_db.render_as_string(hide_password=False)
    community = grid["properties"]["community"]
    codes = [
        f["id"]
        for f in client.get("/collections/grids/items", params={"community": community, "limit": 100}).json()[
            "features"
        ]
    ]
    result = runner.invoke(cli, ["posters", "--community", community, "--out", str(tmp_path / "p"), "--db", db])
    assert result.exit_code == 0, result.output
    assert "QR codes point to" in result.output  # no --public-url: warned
    assert sorted(p.stem for p in (tmp_path / "p").glob("*.pdf")) == sorted(codes)
    cards = tmp_path / "cards.pdf"
    result = runner.invoke(cli, ["cards", "--community", community, "--out", str(cards), "--db", db])
    assert result.exit_code == 0, result.output
    assert pdf_pages(cards.read_bytes()) == len(codes)
    unknown = runner.invoke(cli, ["posters", "--community", "NOPE", "--out", str(tmp_path / "q"), "--db", db])
    assert unknown.exit_code == 2 and "has no grids of community 'NOPE'" in unknown.output
