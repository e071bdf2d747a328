"""Patrol routes and commands: planners and the grid team's scope, never the public nor analysts; imports,
compliance, tracks, reports."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from gis import migrations
from gis.cluster import DATABASE
from gis.errors import InputError
from gis.patrols.reports import add_supervisor
from gis.patrols.store import import_fixes
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer, serving
from tests.gis.patrols import tiny
from tests.gis.patrols.test_readers import gpx_bytes

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
DAY = "2026-11-02"
# the zoom-15 tile on the border of grids A and B
TILE = morecantile.tms.get("WebMercatorQuad").tile(*tiny.lonlat([[400, 200]])[0], 15)
READ_ROUTES = {
    "compliance": ("/patrols/compliance", {"date": DAY}),
    "tracks": ("/patrols/tracks", {"date": DAY}),
    "tile": (f"/patrols/tiles/WebMercatorQuad/15/{TILE.y}/{TILE.x}", {"date": DAY}),
    "calendar": ("/patrols/workers/1/calendar.png", {"month": "2026-11"}),
    "weekly": ("/patrols/weekly", {"week": "2026-W45", "f": "csv"}),
}


@pytest.fixture(scope="module")
def patrols(create_database: Callable[..., URL]) -> tuple[TestClient, URL, dict, dict]:
    """The tiny district with a day of walks; users: analyst, planner, and a grid leader of grid B."""
    url = create_database("patrols_api", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    with begin(engine) as conn:
        ids = tiny.make_district(conn)
        import_fixes(conn, tiny.a_day(ids), file="day")
        headers = {role: bearer(add_user(conn, role, role=role)) for role in ("analyst", "planner")}
        headers["supervisor"] = bearer(
            add_user(conn, "office-b", role="grid_leader", district_id=ids["district"], grids=["B"])
        )
        add_user(conn, "office-analyst", role="analyst")
        with pytest.raises(InputError, match="only a grid_leader leads grids"):
            add_supervisor(conn, "office-analyst", district_id=ids["district"], grid_codes=["B"])
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as client:
        yield client, url, headers, ids


@pytest.mark.parametrize("route", READ_ROUTES)
def test_tracks_are_never_public_nor_for_plain_analysts(patrols, route):
    client, _, headers, _ = patrols
    path, params = READ_ROUTES[route]
    assert client.get(path, params=params).status_code == 401
    denied = client.get(path, params=params, headers=headers["analyst"])
    assert denied.status_code == 403 and "are personal data" in denied.json()["description"]
    assert "--role grid_leader" in denied.json()["description"]  # the way that works
    assert client.get(path, params=params, headers=headers["planner"]).status_code == 200


def test_imports_need_a_planner(patrols):
    client, _, headers, ids = patrols
    body = {"worker_id": ids["worker_b"], "points": [{"time": "2026-11-03T01:00:00Z", "lat": 22.54, "lon": 114.08}]}
    assert client.post("/patrols", json=body).status_code == 401
    assert client.post("/patrols", json=body, headers=headers["supervisor"]).status_code == 403


def test_public_maps_and_tiles_hold_no_tracks(patrols):
    client, _, headers, _ = patrols
    style = client.get("/styles/commgrid", headers=headers["planner"]).text
    assert "patrol" not in style
    tilejson = client.get("/tiles/WebMercatorQuad/tilejson.json", headers=headers["planner"]).json()
    assert all("patrol" not in layer["id"] for layer in tilejson["vector_layers"])


def test_a_grid_leader_sees_the_grids_it_leads_only(patrols):
    client, _, headers, ids = patrols
    compliance = client.get("/patrols/compliance", params={"date": DAY}, headers=headers["supervisor"]).json()
    assert [w["grid_code"] for w in compliance["workers"]] == ["B"]
    tracks = client.get("/patrols/tracks", params={"date": DAY}, headers=headers["supervisor"]).json()
    assert {f["properties"]["grid_code"] for f in tracks["features"]} == {"B"}
    tile = client.get(READ_ROUTES["tile"][0], params={"date": DAY}, headers=headers["supervisor"])
    layer = mapbox_vector_tile.decode(tile.content)["patrol_tracks"]
    assert {f["properties"]["grid_code"] for f in layer["features"]} == {"B"}
    weekly = client.get("/patrols/weekly", params={"week": "2026-W45", "f": "json"}, headers=headers["supervisor"])
    assert [r["grid_code"] for r in weekly.json()["rows"]] == ["B"]
    other = client.get(f"/patrols/workers/{ids['worker_a']}/calendar.png", headers=headers["supervisor"])
    assert other.status_code == 404 and "among those you may see" in other.json()["description"]
    own = client.get(f"/patrols/workers/{ids['worker_b']}/calendar.png", headers=headers["supervisor"])
    assert own.status_code == 200


def test_compliance_as_json_and_csv(patrols):
    client, _, headers, _ = patrols
    got = client.get("/patrols/compliance", params={"date": DAY, "community": "C1"}, headers=headers["planner"])
    body = got.json()
    assert got.headers["cache-control"] == "private, no-store"
    assert body["summary"] == {"workers": 2, "analysed": 2, "compliant": 1}
    assert body["rule"]["timezone"] == "Asia/Shanghai" and body["rule"]["min_visits"] == 2
    first = body["workers"][0]
    assert (first["worker"], first["compliant"], first["long_visits"]) == ("甲", True, 2)
    csv = client.get("/patrols/compliance", params={"date": DAY, "f": "csv"}, headers=headers["planner"])
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("day,worker_id,worker,grid_code,community,analysed,compliant")
    bad = client.get("/patrols/compliance", params={"date": "2026-13-01"}, headers=headers["planner"])
    assert bad.status_code == 422


FORMULAS = ("=cmd|' /C calc'!A0", "@SUM(1+1)*cmd", "+1+1", "-2+3")


@pytest.mark.parametrize("name", FORMULAS)
def test_csv_exports_neutralise_formulas_in_names(patrols, name):
    """A worker's name that a spreadsheet would run as a formula comes out as text, in every CSV."""
    client, url, headers, ids = patrols
    engine = create_engine(url)
    with begin(engine) as conn:
        was = conn.execute(text("SELECT name FROM grid_worker WHERE id = :i"), {"i": ids["worker_a"]}).scalar_one()
        conn.execute(text("UPDATE grid_worker SET name = :n WHERE id = :i"), {"n": name, "i": ids["worker_a"]})
    try:
        compliance = client.get("/patrols/compliance", params={"date": DAY, "f": "csv"}, headers=headers["planner"])
        weekly = client.get("/patrols/weekly", params={"week": "2026-W45", "f": "csv"}, headers=headers["planner"])
        for answer in (compliance, weekly):
            assert answer.status_code == 200, answer.text
            cells = [cell for row in csv.reader(io.StringIO(answer.text)) for cell in row]
            assert "'" + name in cells, answer.text
            assert name not in cells
    finally:
        with begin(engine) as conn:
            conn.execute(text("UPDATE grid_worker SET name = :n WHERE id = :i"), {"n": was, "i": ids["worker_a"]})
        engine.dispose()


