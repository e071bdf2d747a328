"""A city of two districts on real Taipei data: Da'an (大安區) and Zhongzheng (中正區).

Each district is partitioned in its villages (里) from ``../shared/data/taipei_min_stat_areas``
and loaded as its own district; skipped with a reason when the folder is absent. The
tests walk what a city needs: both districts on the public side, one narrowed by
``?district=``, a re-counted plan that keeps its own numbers, incidents that keep their
per-grid totals across publishes, refused edits and publishes, archive and roll-back,
drafts hidden from the public, districts on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL
from typer.testing import CliRunner, Result

from api.app import create_app
from api.cli import app
from api.settings import Settings
from gis import columns as C
from gis.cluster import DATABASE
from gis.incidents.store import IncidentWindow, create_incident, grid_counts
from gis.io import read_communities, read_units
from gis.partition_inputs import PartitionInputs, PartitionOutputs, run_partition
from gis.plans.files import read_plan_file
from gis.plans.load import store_plan
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import bearer

pytestmark = pytest.mark.realdata
runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})

# CODEBASE prefix of the basic statistical areas and CPTVID prefix of the villages
DISTRICTS = {"daan": ("A6303", "6300300"), "zz": ("A6305", "6300500")}


@pytest.fixture(scope="module")
def taipei(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Plan files of Da'an and Zhongzheng, each partitioned in its own villages, and inputs of a re-count."""
    folder = shared_data / "taipei_min_stat_areas"
    units = read_units(
        folder / "taipei_min_stat_areas_2017.geojson",
        id_field="CODEBASE",
        households_field="H_CNT",
        population_field="P_CNT",
        missing_counts="zero",
    ).frame
    villages = read_communities(folder / "taipei_villages.geojson", id_field="CPTVID", name_field="VNAME")
    out = tmp_path_factory.mktemp("taipei")
    plans = {}
    for name, (unit_prefix, village_prefix) in DISTRICTS.items():
        mine = units[units[C.UNIT_ID].str.startswith(unit_prefix)].reset_index(drop=True)
        # villages of this district only; a stray unit outside them would make another container
        vill = villages[villages[C.COMMUNITY_ID].str.startswith(village_prefix)].reset_index(drop=True)
        mine.to_file(out / f"{name}-units.gpkg")
        vill.to_file(out / f"{name}-villages.gpkg")
        plans[name] = _partition(out, name, out / f"{name}-units.gpkg")
    # a re-count of Da'an: every tenth unit (10 %) with 7 more households, re-divided
    daan = gpd.read_file(out / "daan-units.gpkg")
    changed = daan.index % 10 == 0
    daan.loc[changed, C.HOUSEHOLDS] += 7
    daan.to_file(out / "daan2-units.gpkg")
    plans["daan2"] = _partition(out, "daan", out / "daan2-units.gpkg", target="daan2")
    plans["changed_units"] = sorted(daan.loc[changed, C.UNIT_ID])  # type: ignore[assignment]
    return plans


def _partition(out: Path, district: str, units: Path, *, target: str | None = None) -> Path:
    path = out / f"{target or district}.gpkg"
    inputs = PartitionInputs(
        units,
        id_field=C.UNIT_ID,
        households_field=C.HOUSEHOLDS,
        population_field=C.POPULATION,
        communities=out / f"{district}-villages.gpkg",
        community_id=C.COMMUNITY_ID,
        community_name=C.COMMUNITY_NAME,
        crs="EPSG:3826",
    )
    run_partition(inputs, PartitionOutputs(path))
    return path


