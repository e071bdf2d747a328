"""Community settings, the community grid map, and printed links that point at the public site.

Settings and workers are written here, so these tests use a database of their own. The
service runs with ``public_url`` set: every printed or encoded link must use it, never
the address the request came in on.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer, database_with_plans
from tiles.paper.printing import pdf_pages

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})
PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext is not installed (poppler-utils)")
SITE = "https://grid.example.org"


@pytest.fixture(scope="module")
def store(create_database: Callable[..., URL], sample_plan) -> URL:
    return database_with_plans(create_database, "community_sheet", sample_plan.gpkg, {"c1": True})


@pytest.fixture(scope="module")
def db(store: URL) -> str:
    return store.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def planner(store: URL) -> str:
    engine = create_engine(store)
    with begin(engine) as conn:
        token = add_user(conn, "cs-planner", role="planner")
    engine.dispose()
    return token


@pytest.fixture(scope="module")
def client(db: str) -> TestClient:
    with TestClient(create_app(Settings(database_url=db, public_url=SITE + "/"))) as c:
        yield c


@pytest.fixture(scope="module")
def community(client: TestClient, planner: str) -> dict:
    """The community with the most grids; its first two grids get a worker, the rest stay unstaffed."""
    grids = client.get("/collections/grids/items", params={"limit": 500}).json()["features"]
    by_community: dict[str, list[str]] = {}
    for g in grids:
        by_community.setdefault(g["properties"]["community"], []).append(g["id"])
    cid, codes = max(by_community.items(), key=lambda kv: len(kv[1]))
    assert len(codes) >= 3, "the sample community needs a grid without a worker"
    png = io.BytesIO()
    Image.new("RGB", (300, 400), (180, 120, 90)).save(png, format="PNG")
    workers = [("周晓燕", "0755-8100 0001", "负责楼栋巡查"), ("吴建国", "0755-8100 0002", "负责便民服务和政策宣传")]
    for code, (name, phone, duties) in zip(sorted(codes), workers, strict=False):
        body = {"grid_code": code, "name": name, "work_phone": phone, "duties": duties}
        body["photo_base64"] = base64.b64encode(png.getvalue()).decode()
        r = client.post("/workers", json=body, headers=bearer(planner))
        assert r.status_code == 201, r.text
    return {"id": cid, "codes": sorted(codes), "workers": [w[0] for w in workers], "unstaffed": sorted(codes)[2]}


def pdf_text(pdf: bytes) -> str:
    return subprocess.run([PDFTOTEXT, "-raw", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_settings_are_set_from_the_command_line_and_checked(db, client, community):
    args = ["communities", "set", community["id"], "--office-phone", "0755-2666 0000"]
    result = runner.invoke(cli, [*args, "--service-hours", "周一至周六 9:00–18:00", "--db", db])
    assert result.exit_code == 0, result.output
    stored = client.get(f"/communities/{community['id']}/settings").json()
    assert (stored["office_phone"], stored["service_hours"]) == ("0755-2666 0000", "周一至周六 9:00–18:00")
    listed = runner.invoke(cli, ["communities", "list", "--db", db])
    assert listed.exit_code == 0 and community["id"] in listed.output
    bad = runner.invoke(cli, ["communities", "set", community["id"], "--office-phone", "call us", "--db", db])
    assert bad.exit_code == 2 and "office_phone 'call us' is not a phone number" in bad.output
    unknown = runner.invoke(cli, ["communities", "set", "NOPE", "--office-phone", "0755 1234 5678", "--db", db])
    assert unknown.exit_code != 0 and "no community 'NOPE'" in unknown.output
    nothing = runner.invoke(cli, ["communities", "set", community["id"], "--db", db])
    assert nothing.exit_code == 2 and "--office-phone" in nothing.output


def test_planners_change_settings_over_the_api_and_everyone_reads_them(client, planner, community):
    path = f"/communities/{community['id']}/settings"
    assert client.patch(path, json={"office_phone": "0755 2666 0000"}).status_code == 401
    bad = client.patch(path, json={"office_phone": "x"}, headers=bearer(planner))
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "office_phone"
    assert client.patch(path, json={"colour": "red"}, headers=bearer(planner)).status_code == 422
    ok = client.patch(path, json={"office_phone": "0755-2666 0000"}, headers=bearer(planner))
    assert ok.status_code == 200 and ok.json()["office_phone"] == "0755-2666 0000"
    read = client.get(path).json()
    assert read["community_id"] == community["id"] and read["office_phone"] == "0755-2666 0000"
    assert client.get("/communities/NOPE/settings").status_code == 404


@needs_pdftotext
def test_an_unstaffed_grid_prints_the_stored_office_phone_and_links_to_the_public_site(client, planner, community):
    path = f"/communities/{community['id']}/settings"
    body = {"office_phone": "0755-2666 0000", "service_hours": "周一至周六 9:00–18:00"}
    assert client.patch(path, json=body, headers=bearer(planner)).status_code == 200
    code = community["unstaffed"]
    text = pdf_text(client.get(f"/grids/{code}/poster.pdf").content)
    assert "0755-2666 0000" in text and "周一至周六" in text
    assert f"{SITE}/public/grids/{code}" in text and "testserver" not in text
    cards = pdf_text(client.get(f"/grids/{code}/cards.pdf").content)
    assert cards.count("0755-2666 0000") == 10
    contact = client.get(f"/public/contacts/{code}").json()
    assert contact["office_phone"] == "0755-2666 0000" and "0755-2666 0000" in contact["call_instead"]
    assert contact["links"]["page"] == f"{SITE}/public/grids/{code}"
    assert contact["service_hours"] == "周一至周六 9:00–18:00"


@needs_pdftotext
def test_contact_cards_carry_the_duties(client, community):
    text = "".join(pdf_text(client.get(f"/grids/{community['codes'][1]}/cards.pdf").content).split())
    assert text.count("负责便民服务和政策宣传") == 10


@needs_pdftotext
def test_the_community_grid_map_lists_every_grid_and_worker(db, client, planner, community, tmp_path, artifacts):
    assert (
        client.patch(
            f"/communities/{community['id']}/settings",
            json={"office_phone": "0755-2666 0000"},
            headers=bearer(planner),
        ).status_code
        == 200
    )
    out = tmp_path / "community.pdf"
    env = {"COMMGRID_PUBLIC_URL": SITE}
    result = runner.invoke(cli, ["poster", "--community", community["id"], "--out", str(out), "--db", db], env=env)
    assert result.exit_code == 0, result.output
    assert "QR codes point to" not in result.output  # COMMGRID_PUBLIC_URL is the base
    pdf = out.read_bytes()
    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    flat = "".join(text.split())
    for code in community["codes"]:
        assert code in text
    for name in community["workers"]:
        assert name in flat
    assert "0755-2666 0000" in text  # the office, for the grids without a worker
    assert "本网格暂未配备网格员" in flat
    assert f"{SITE}/public?q=" in flat
    png = artifacts / "community-grid-map.png"
    args = ["poster", "--community", community["id"], "--paper", "A3", "--dpi", "60", "--out", str(png), "--db", db]
    assert runner.invoke(cli, args, env=env).exit_code == 0
    assert Image.open(png).size == pytest.approx((297 / 25.4 * 60, 420 / 25.4 * 60), abs=1)


def test_the_community_grid_map_is_public_in_three_sizes(client, community, tmp_path):
    r = client.get(f"/communities/{community['id']}/poster.pdf", params={"paper": "A1"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and pdf_pages(r.content) == 1
    png = client.get(f"/communities/{community['id']}/poster.png", params={"paper": "A3", "dpi": 30})
    assert png.status_code == 200
    assert Image.open(io.BytesIO(png.content)).size == pytest.approx((297 / 25.4 * 30, 420 / 25.4 * 30), abs=1)
    assert client.get(f"/communities/{community['id']}/poster.pdf", params={"paper": "A4"}).status_code == 422
    missing = client.get("/communities/NOPE/poster.pdf")
    assert missing.status_code == 404 and "community 'NOPE'" in missing.json()["description"]


def test_the_poster_command_refuses_a4_for_a_community_and_two_subjects(db, community, tmp_path):
    out = str(tmp_path / "x.pdf")
    a4 = runner.invoke(cli, ["poster", "--community", community["id"], "--paper", "A4", "--out", out, "--db", db])
    assert a4.exit_code == 2 and "A1, A2 or A3" in a4.output
    both = runner.invoke(cli, ["poster", community["codes"][0], "--community", community["id"], "--db", db])
    assert both.exit_code == 2 and "one grid code, or a --community" in both.output
