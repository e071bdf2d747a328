"""No personal data on public routes: a crawl of every public GET route over a store full of it.

The store holds the sample plan and, marked with sentinel values no real data carries:

- grid workers: the posted contact of grid A (name and work phone are posted: allowed),
  the worker they replaced (retired: never shown), one without a grid, the posted
  contact of grid B; grid A's worker carries a personal phone as their patrol device
  and in the EXIF of their portrait;
- incidents in grid B with reporter names, phones, descriptions and handling notes,
  public and old enough for the Open311 public view, and one that is not public;
- a patrol walk of grid A's worker, by that personal phone;
- a unit with household and resident counts of its own (per-unit counts are planner data).

Every GET route whose role in :data:`api.access.ROUTE_ROLES` is public is called with its
path parameters filled from the stored data (a route with a parameter nobody knows how
to fill fails the test, so a new public route is crawled or noticed). JSON is searched
for the sentinels, for the walk's points and for the unit counts; PDFs as their text;
images and HTML as bytes; vector tiles decoded, layer by layer.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from itertools import product
from typing import Any
from zoneinfo import ZoneInfo

import mapbox_vector_tile
import morecantile
import numpy as np
import pypdfium2
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection

from api.access import ROUTE_ROLES, Role, api_routes, route_id
from api.app import create_app
from api.settings import Settings
from gis import clock
from gis.incidents import DEFAULT
from gis.incidents.store import create_incident, transition
from gis.io import read_barriers
from gis.patrols.readers import read_json
from gis.patrols.store import add_device, import_fixes, set_rule
from gis.plans.store import write_barriers
from gis.store import begin, create_engine
from gis.store.users import add_user
from gis.workers.store import assign_worker
from tests.api.conftest import bearer, database_with_plans
from tiles.catalogue import CATALOGUE

REPORTER_NAME = "探针报告人Qzxw"
REPORTER_PHONE = "139-0077-4411"
DESCRIPTION = "探针描述Dscq: 住在三楼东户"
NOTE = "探针备注Ntqz"
PERSONAL_PHONE = "+86 138 5566 2299"
RETIRED_NAME = "探针离任Rtwk"
RETIRED_PHONE = "0755-6060 7171"
UNASSIGNED_NAME = "探针无格Unas"
UNASSIGNED_PHONE = "0755-6161 7272"
POSTED = {"name": "王晓梅", "work_phone": "0755-8888 1234"}  # grid A's posted contact: public by design
SECRETS = (REPORTER_NAME, REPORTER_PHONE, DESCRIPTION, NOTE, PERSONAL_PHONE, RETIRED_NAME, RETIRED_PHONE,
           UNASSIGNED_NAME, UNASSIGNED_PHONE)  # fmt: skip
# what survives any encoding: the ASCII tails and the bare digits of the phones
MARKERS = ("Qzxw", "Dscq", "Ntqz", "Rtwk", "Unas", "13900774411", "8613855662299", "075560607171", "075561617272")
UNIT_COUNTS = (86_421, 97_531)  # households, residents of one unit
TMS = morecantile.tms.get("WebMercatorQuad")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _portrait() -> bytes:
    """A JPEG whose EXIF names the personal phone (the store must drop it)."""
    image = Image.new("RGB", (240, 320), (200, 180, 160))
    exif = Image.Exif()
    exif[0x013B] = f"owner {PERSONAL_PHONE}"  # Artist
    exif[0x9286] = f"call {PERSONAL_PHONE}"  # UserComment
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def _point_in(conn: Connection, code: str, plan: str) -> tuple[float, float]:
    row = conn.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(g.geom) AS p FROM grid g "
            "JOIN grid_plan gp ON gp.id = g.plan_id WHERE gp.name = :plan AND g.code = :code) s"
        ),
        {"plan": plan, "code": code},
    ).one()
    return float(row[0]), float(row[1])


def populate(conn: Connection, *, plan: str) -> dict[str, Any]:
    """Put the personal data of the module docstring into a store holding ``plan`` (published).

    Returns what a crawl needs: grid codes (``a``, ``b``, ``c`` without a worker), the
    walk's points, unit ids, worker, incident and job ids.
    """
    codes = conn.execute(
        text("SELECT g.code FROM grid g JOIN grid_plan p ON p.id = g.plan_id WHERE p.name = :p ORDER BY g.code"),
        {"p": plan},
    ).scalars()
    a, b, c = list(codes)[:3]
    district_id = conn.execute(text("SELECT district_id FROM grid_plan WHERE name = :p"), {"p": plan}).scalar_one()
    retired = assign_worker(conn, grid_code=a, name=RETIRED_NAME, work_phone=RETIRED_PHONE, duties="巡查")
    active = assign_worker(conn, grid_code=a, photo=_portrait(), duties="巡查、走访", **POSTED)
    other = assign_worker(conn, grid_code=b, name="李探针", work_phone="0755-8888 5678")
    unassigned = conn.execute(
        text(
            "INSERT INTO grid_worker (district_id, grid_code, name, work_phone) VALUES (:d, NULL, :n, :p) RETURNING id"
        ),
        {"d": district_id, "n": UNASSIGNED_NAME, "p": UNASSIGNED_PHONE},
    ).scalar_one()
    # a walk of grid A by the worker's personal phone, yesterday
    set_rule(conn, district_id, timezone="Asia/Shanghai")
    add_device(conn, PERSONAL_PHONE, active.id)
    lon, lat = _point_in(conn, a, plan)
    angle = np.linspace(0.0, 2 * np.pi, 120, endpoint=False)
    walk = np.c_[lon + 0.0004 * np.cos(angle), lat + 0.0004 * np.sin(angle)]
    # 09:00 in Shanghai yesterday, whatever the hour of the frozen clock
    day = clock.today(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)
    start = datetime.combine(day, time(9), tzinfo=ZoneInfo("Asia/Shanghai"))
    points = [
        {"time": (start + timedelta(seconds=10 * i)).isoformat(), "lon": float(x), "lat": float(y)}
        for i, (x, y) in enumerate(walk)
    ]
    import_fixes(conn, read_json({"device": PERSONAL_PHONE, "points": points}), file="walk")
    # incidents of grid B: four public ones, days apart (not near-duplicates), and a private one
    blon, blat = _point_in(conn, b, plan)
    incidents = []
    for days in (3, 4, 5, 6, 7):
        category = "sanitation.garbage" if days < 7 else "public_security.assault"
        incidents.append(
            create_incident(
                conn,
                category=category,
                lon=blon,
                lat=blat,
                actor="probe",
                taxonomy=DEFAULT,
                description=DESCRIPTION,
                reporter_name=REPORTER_NAME,
                reporter_phone=REPORTER_PHONE,
                reported_at=clock.now() - timedelta(days=days),
            )
        )
    transition(conn, incidents[0], to="accepted", actor="probe", note=NOTE)
    units = conn.execute(
        text("SELECT u.unit_id FROM unit u WHERE u.district_id = :d ORDER BY u.unit_id"), {"d": district_id}
    ).scalars()
    units = list(units)
    conn.execute(
        text("UPDATE unit SET households = :h, population = :p WHERE district_id = :d AND unit_id = :u"),
        {"h": UNIT_COUNTS[0], "p": UNIT_COUNTS[1], "d": district_id, "u": units[0]},
    )
    # the plans' own counts of that unit too (each plan keeps the counts it was made from)
    conn.execute(
        text(
            "UPDATE grid_assignment SET households = :h, population = :p "
            "WHERE unit_id = (SELECT id FROM unit WHERE district_id = :d AND unit_id = :u)"
        ),
        {"h": UNIT_COUNTS[0], "p": UNIT_COUNTS[1], "d": district_id, "u": units[0]},
    )
    job = conn.execute(
        text("INSERT INTO job (id, kind, params) VALUES ('probejob0001', 'partition', '{}') RETURNING id")
    ).scalar_one()
    return {
        "codes": (a, b, c),
        "walk": walk,
        "units": units,
        "workers": (active.id, retired.id, other.id, unassigned),
        "incidents": incidents,
        "job": job,
        "point": (lon, lat),
    }


@pytest.fixture(scope="module")
def crawl(
    create_database: Callable[..., URL], sample_plan, sample_inputs
) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    url = database_with_plans(create_database, "privacy", sample_plan.gpkg, {"p1": True})
    engine = create_engine(url)
    with begin(engine) as conn:
        stored = populate(conn, plan="p1")
        district_id = conn.execute(text("SELECT district_id FROM grid_plan WHERE name = 'p1'")).scalar_one()
        streets = read_barriers(sample_inputs["barriers"], class_field="barrier_class", name_field="name")
        write_barriers(conn, district_id, streets, name_field="name")
        stored["street"] = str(conn.execute(text("SELECT min(id) FROM barrier")).scalar_one())
        stored["community"] = conn.execute(text("SELECT community_id FROM community ORDER BY 1 LIMIT 1")).scalar_one()
        stored["tokens"] = {role: add_user(conn, f"privacy-{role}", role=role) for role in ("analyst", "planner")}
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url.render_as_string(hide_password=False)))) as client:
        yield client, stored


def _tiles(stored: dict[str, Any]) -> list[tuple[int, int, int]]:
    """Tiles (z, y, x) over the walk and the incidents, from the district's view to the street's."""
    lon, lat = stored["point"]
    out = []
    for z in (12, 14, 16, 18):
        t = TMS.tile(lon, lat, z)
        out.append((z, t.y, t.x))
    return out


def _fill(path: str, stored: dict[str, Any]) -> list[str]:
    """Every URL of ``path`` with its parameters filled from the stored data."""
    a, b, c = stored["codes"]
    values: dict[str, list[str]] = {
        "code": [a, b, c],
        "collection_id": [*CATALOGUE],
        "tms_id": ["WebMercatorQuad"],
        "community": [stored["community"]],
    }
    feature_ids = {"grids": [a, b, c], "communities": [stored["community"]], "streets": [stored["street"]]}
    names = re.findall(r"{(\w+)}", path)
    if {"z", "y", "x"} <= set(names):
        tiles = _tiles(stored)
        rest = [n for n in names if n not in ("z", "y", "x")]
        urls = []
        for (z, y, x), combo in product(tiles, product(*(values[n] for n in rest))):
            url = path.replace("{z}", str(z)).replace("{y}", str(y)).replace("{x}", str(x))
            for n, v in zip(rest, combo, strict=True):
                url = url.replace("{" + n + "}", v)
            urls.append(url)
        return urls
    if "feature_id" in names:
        collection = path.split("/")[2]
        ids = feature_ids.get(collection, [a]) if collection != "{collection_id}" else [a]
        path = path.replace("{collection_id}", "grids")
        return [path.replace("{feature_id}", i) for i in ids]
    missing = [n for n in names if n not in values]
    assert not missing, f"the crawl does not know how to fill {missing} of the public route {path}: add them"
    urls = [path]
    for n in names:
        urls = [u.replace("{" + n + "}", v) for u in urls for v in values[n]]
    return urls


def _queries(doc: dict, route, stored: dict[str, Any]) -> list[dict[str, Any]]:
    """The query of each call: required parameters filled, and variants of those that widen what is read."""
    lon, lat = stored["point"]
    known = {"lon": lon, "lat": lat, "q": stored["codes"][0][-5:]}
    parameters = doc["paths"].get(route.path, {}).get("get", {}).get("parameters", [])
    required = [p["name"] for p in parameters if p["in"] == "query" and p.get("required")]
    missing = [n for n in required if n not in known]
    assert not missing, f"the crawl does not know how to fill the query {missing} of the public route {route.path}"
    query = {n: known[n] for n in required}
    if route.path.endswith("/items"):
        query["limit"] = 10_000
    variants = [query]
    optional = {p["name"] for p in parameters if p["in"] == "query"}
    if "collections" in optional:  # asking for every layer by name must not open the planner's ones
        variants += [{**query, "collections": name} for name in CATALOGUE]
    if route.path == "/public/search":  # a search for people must find nobody
        variants += [{**query, "q": q} for q in (POSTED["name"], RETIRED_NAME, UNASSIGNED_NAME, REPORTER_NAME)]
    if "service_request_id" in optional:
        variants += [{**query, "service_request_id": i} for i in stored["incidents"]]
    return variants


def public_requests(app, stored: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(route id, URL, query) of every public GET route, filled in."""
    out = []
    doc = app.openapi()
    for route in api_routes(app.routes):
        if "GET" not in route.methods or ROUTE_ROLES[route_id(route)] != Role.PUBLIC:
            continue
        for url in _fill(route.path, stored):
            out += [(route_id(route), url, query) for query in _queries(doc, route, stored)]
    return out