@pytest.fixture(scope="module")
def city(create_database: Callable[..., URL], taipei) -> dict:
    """A store with Da'an ('daan-1') and Zhongzheng ('zz-1') published and a draft of Da'an, served."""
    from gis import migrations

    url = create_database("city", template=DATABASE)
    migrations.upgrade(url)
    engine = create_engine(url)
    with begin(engine) as conn:
        store_plan(conn, read_plan_file(taipei["daan"]), plan="daan-1", district="daan", publish=True)
        store_plan(conn, read_plan_file(taipei["zz"]), plan="zz-1", district="zz", publish=True)
        store_plan(conn, read_plan_file(taipei["daan"]), plan="daan-draft", district="daan", publish=False)
        headers = {
            "planner": bearer(add_user(conn, "city-planner", role="planner")),
            "admin": bearer(add_user(conn, "city-admin", role="admin")),
        }
    settings = Settings(database_url=url.render_as_string(hide_password=False), items_limit_max=5000)
    with TestClient(create_app(settings)) as client:
        yield {"client": client, "url": url, "engine": engine, "headers": headers, "files": taipei}
    engine.dispose()


def _codes(client: TestClient, path: str, **params) -> set[str]:
    resp = client.get(path, params={"limit": 5000, **params})
    assert resp.status_code == 200, resp.text
    return {f["id"] for f in resp.json()["features"]}


def _db(city: dict, sql: str, **params):
    with city["engine"].connect() as conn:
        return conn.execute(text(sql), params).all()


def _commgrid(url: URL, *args: str) -> Result:
    return runner.invoke(app, [*args, "--db", url.render_as_string(hide_password=False)])


def test_both_districts_are_public_and_one_narrows(city):
    client = city["client"]
    daan = {
        r.code
        for r in _db(city, "SELECT g.code FROM grid g JOIN grid_plan p ON p.id = g.plan_id WHERE p.name = 'daan-1'")
    }
    zz = {
        r.code
        for r in _db(city, "SELECT g.code FROM grid g JOIN grid_plan p ON p.id = g.plan_id WHERE p.name = 'zz-1'")
    }
    assert len(daan) > 200 and len(zz) > 100 and not daan & zz
    assert _codes(client, "/collections/grids/items") == daan | zz
    assert _codes(client, "/collections/grids/items", district="zz") == zz
    zz_id = _db(city, "SELECT id FROM district WHERE name = 'zz'")[0].id
    assert _codes(client, "/collections/grids/items", district=str(zz_id)) == zz
    villages = _codes(client, "/collections/communities/items")
    assert {v[:7] for v in villages} == {"6300300", "6300500"}
    assert {v[:7] for v in _codes(client, "/collections/communities/items", district="zz")} == {"6300500"}
    body = client.get("/collections/grids/items", params={"limit": 1}).json()
    assert body["plan"] is None and sorted(body["plans"]) == ["daan-1", "zz-1"]
    # a tile over each district holds grids; /map, /public and the style answer
    for lon, lat in ((121.5435, 25.0265), (121.5170, 25.0320)):  # Da'an, Zhongzheng
        z = 14
        x = int((lon + 180) / 360 * 2**z)
        y = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * 2**z)
        assert client.get(f"/collections/grids/tiles/WebMercatorQuad/{z}/{y}/{x}").status_code == 200
        assert client.get(f"/tiles/WebMercatorQuad/{z}/{y}/{x}").status_code == 200
    tilejson = client.get("/collections/grids/tiles/WebMercatorQuad/tilejson.json", params={"district": "zz"}).json()
    assert tilejson["tiles"][0].endswith("?district=zz")
    for path in ("/map", "/public", "/styles/commgrid", "/collections", "/collections/grids"):
        assert client.get(path).status_code == 200, path
    unknown = client.get("/collections/grids/items", params={"district": "nowhere"})
    assert unknown.status_code == 404 and "daan" not in unknown.text