def test_tracks_as_geojson_and_tiles(patrols):
    client, _, headers, _ = patrols
    full = client.get("/patrols/tracks", params={"date": DAY}, headers=headers["planner"])
    assert full.headers["content-type"] == "application/geo+json" and full.json()["numberReturned"] == 3
    coarse = client.get("/patrols/tracks", params={"date": DAY, "zoom": 12}, headers=headers["planner"]).json()
    size = lambda doc: sum(len(f["geometry"]["coordinates"]) for f in doc["features"])  # noqa: E731
    assert size(coarse) < size(full.json())
    path = f"/patrols/tiles/WebMercatorQuad/15/{TILE.y}/{TILE.x}"
    tile = client.get(path, params={"date": DAY}, headers=headers["planner"])
    assert tile.status_code == 200 and tile.headers["cache-control"] == "private, no-cache"
    layer = mapbox_vector_tile.decode(tile.content)["patrol_tracks"]
    assert {f["properties"]["grid_code"] for f in layer["features"]} == {"A", "B"}
    again = client.get(
        path, params={"date": DAY}, headers={**headers["planner"], "If-None-Match": tile.headers["etag"]}
    )
    assert again.status_code == 304
    empty = client.get(path, params={"date": "2026-11-05"}, headers=headers["planner"])
    assert empty.status_code == 204