def _pairs(value: Any) -> Iterator[tuple[float, float]]:
    """Every [x, y] pair of numbers anywhere in a JSON value."""
    if isinstance(value, list):
        if len(value) >= 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:2]):
            yield float(value[0]), float(value[1])
        for v in value:
            yield from _pairs(v)
    elif isinstance(value, dict):
        pairs = {k.lower(): v for k, v in value.items()}
        if isinstance(pairs.get("lon"), int | float) and isinstance(pairs.get("lat"), int | float):
            yield float(pairs["lon"]), float(pairs["lat"])
        for v in value.values():
            yield from _pairs(v)


def _scalars(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v)
    else:
        yield value


def _leaks_in_text(body: str) -> list[str]:
    found = [s for s in SECRETS if s in body]
    found += [m for m in MARKERS if m in body or m in _digits(body)]
    return found


def _leaks(response, stored: dict[str, Any]) -> list[str]:
    kind = response.headers.get("content-type", "").split(";")[0]
    body = response.content
    if kind.endswith("json"):
        doc = response.json()
        found = _leaks_in_text(json.dumps(doc, ensure_ascii=False))
        walk = stored["walk"]
        for x, y in _pairs(doc):
            if np.any((np.abs(walk[:, 0] - x) < 1e-6) & (np.abs(walk[:, 1] - y) < 1e-6)):
                found.append(f"track point {x}, {y}")
        units = set(stored["units"])
        for v in _scalars(doc):
            if isinstance(v, int) and v in UNIT_COUNTS:
                found.append(f"unit count {v}")
            if isinstance(v, str) and v in units:
                found.append(f"unit id {v}")
        return found
    if kind == "application/pdf":
        pdf = pypdfium2.PdfDocument(body)
        page_text = "".join(page.get_textpage().get_text_range() for page in pdf)
        return _leaks_in_text(page_text) + [f"unit count {n}" for n in UNIT_COUNTS if str(n) in page_text]
    if kind == "application/vnd.mapbox-vector-tile":
        layers = mapbox_vector_tile.decode(body)
        found = [f"layer {name}" for name in layers if name in ("units", "incidents", "patrol_tracks")]
        for layer in layers.values():
            for feature in layer["features"]:
                props = feature["properties"]
                found += _leaks_in_text(json.dumps(props, ensure_ascii=False))
                found += [f"unit count {v}" for v in props.values() if v in UNIT_COUNTS]
        return found
    # HTML, PNG, JPEG: the bytes (EXIF and text chunks are plain ASCII)
    raw = body.decode("latin-1")
    return _leaks_in_text(body.decode("utf-8", errors="ignore")) + [m for m in MARKERS if m in raw]