def test_drafts_are_for_planners_only(city):
    client, planner = city["client"], city["headers"]["planner"]
    anonymous = client.get("/collections/grids/items", params={"plan": "daan-draft"})
    assert anonymous.status_code == 404
    rest = anonymous.json()["description"].replace("'daan-draft'", "")
    for other in ("daan-1", "zz-1", "draft", "published"):
        assert other not in rest
    assert client.get("/collections/grids/items", params={"plan": "no-such"}).json()["description"] == (
        anonymous.json()["description"].replace("daan-draft", "no-such")
    )
    tile = client.get("/collections/grids/tiles/WebMercatorQuad/14/7016/13718", params={"plan": "daan-draft"})
    assert tile.status_code == 404
    seen = client.get("/collections/grids/items", params={"plan": "daan-draft", "limit": 1}, headers=planner)
    assert seen.status_code == 200 and seen.json()["plan"] == "daan-draft"


def test_a_re_counted_plan_serves_its_own_counts(city):
    client, planner, files = city["client"], city["headers"]["planner"], city["files"]
    changed = files["changed_units"]
    result = _commgrid(city["url"], "load", str(files["daan2"]), "--plan", "daan-2", "--district", "daan")
    assert result.exit_code == 0, result.output
    assert f"{len(changed):,} changed" in " ".join(result.stdout.split()), result.stdout
    old = {
        r.unit_id: r.households
        for r in _db(
            city,
            "SELECT u.unit_id, x.households FROM grid_assignment x JOIN unit u ON u.id = x.unit_id "
            "JOIN grid_plan p ON p.id = x.plan_id WHERE p.name = 'daan-1'",
        )
    }
    new = client.get("/collections/units/items", params={"plan": "daan-2", "limit": 5000}, headers=planner).json()[
        "features"
    ]
    got = {f["id"]: f["properties"]["households"] for f in new}
    assert all(got[u] == old[u] + 7 for u in changed)
    unchanged = set(got) - set(changed)
    assert all(got[u] == old[u] for u in unchanged)
    # the earlier plan keeps the numbers it was made from, and its grids still add up
    before = client.get("/collections/units/items", params={"plan": "daan-1", "limit": 5000}, headers=planner).json()[
        "features"
    ]
    assert {f["id"]: f["properties"]["households"] for f in before} == old
    grids = client.get("/collections/grids/items", params={"plan": "daan-2", "limit": 5000}, headers=planner).json()
    assert sum(f["properties"]["households"] for f in grids["features"]) == sum(got.values())
    # the engine's plan passes the whole-plan check and goes public with its own counts
    published = client.post("/plans/daan-2/publish", headers=planner)
    assert published.status_code == 200, published.text
    public = client.get("/collections/units/items", params={"limit": 5000, "district": "daan"}, headers=planner)
    assert {f["id"]: f["properties"]["households"] for f in public.json()["features"]} == got


def test_incidents_keep_their_per_grid_totals_across_publishes(city):
    engine = city["engine"]
    rng = np.random.default_rng(16)
    points = []
    with begin(engine) as conn:
        outline = gpd.read_postgis(
            text("SELECT boundary FROM district WHERE name = 'daan'"), conn, geom_col="boundary"
        ).geometry.iloc[0]
        minx, miny, maxx, maxy = outline.bounds
        while len(points) < 300:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if outline.contains(gpd.points_from_xy([lon], [lat])[0]):
                create_incident(conn, category="sanitation.garbage", lon=lon, lat=lat, actor="t", duplicate_metres=0)
                points.append((lon, lat))
        daan = conn.execute(text("SELECT id FROM district WHERE name = 'daan'")).scalar_one()
    incidents = gpd.GeoDataFrame(geometry=gpd.points_from_xy(*zip(*points, strict=True)), crs=4326)

    def expected(plan: str) -> dict[str, int]:
        """Incidents per grid of ``plan``, counted apart from the store by where the points lie."""
        with engine.connect() as conn:
            grids = gpd.read_postgis(
                text("SELECT g.code, g.geom FROM grid g JOIN grid_plan p ON p.id = g.plan_id WHERE p.name = :p"),
                conn,
                params={"p": plan},
                geom_col="geom",
            )
        joined = gpd.sjoin(incidents, grids, predicate="within")
        return {code: int(joined.code.eq(code).sum()) for code in grids.code}

    published = _db(city, "SELECT p.name FROM grid_plan p WHERE p.district_id = :d AND p.status = 'published'", d=daan)[
        0
    ].name
    with engine.connect() as conn:
        first = grid_counts(conn, IncidentWindow(daan))
    assert first["incidents"].sum() == 300
    assert dict(zip(first.code, first.incidents, strict=True)) == expected(published)
    other = "daan-draft" if published != "daan-draft" else "daan-1"
    result = _commgrid(city["url"], "plans", "publish", other)
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        second = grid_counts(conn, IncidentWindow(daan))
    assert second["incidents"].sum() == 300
    assert dict(zip(second.code, second.incidents, strict=True)) == expected(other)
    analytics = city["client"].get("/analytics/grids", headers=city["headers"]["planner"]).json()
    assert sum(g["incidents"] for g in analytics["grids"]) == 300