def test_weekly_report_formats(patrols):
    client, _, headers, _ = patrols
    params = {"week": "2026-W45", "community": "C1"}
    pdf = client.get("/patrols/weekly", params=params, headers=headers["planner"])
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    import pypdfium2

    assert len(pypdfium2.PdfDocument(pdf.content)) == 1
    rows = client.get("/patrols/weekly", params={**params, "f": "json"}, headers=headers["planner"]).json()["rows"]
    assert [(r["grid_code"], r["days_compliant"]) for r in rows] == [("A", 1), ("B", 0)]
    bad = client.get("/patrols/weekly", params={"week": "W45"}, headers=headers["planner"])
    assert bad.status_code == 400 and "ISO week" in bad.json()["description"]


def test_post_gpx_and_json(patrols):
    client, _, headers, ids = patrols
    gpx = gpx_bytes([f"2026-11-03T01:00:{s:02d}Z" for s in range(0, 60, 10)])
    got = client.post(
        "/patrols",
        content=gpx,
        params={"worker": ids["worker_b"], "name": "walk.gpx"},
        headers={**headers["planner"], "Content-Type": "application/gpx+xml"},
    )
    assert got.status_code == 201, got.text
    assert got.json()["stored"] == 6 and got.json()["days"] == ["2026-11-03"]
    bad = {"worker_id": ids["worker_b"], "points": [{"time": "2026-11-03T02:00:00Z", "lat": 95, "lon": 114.08}]}
    refused = client.post("/patrols", json=bad, headers=headers["planner"])
    assert refused.status_code == 400
    assert refused.json()["detail"] == {
        "type": "InputError",
        "message": refused.json()["description"],
        "file": "request body",
        "index": 0,
        "feature_id": None,
        "field": "lat",
    }
    wrong = client.post("/patrols", content=b"x", headers={**headers["planner"], "Content-Type": "image/png"})
    assert wrong.status_code == 400 and "Content-Type" in wrong.json()["description"]