def test_public_routes_hold_no_personal_data(crawl):
    client, stored = crawl
    requests = public_requests(client.app, stored)
    answered: dict[str, set[int]] = {}
    leaks = []
    for op, url, query in requests:
        response = client.get(url, params=query)
        answered.setdefault(op, set()).add(response.status_code)
        assert response.status_code < 500, f"{url}: {response.status_code} {response.text[:300]}"
        if response.status_code == 200:
            leaks += [f"{url}: {what}" for what in _leaks(response, stored)]
    assert not leaks, "\n".join(leaks)
    # the crawl must have read something: every public route but the catch-alls for unknown collections
    empty = sorted(op for op, codes in answered.items() if 200 not in codes and not op.startswith("unknown_"))
    assert not empty, f"public routes that never answered 200 in the crawl: {empty}"
    assert {"public_contact", "grid_poster_pdf", "grid_cards_pdf", "open311_requests", "grids_tile"} <= set(answered)


def test_the_crawl_sees_the_posted_contact_and_the_public_incidents(crawl):
    """The fixture is not vacuous: what may be public is, so its absence elsewhere means something."""
    client, stored = crawl
    a = stored["codes"][0]
    contact = client.get(f"/public/contacts/{a}").json()
    assert contact["worker"]["name"] == POSTED["name"]
    assert contact["worker"]["work_phone"] == POSTED["work_phone"]
    photo = client.get(f"/grids/{a}/worker-photo")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    shown = client.get("/open311/v2/requests.json").json()
    assert {r["service_request_id"] for r in shown} >= {str(i) for i in stored["incidents"][:4]}