def test_an_edit_that_breaks_contiguity_is_refused(city):
    client, planner = city["client"], city["headers"]["planner"]
    if not _db(city, "SELECT 1 FROM grid_plan WHERE name = 'zz-2'"):
        result = _commgrid(city["url"], "load", str(city["files"]["zz"]), "--plan", "zz-2", "--district", "zz")
        assert result.exit_code == 0, result.output
    row = _db(
        city,
        """
        SELECT u.unit_id, h.code FROM grid_plan p
        JOIN grid g ON g.plan_id = p.id JOIN grid_assignment x ON x.grid_id = g.id JOIN unit u ON u.id = x.unit_id
        JOIN grid h ON h.plan_id = p.id AND h.community_id = g.community_id AND h.id <> g.id
        WHERE p.name = 'zz-2' AND ST_NumGeometries(h.geom) = 1 AND NOT ST_Intersects(u.geom, h.geom)
        ORDER BY u.unit_id LIMIT 1
        """,
    )
    unit, far_grid = row[0]
    plan = client.get("/plans/zz-2", headers=planner).json()
    edit = client.patch(
        "/plans/zz-2/assignment", headers=planner, json={"units": [unit], "grid": far_grid, "version": plan["version"]}
    )
    assert edit.status_code == 422, edit.text
    detail = edit.json()["detail"]
    assert detail["field"] == "contiguous" and detail["feature_id"] == [far_grid]
    assert client.get("/plans/zz-2", headers=planner).json()["version"] == plan["version"]


def test_publish_refuses_an_invalid_plan_with_the_report(city):
    client, planner = city["client"], city["headers"]["planner"]
    if not _db(city, "SELECT 1 FROM grid_plan WHERE name = 'zz-2'"):
        assert (
            _commgrid(city["url"], "load", str(city["files"]["zz"]), "--plan", "zz-2", "--district", "zz").returncode
            == 0
        )
    # a unit put into a grid of another village, behind the edit's back
    with begin(city["engine"]) as conn:
        conn.execute(
            text(
                """
                UPDATE grid_assignment x SET grid_id = (
                    SELECT h.id FROM grid h WHERE h.plan_id = x.plan_id AND h.community_id <> g.community_id
                    ORDER BY h.code LIMIT 1)
                FROM grid g WHERE g.id = x.grid_id AND x.plan_id = (SELECT id FROM grid_plan WHERE name = 'zz-2')
                  AND x.unit_id = (SELECT min(unit_id) FROM grid_assignment y
                                   WHERE y.plan_id = x.plan_id)
                """
            )
        )
    refused = client.post("/plans/zz-2/publish", headers=planner)
    assert refused.status_code == 422, refused.text
    report = refused.json()["detail"]["report"]
    assert report["valid"] is False and report["not_nested"]
    assert _db(city, "SELECT status FROM grid_plan WHERE name = 'zz-2'")[0].status == "draft"
    assert _db(city, "SELECT status FROM grid_plan WHERE name = 'zz-1'")[0].status == "published"


