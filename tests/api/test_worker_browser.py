"""The worker's mobile page as a phone shows it: headless Chromium (Debian's) driven by Playwright.

A phone-sized context in Shanghai with its clock at the suite's instant (tests/now.py) and
an emulated position in grid A of the tiny district: a patrol walked and stopped, its fixes
stored for the worker; a log entry and an incident report made offline, sent when the
phone is back online; the page opened again offline from its service worker. Screenshots
are kept in ``out/test-artifacts/worker`` (or ``$COMMGRID_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.engine import URL

from gis import migrations
from gis.cluster import DATABASE
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import serving
from tests.api.test_incident_photos import phone_jpeg
from tests.gis.patrols import tiny
from tests.now import NOW

ARTIFACTS = Path(
    os.environ.get("COMMGRID_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "out" / "test-artifacts")
)
PHONE = {"width": 390, "height": 844}
READY = "window.__commgrid && (window.__commgrid.ready || window.__commgrid.errors.length)"
SYNCED = "__commgrid.outbox.length === 0 && !__commgrid.syncing && !__commgrid.patrol.active"


def position(x: float, y: float) -> dict[str, float]:
    """A position in the tiny district's local metres, as the phone reports it."""
    lon, lat = tiny.lonlat([[x, y]])[0]
    return {"longitude": float(lon), "latitude": float(lat), "accuracy": 5}


@pytest.fixture(scope="module")
def served(create_database: Callable[..., URL]) -> Iterator[dict]:
    """The tiny district served live; worker A with an account, and a planner."""
    url = create_database("worker_page", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    with begin(engine) as conn:
        ids = tiny.make_district(conn)
        tokens = {
            "worker": add_user(conn, "page-a", role="grid_worker", worker_id=ids["worker_a"]),
            "planner": add_user(conn, "page-planner", role="planner"),
        }
    with serving(url) as base:
        yield {"url": base, "engine": engine, "ids": ids, "tokens": tokens}
    engine.dispose()


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = ARTIFACTS / "worker"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def phone(browser, served):
    """A phone: 390×844, touch, Shanghai time at the suite's instant, located in grid A, location allowed."""
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation=position(200, 200),
        permissions=["geolocation"],
    )
    context.clock.install(time=NOW)  # the page dates its log and fixes by the phone's clock
    yield context
    context.close()


def open_page(context, served, token: str | None):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{served['url']}/worker")
    if token:
        page.evaluate("t => localStorage.setItem('commgrid-worker-token', t)", token)
        page.reload()
    page.wait_for_function(READY, timeout=60_000)
    return page, errors


def stored(served, sql: str, **params):
    with served["engine"].connect() as conn:
        return conn.execute(text(sql), params).all()


def png(size=(320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 140, 60)).save(out, format="PNG")
    return out.getvalue()


def stored_photos(served, description: str) -> list[Image.Image]:
    """The photos stored for the incident reported with ``description``, as images."""
    rows = stored(
        served,
        "SELECT p.jpeg FROM incident_photo AS p JOIN incident AS i ON i.id = p.incident_id WHERE i.description = :d",
        d=description,
    )
    return [Image.open(io.BytesIO(row[0])) for row in rows]


def test_the_page_asks_a_token_and_refuses_an_office_account(phone, served):
    page, errors = open_page(phone, served, None)
    assert page.locator("#signin").is_visible() and not page.locator("#app").is_visible()
    page.close()
    page, errors = open_page(phone, served, served["tokens"]["planner"])
    assert "for grid workers linked to their worker record" in page.locator("#error").inner_text()
    assert not errors


def test_my_grid_my_log_and_a_patrol_walked_with_the_phone(phone, served, shots):
    page, errors = open_page(phone, served, served["tokens"]["worker"])
    state = page.evaluate("({errors: __commgrid.errors, home: __commgrid.home, sw: __commgrid.serviceWorker})")
    assert state["errors"] == [] and not errors
    assert state["home"]["grid_code"] == "A" and state["home"]["community"] == "C1"
    assert state["sw"] is True
    assert "网格 grid A" in page.locator("#grid-line").inner_text()
    assert page.locator("#category option").count() > 5  # the taxonomy's categories

    page.click("#patrol-toggle")
    # the watch first reports where the phone stands; waiting for it keeps that fix off the next one's
    # instant (two fixes stamped alike are one to the service, which keeps the first)
    page.wait_for_function("__commgrid.patrol.fixes >= 1", timeout=10_000)
    walk = [(150, 150), (200, 150), (250, 150), (300, 150), (300, 200), (300, 250), (250, 250)]
    for i, (x, y) in enumerate(walk):
        phone.clock.fast_forward("00:15")  # 50 m in 15 s: walking (the service drops impossible jumps)
        phone.set_geolocation(position(x, y))
        page.wait_for_function(f"__commgrid.patrol.fixes >= {i + 2}", timeout=10_000)
    page.wait_for_function("__commgrid.sent.fixes >= 1")  # a batch goes while walking, not only at the end
    page.click("#patrol-toggle")
    page.wait_for_function(SYNCED, timeout=20_000)
    fixes = page.evaluate("__commgrid.patrol.fixes")
    rejected = page.evaluate("__commgrid.rejected")
    assert rejected == [], rejected
    points = stored(served, "SELECT count(*) FROM patrol_point WHERE worker_id = :w", w=served["ids"]["worker_a"])[0][0]
    assert points == page.evaluate("__commgrid.stored") == fixes == len(walk) + 1
    assert f"已保存 {points} stored" in page.locator("#patrol-status").inner_text()
    # my day counts them: today's compliance (Shanghai's day) has the walk analysed
    assert page.evaluate("__commgrid.unavailable") == {}
    day = page.evaluate("__commgrid.compliance")
    assert day["worker_id"] == served["ids"]["worker_a"] and day["analysed"]
    assert day["compliant"] is False  # two minutes of walking: no visit of an hour yet
    assert "未达标 not yet" in page.locator("#compliance").inner_text()
    page.screenshot(path=str(shots / "patrol.png"))
    assert not errors and page.evaluate("__commgrid.errors") == []