def test_cli_import_rule_compliance_report_and_purge(patrols, tmp_path):
    _, url, _, ids = patrols
    db = ["--db", url.render_as_string(hide_password=False)]
    csv = tmp_path / "walks.csv"
    walks = tiny.walk(tiny.ring(500, 100), tiny.at(9, tiny.DAY.replace(day=4)), 70, worker=ids["worker_b"])
    walks.assign(recorded_at=walks["recorded_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)).to_csv(
        csv, index=False
    )
    missing_zone = runner.invoke(cli, ["patrols", "import", str(csv), *db])
    assert missing_zone.exit_code == 2, missing_zone.output
    assert "field 'recorded_at'" in missing_zone.output and "--timezone" in missing_zone.output
    done = runner.invoke(cli, ["patrols", "import", str(csv), "--timezone", "Asia/Shanghai", *db])
    assert done.exit_code == 0, done.output
    assert "421 fixes read, 421 kept" in done.output and "0 of 1 worker-days kept the rule" in done.output
    rule = runner.invoke(cli, ["patrols", "rule", "--min-visits", "1", *db])
    assert rule.exit_code == 0 and "min_visits" in rule.output
    table = runner.invoke(cli, ["patrols", "compliance", "--date", "2026-11-04", "--recompute", *db])
    assert table.exit_code == 0, table.output
    assert "1 of 3 workers kept the rule" in table.output
    runner.invoke(cli, ["patrols", "rule", "--min-visits", "2", *db])
    report = runner.invoke(
        cli, ["report", "weekly", "--week", "2026-W45", "--community", "C1", "--out", str(tmp_path), *db]
    )
    assert report.exit_code == 0, report.output
    assert (tmp_path / "weekly-2026-W45-C1.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "weekly-2026-W45-C1.csv").read_text().startswith("week,community,grid_code")
    bad_week = runner.invoke(cli, ["report", "weekly", "--week", "45", *db])
    assert bad_week.exit_code == 2 and "ISO week" in bad_week.output
    kept = runner.invoke(cli, ["patrols", "purge", "--older-than", "3650", *db])
    assert kept.exit_code == 0 and "deleted 0 fixes" in kept.output
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM patrol_point WHERE recorded_at::date = '2026-11-04'")).scalar()
    engine.dispose()


def test_cli_bad_file_exits_2_and_writes_nothing(patrols, tmp_path):
    _, url, _, _ = patrols
    db = ["--db", url.render_as_string(hide_password=False)]
    engine = create_engine(url)

    def stored() -> int:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM patrol_point")).scalar_one()

    before = stored()
    bad = tmp_path / "bad.csv"
    bad.write_text("device,time,lat,lon\nx,2026-11-02T09:00:00+08:00,22.5,114\nx,2026-11-02T09:00:10+08:00,,114\n")
    result = runner.invoke(cli, ["patrols", "import", str(bad), *db])
    assert result.exit_code == 2
    assert "feature 1, field 'lat': row 1 has nothing, not a number" in " ".join(result.output.split())
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("device,time,lat,lon\nphone-z,2026-11-02T09:00:00+08:00,22.54,114.08\n")
    result = runner.invoke(cli, ["patrols", "import", str(unknown), *db])
    assert result.exit_code == 2 and "devices add DEVICE --worker ID" in " ".join(result.output.split())
    assert stored() == before
    engine.dispose()


def test_the_map_toggles_tracks_for_supervisors_only(patrols, browser):
    _, url, headers, _ = patrols
    with serving(url) as base:
        for who, expected in (("analyst", False), ("planner", True)):
            page = browser.new_page(viewport={"width": 900, "height": 700})
            errors: list[str] = []
            page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
            lon, lat = tiny.lonlat([[400, 200]])[0]
            page.goto(f"{base}/map#15/{lat}/{lon}")
            page.evaluate("t => sessionStorage.setItem('commgrid-token', t)", headers[who]["Authorization"][7:])
            page.reload()
            page.wait_for_function(
                "window.__commgrid && window.__commgrid.ready && window.__commgrid.patrols !== undefined",
                timeout=60_000,
            )
            if expected:
                page.wait_for_selector("#patrols-toggle", timeout=20_000)
                page.fill("#patrols-date", DAY)
                page.check("#patrols-toggle")
                page.wait_for_function(
                    "() => { const m = window.__commgrid.map; return m.getLayer('patrol-tracks') && "
                    "m.isSourceLoaded('patrol-tracks') && "
                    "m.queryRenderedFeatures({layers: ['patrol-tracks']}).length > 0; }",
                    timeout=30_000,
                )
            else:
                assert page.query_selector("#patrols-toggle") is None
            assert errors == [], errors
            page.close()


def test_the_rule_flags_are_the_rules_fields_with_their_defaults():
    """`patrols rule` declares its flags without importing the rule (the analysis is heavy): they must not drift."""
    import re
    from dataclasses import fields
    from typing import get_type_hints

    from api.cli.patrols import RULE_FLAGS
    from gis.patrols.rule import PatrolRule

    types = get_type_hints(PatrolRule)
    defaults = {f.name: f.default for f in fields(PatrolRule)}
    for field, kind, flag, meaning in RULE_FLAGS:
        assert types[field] is kind, field
        shown = re.search(r"\(([\d.]+)\)\.$", meaning)
        assert shown is not None and float(shown[1]) == defaults[field], (flag, meaning, defaults[field])