def test_archive_takes_a_district_off_the_map_and_publish_rolls_back(city):
    client, planner = city["client"], city["headers"]["planner"]
    zz = _codes(client, "/collections/grids/items", district="zz")
    result = _commgrid(city["url"], "plans", "archive", "zz-1")
    assert result.exit_code == 0, result.output
    assert client.get("/collections/grids/items", params={"district": "zz"}).status_code == 404
    assert not _codes(client, "/collections/grids/items") & zz
    assert client.post("/plans/zz-1/archive", headers=planner).status_code == 409
    rolled = client.post("/plans/zz-1/publish", headers=planner)
    assert rolled.status_code == 200, rolled.text
    assert _codes(client, "/collections/grids/items", district="zz") == zz
    # the public history: at an instant before the roll-back, zz had no plan
    plans = {p["name"]: p for p in client.get("/plans", headers=planner).json()["plans"]}
    assert plans["zz-1"]["status"] == "published" and plans["zz-1"]["valid_to"] is None


def test_drafts_are_deleted_and_history_stays(city):
    client, planner = city["client"], city["headers"]["planner"]
    result = _commgrid(city["url"], "load", str(city["files"]["zz"]), "--plan", "zz-scrap", "--district", "zz")
    assert result.exit_code == 0, result.output
    assert client.delete("/plans/zz-scrap").status_code == 401
    assert client.delete("/plans/zz-scrap", headers=planner).status_code == 204
    assert client.get("/plans/zz-scrap", headers=planner).status_code == 404
    assert client.delete("/plans/zz-1", headers=planner).status_code == 409


def test_districts_on_their_own(city, shared_data):
    client, admin = city["client"], city["headers"]["admin"]
    towns = shared_data / "taipei_min_stat_areas" / "taipei_districts.geojson"
    result = _commgrid(city["url"], "districts", "add", "nangang", "--boundary", str(towns), "--select", "TNAME=南港區")
    assert result.exit_code == 0, result.output
    listed = {d["name"]: d for d in client.get("/districts", headers=admin).json()["districts"]}
    assert listed["nangang"]["plans"] == 0 and listed["nangang"]["published"] is None
    assert listed["zz"]["published"] is not None
    # incidents come in before any plan: placed in the district, no grid yet
    with begin(city["engine"]) as conn:
        create_incident(conn, category="sanitation.garbage", lon=121.607, lat=25.055, actor="test")
    refused = _commgrid(city["url"], "districts", "remove", "zz")
    assert refused.exit_code != 0 and "plans" in refused.output
    assert client.delete("/districts/nangang", headers=admin).status_code == 409  # it holds an incident
    square = {"type": "Polygon", "coordinates": [[[121.0, 24.0], [121.01, 24.0], [121.01, 24.01], [121.0, 24.0]]]}
    added = client.post(
        "/districts", headers=admin, json={"name": "empty", "working_crs": "EPSG:3826", "boundary": square}
    )
    assert added.status_code == 201, added.text
    assert client.post("/districts", headers=city["headers"]["planner"], json={}).status_code == 403
    assert client.delete("/districts/empty", headers=admin).status_code == 204
    assert _commgrid(city["url"], "districts", "list").exit_code == 0


def test_the_map_shows_the_city_and_one_district(city, browser):
    from tests.api.conftest import serving
    from tests.api.test_map_browser import open_map

    with serving(city["url"]) as base:
        page, console_errors = open_map(browser, f"{base}/map")
        assert page.evaluate("window.__commgrid.errors") == [] and console_errors == []
        label = page.inner_text("#plan")
        assert label.startswith("plans ") and "zz-" in label and "daan" in label
        page.close()
        page, console_errors = open_map(browser, f"{base}/map?district=zz")
        assert page.evaluate("window.__commgrid.errors") == [] and console_errors == []
        assert page.inner_text("#plan").startswith("plan zz-")
        page.close()
        public = browser.new_page()
        public.goto(f"{base}/public")
        assert public.title()
        public.close()