def test_a_log_entry_and_a_report_made_offline_are_sent_when_back_online(phone, served, shots):
    page, errors = open_page(phone, served, served["tokens"]["worker"])
    assert page.evaluate("__commgrid.errors") == []
    phone.set_offline(True)
    page.wait_for_function("!__commgrid.online")
    page.select_option("#log-kind", "household_visit")
    page.fill("#log-text", "走访 3 户, 离线记录 visited three homes offline")
    page.click("#log-form button")
    page.fill("#report-note", "楼道堆物 things piled in the stairwell")
    page.set_input_files("#report-photo", {"name": "stairs.png", "mimeType": "image/png", "buffer": png()})
    page.click("#report-form button")
    page.wait_for_function("__commgrid.outbox.length === 2")
    assert page.locator("#outbox").inner_text() == "待同步 2 waiting"
    assert "离线 offline" in page.locator("#net").inner_text()
    assert not stored(served, "SELECT id FROM work_log_entry WHERE body LIKE '%离线记录%'")
    page.screenshot(path=str(shots / "offline.png"))

    phone.set_offline(False)
    page.wait_for_function(SYNCED, timeout=20_000)
    assert page.evaluate("__commgrid.rejected") == []
    entry = stored(
        served,
        "SELECT worker_id, day::text, kind FROM work_log_entry WHERE body = :body",
        body="走访 3 户, 离线记录 visited three homes offline",
    )
    assert entry == [(served["ids"]["worker_a"], "2026-11-19", "household_visit")]  # Shanghai's day at NOW
    reported = stored(served, "SELECT grid_id IS NOT NULL FROM incident WHERE description LIKE '楼道堆物%'")
    assert reported == [(True,)]
    assert "离线记录" in page.locator("#log-list").inner_text()
    # my incidents: the report made offline, with its state
    number = stored(served, "SELECT id FROM incident WHERE description LIKE '楼道堆物%'")[0][0]
    assert f"#{number}" in page.locator("#incident-list").inner_text()
    # its photo, queued with it, went after it under the incident's new id
    [photo] = stored_photos(served, "楼道堆物 things piled in the stairwell")
    assert photo.format == "JPEG" and photo.size == (320, 240) and not photo.getexif()
    assert page.evaluate("__commgrid.sent.photo") == 1
    assert "已上报 reported" in page.locator("#incident-list").inner_text()
    page.screenshot(path=str(shots / "phone.png"), full_page=True)
    assert not errors and page.evaluate("__commgrid.errors") == []


def test_the_page_opens_again_offline_from_its_service_worker(phone, served):
    page, _ = open_page(phone, served, served["tokens"]["worker"])
    assert page.evaluate("__commgrid.serviceWorker") is True
    phone.set_offline(True)
    page.reload()
    page.wait_for_function(READY, timeout=60_000)
    assert page.evaluate("__commgrid.errors") == []
    assert "网格 grid A" in page.locator("#grid-line").inner_text()
    assert page.evaluate("__commgrid.online") is False
    phone.set_offline(False)


def test_a_report_with_a_photo_online_stores_the_photo_without_exif(phone, served):
    page, errors = open_page(phone, served, served["tokens"]["worker"])
    page.fill("#report-note", "井盖缺失 a manhole cover is missing")
    # a camera photo: EXIF with the maker and the place; larger than the page's 1600 px
    photo = phone_jpeg(size=(2000, 1500))
    page.set_input_files("#report-photo", {"name": "camera.jpg", "mimeType": "image/jpeg", "buffer": photo})
    page.click("#report-form button")
    page.wait_for_function("__commgrid.sent.photo >= 1 && __commgrid.outbox.length === 0", timeout=20_000)
    assert page.evaluate("__commgrid.rejected") == []
    [kept] = stored_photos(served, "井盖缺失 a manhole cover is missing")
    assert kept.format == "JPEG" and not kept.getexif() and max(kept.size) <= 1600
    assert kept.size[0] > kept.size[1]  # still the landscape it was
    assert page.locator("#report-photo").input_value() == ""  # the form is ready for the next report
    assert not errors and page.evaluate("__commgrid.errors") == []