@pytest.mark.parametrize(
    ("role", "url", "query", "expected"),
    [
        ("analyst", "/incidents/{incident}", {}, [REPORTER_NAME, REPORTER_PHONE, DESCRIPTION, NOTE]),
        ("planner", "/patrols/tracks", {"date": "{day}"}, ["track point"]),
        ("planner", "/collections/units/items", {"limit": 10_000}, ["unit count 86421", "unit id U00001"]),
        ("planner", "/workers", {}, [RETIRED_NAME, UNASSIGNED_PHONE]),
    ],
)
def test_the_detector_finds_personal_data_where_it_is_allowed(crawl, role, url, query, expected):
    """Positive controls: on the routes meant for it the same checks do find the sentinels."""
    client, stored = crawl
    day = (clock.today(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).isoformat()
    url = url.format(incident=stored["incidents"][0])
    query = {k: v.format(day=day) if isinstance(v, str) else v for k, v in query.items()}
    response = client.get(url, params=query, headers=bearer(stored["tokens"][role]))
    assert response.status_code == 200, response.text
    found = _leaks(response, stored)
    assert all(any(e in f for f in found) for e in expected), found


def test_posters_are_read_as_text(crawl):
    """The PDF check reads the poster's words: the posted name is there."""
    client, stored = crawl
    poster = client.get(f"/grids/{stored['codes'][0]}/poster.pdf")
    pdf = pypdfium2.PdfDocument(poster.content)
    assert POSTED["name"] in "".join(page.get_textpage().get_text_range() for page in pdf)
