"""Grid workers: CSV import (all rows or none), planner routes, and what of them the public sees.

Workers are written here, so these tests use a database of their own, not the shared ``api_db``.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.routes.public import CONTACT_FIELDS, WORKER_FIELDS
from api.settings import Settings
from gis.errors import FormatError, InputError
from gis.store import begin, create_engine
from gis.store.models import GridWorker
from gis.store.users import add_user
from gis.workers.roster import read_workers_csv
from tests.api.conftest import bearer, database_with_plans

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})
PDFTOTEXT = shutil.which("pdftotext")


@pytest.fixture(scope="module")
def store(create_database: Callable[..., URL], sample_plan) -> URL:
    return database_with_plans(create_database, "workers", sample_plan.gpkg, {"w1": True})


@pytest.fixture(scope="module")
def db(store: URL) -> str:
    return store.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def planner(store: URL) -> dict[str, str]:
    engine = create_engine(store)
    with begin(engine) as conn:
        out = {
            "planner": add_user(conn, "w-planner", role="planner"),
            "analyst": add_user(conn, "w-analyst", role="analyst"),
        }
    engine.dispose()
    return out


@pytest.fixture(scope="module")
def client(db: str) -> TestClient:
    with TestClient(create_app(Settings(database_url=db))) as c:
        yield c


@pytest.fixture(scope="module")
def codes(client: TestClient) -> list[str]:
    return [f["id"] for f in client.get("/collections/grids/items", params={"limit": 6}).json()["features"]]


def photo(path: Path, size=(300, 400)) -> Path:
    Image.new("RGB", size, (200, 180, 160)).save(path, format="JPEG")
    return path


def write_csv(folder: Path, rows: list[str], header: str = "grid_code,name,work_phone,photo,duties") -> Path:
    path = folder / "workers.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def count_workers(store: URL) -> int:
    engine = create_engine(store)
    with begin(engine) as conn:
        n = conn.execute(select(func.count()).select_from(GridWorker)).scalar_one()
    engine.dispose()
    return n


def test_csv_rows_with_problems_name_file_row_and_field(tmp_path, codes):
    photo(tmp_path / "ok.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    path = write_csv(
        tmp_path,
        [
            f"{codes[0]},王晓梅,0755-8888 1234,ok.jpg,巡查",
            f"{codes[1]},李建国,call me maybe,,",
            f"{codes[2]},,13800138000,,",
            f"{codes[3]},赵敏,13800138000,missing.jpg,",
            f"{codes[4]},钱多,13800138000,broken.jpg,",
        ],
    )
    with pytest.raises(InputError) as caught:
        read_workers_csv(path)
    message = str(caught.value)
    assert "4 rows have problems, nothing was imported" in message
    assert "workers.csv" in message
    assert "row 1 (line 3), field 'work_phone': work_phone 'call me maybe' is not a phone number" in message
    assert "row 2 (line 4), field 'name': name is empty" in message
    assert "row 3 (line 5), field 'photo': photo file 'missing.jpg' does not exist" in message
    assert "row 4 (line 6), field 'photo': photo file 'broken.jpg' cannot be read as an image" in message
    assert caught.value.index == [1, 2, 3, 4]


def test_one_bad_photo_is_reported_with_its_row(tmp_path, codes):
    photo(tmp_path / "tiny.jpg", size=(40, 40))
    path = write_csv(tmp_path, [f"{codes[0]},王晓梅,0755-8888 1234,tiny.jpg,"])
    with pytest.raises(
        InputError, match=r"feature 0, id \d+, field 'photo': row 0 \(line 2\): photo file 'tiny.jpg' is 40×40 pixels"
    ):
        read_workers_csv(path)


def test_a_csv_without_the_required_columns_says_which(tmp_path):
    path = write_csv(tmp_path, ["x,y"], header="grid,who")
    with pytest.raises(FormatError, match=r"lacks column\(s\) \['name', 'work_phone'\]"):
        read_workers_csv(path)


def test_chinese_headers_and_a_bom_are_read(tmp_path, codes):
    path = tmp_path / "网格员.csv"
    path.write_text(f"网格编码,姓名,工作电话,职责\n{codes[0]},王晓梅,0755-8888 1234,巡查\n", encoding="utf-8-sig")
    (row,) = read_workers_csv(path)
    assert (row.grid_code, row.name, row.work_phone, row.duties, row.photo) == (
        codes[0],
        "王晓梅",
        "0755-8888 1234",
        "巡查",
        None,
    )


def test_import_with_an_unknown_grid_writes_nothing_and_exits_2(tmp_path, store, db, codes):
    before = count_workers(store)
    path = write_csv(tmp_path, [f"{codes[0]},王晓梅,0755-8888 1234,,", "NOPE-001,李建国,13800138000,,"])
    result = runner.invoke(cli, ["workers", "import", str(path), "--db", db])
    assert result.exit_code == 2, result.output
    assert "row 1" in result.output and "field 'grid_code'" in result.output
    assert "'NOPE-001' is not a grid of the published plan" in result.output
    assert count_workers(store) == before


def test_import_assigns_and_a_second_import_updates_in_place(tmp_path, store, db, codes, client):
    photo(tmp_path / "wang.jpg")
    path = write_csv(
        tmp_path,
        [f"{codes[0]},王晓梅,0755-8888 1234,wang.jpg,负责网格巡查", f"{codes[1]},李建国,138 0013 8000,,"],
    )
    result = runner.invoke(cli, ["workers", "import", str(path), "--db", db])
    assert result.exit_code == 0, result.output
    before = count_workers(store)
    again = runner.invoke(cli, ["workers", "import", str(path), "--db", db])
    assert again.exit_code == 0, again.output
    assert "0 newly assigned, 2 updated" in again.output
    assert count_workers(store) == before
    listed = runner.invoke(cli, ["workers", "list", "--grid", codes[0], "--db", db])
    assert "王晓梅" in listed.output and "0755-8888 1234" in listed.output
    # the features and the public contact carry the posted fields
    grid = client.get(f"/collections/grids/items/{codes[0]}").json()["properties"]
    assert (grid["worker"], grid["worker_phone"]) == ("王晓梅", "0755-8888 1234")
    contact = client.get(f"/public/contacts/{codes[0]}").json()
    assert contact["worker"]["duties"] == "负责网格巡查"
    image = client.get(contact["worker"]["photo"])
    assert image.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (300, 400)


def test_worker_routes_need_the_planner_role(client, planner):
    assert client.get("/workers").status_code == 401
    assert client.get("/workers", headers=bearer(planner["analyst"])).status_code == 403
    body = {"grid_code": "x", "name": "x", "work_phone": "13800138000"}
    assert client.post("/workers", json=body).status_code == 401


def test_assign_change_and_retire(client, planner, codes):
    auth = bearer(planner["planner"])
    code = codes[2]
    first = client.post("/workers", json={"grid_code": code, "name": "赵敏", "work_phone": "13800138000"}, headers=auth)
    assert first.status_code == 201, first.text
    png = io.BytesIO()
    Image.new("RGB", (240, 320), "white").save(png, format="PNG")
    second = client.post(
        "/workers",
        json={
            "grid_code": code,
            "name": "钱多多",
            "work_phone": "0755-2345 6789 转 801",
            "duties": "巡查",
            "photo_base64": base64.b64encode(png.getvalue()).decode(),
        },
        headers=auth,
    )
    assert second.status_code == 201, second.text
    assert second.json()["has_photo"] is True
    workers = {w["id"]: w for w in client.get("/workers", params={"grid_code": code}, headers=auth).json()}
    assert workers[first.json()["id"]]["active"] is False  # retired, kept for history
    wid = second.json()["id"]
    changed = client.patch(f"/workers/{wid}", json={"work_phone": "0755 1111 2222", "duties": None}, headers=auth)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["work_phone"], changed.json()["duties"], changed.json()["name"]) == (
        "0755 1111 2222",
        None,
        "钱多多",
    )
    bad = client.patch(f"/workers/{wid}", json={"work_phone": "nope"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "work_phone"
    assert client.get(f"/workers/{wid}/photo", headers=auth).headers["content-type"] == "image/jpeg"
    retired = client.delete(f"/workers/{wid}", headers=auth)
    assert retired.json()["active"] is False
    assert client.patch(f"/workers/{wid}", json={"name": "x"}, headers=auth).status_code == 409
    # the public now sees whom to call instead, and no photo
    contact = client.get(f"/public/contacts/{code}").json()
    assert contact["worker"] is None and "社区居委会" in contact["call_instead"]
    assert client.get(f"/grids/{code}/worker-photo").status_code == 404


def test_assigning_to_an_unknown_grid_is_a_400_naming_the_field(client, planner):
    r = client.post(
        "/workers",
        json={"grid_code": "NOPE", "name": "赵敏", "work_phone": "13800138000"},
        headers=bearer(planner["planner"]),
    )
    assert r.status_code == 400
    assert r.json()["detail"]["field"] == "grid_code"
    assert "not a grid of the published plan" in r.json()["description"]


def test_the_public_contact_holds_only_posted_fields(client, codes):
    for code in codes[:2]:
        contact = client.get(f"/public/contacts/{code}").json()
        assert set(contact) == set(CONTACT_FIELDS)
        if contact["worker"] is not None:
            assert set(contact["worker"]) == set(WORKER_FIELDS)


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext is not installed (poppler-utils)")
def test_the_poster_and_cards_show_the_posted_worker(client, planner, codes):
    worker = {"grid_code": codes[5], "name": "孙丽", "work_phone": "0755-8888 5678", "duties": "负责网格巡查和便民服务"}
    assert client.post("/workers", json=worker, headers=bearer(planner["planner"])).status_code == 201

    def text(path: str) -> str:
        pdf = client.get(path).content
        return subprocess.run([PDFTOTEXT, "-raw", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()

    poster = text(f"/grids/{codes[5]}/poster.pdf")
    assert "孙丽" in poster and "0755-8888 5678" in poster and "负责网格巡查和便民服务" in poster
    assert text(f"/grids/{codes[5]}/cards.pdf").count("孙丽") == 10
