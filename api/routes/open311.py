"""Open311 GeoReport v2: the services (taxonomy categories), and service requests to post and read.

Anyone may post a request (``POST /open311/v2/requests.json``, form-encoded as the
standard has it, or JSON); it becomes an incident placed in its district and grid like
any other, reported by ``open311``. The public read view (``GET .../requests.json``)
never carries reporter fields, descriptions or raw points: it lists incidents of public
categories flagged public, reported at least ``incident_public_delay_hours`` ago
(24 by default), placed at a point inside their grid, and only in grids holding at
least ``incident_public_min_count`` of them (3 by default; smaller groups are suppressed).
Only JSON is served. A read names at most :data:`MAX_REQUEST_IDS` ids (one query answers
them); posted fields are held to the lengths of :data:`FIELD_CHARS`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Query, Request, status
from fastapi.responses import JSONResponse

from api.bodies import parse_json
from api.dependencies import Conn, Instant
from api.incident_classes import notify_after_intake
from api.routes.common import MAX_ID
from api.routes.incidents import Tax, calendar, duplicate_window
from api.text import CODE_CHARS, DESCRIPTION_CHARS, NAME_CHARS, PHONE_CHARS
from gis import clock
from gis.errors import InputError
from gis.incidents.store import create_incident, public_requests

__all__ = ["router"]

router = APIRouter(prefix="/open311/v2", tags=["open311"])

Lang = Annotated[Literal["en", "zh"], Query(description="language of service names")]


def _service(category: Any, tax: Any, lang: str) -> dict[str, Any]:
    top = tax.find(category.code.split(".")[0])
    return {
        "service_code": category.code,
        "service_name": category.en if lang == "en" else category.zh,
        "description": category.zh if lang == "en" else category.en,
        "metadata": False,
        "type": "realtime",
        "keywords": "",
        "group": top.en if lang == "en" else top.zh,
    }


@router.get("/services.json", operation_id="open311_services", summary="Open311 services: the incident categories")
def open311_services(tax: Tax, lang: Lang = "en") -> list[dict[str, Any]]:
    return [_service(c, tax, lang) for c in tax if c.level >= 2]


# The Open311 fields a request may carry and how long each may be (api/text.py); others are ignored.
FIELD_CHARS = {
    "service_code": CODE_CHARS,
    "lat": 40,
    "long": 40,
    "address_string": NAME_CHARS,
    "description": DESCRIPTION_CHARS,
    "first_name": NAME_CHARS,
    "last_name": NAME_CHARS,
    "phone": PHONE_CHARS,
    "email": NAME_CHARS,
    "device_id": NAME_CHARS,
    "account_id": NAME_CHARS,
    "media_url": NAME_CHARS,
}
_FORM = {
    "type": "object",
    "required": ["service_code", "lat", "long"],
    "properties": {name: {"type": "string", "maxLength": most} for name, most in FIELD_CHARS.items()},
}
_KINDS = ("application/x-www-form-urlencoded", "application/json")
# Most ids one read may name: one query answers them all, and the answer holds at most 1,000 rows anyway.
MAX_REQUEST_IDS = 1000


async def _fields(request: Request) -> dict[str, str]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        data = parse_json(raw or b"{}")  # api.bodies refused hostile JSON already; this parses it the same way
        if not isinstance(data, dict):
            raise InputError("the JSON body must be an object of request fields", field="body")
        fields = {k: str(v) for k, v in data.items() if v is not None}
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"the form is not UTF-8 (byte {exc.start}); send UTF-8", field="body") from None
        fields = {k: v[0] for k, v in parse_qs(text, keep_blank_values=False).items()}
    for name, value in fields.items():
        most = FIELD_CHARS.get(name)
        if most is not None and len(value) > most:
            raise InputError(f"{name!r} has {len(value):,} characters; at most {most:,} are kept", field=name)
    return fields


def _coordinate(fields: dict[str, str], name: str, bound: float) -> float:
    try:
        value = float(fields[name])
    except KeyError:
        raise InputError(
            f"{name!r} is missing: give lat and long in WGS 84 (addresses alone are not located)", field=name
        ) from None
    except ValueError:
        raise InputError(f"{name}={fields[name]!r} is not a number", field=name) from None
    if not -bound <= value <= bound:
        raise InputError(f"{name}={value} is outside [-{bound}, {bound}]", field=name)
    return value


@router.post(
    "/requests.json",
    operation_id="open311_request_create",
    summary="Post an Open311 service request; it becomes an incident (public)",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={"requestBody": {"required": True, "content": {kind: {"schema": _FORM} for kind in _KINDS}}},
)
async def open311_request_create(request: Request, tax: Tax, background: BackgroundTasks) -> list[dict[str, Any]]:
    from starlette.concurrency import run_in_threadpool

    from gis.store import begin

    fields = await _fields(request)
    if "service_code" not in fields:
        raise InputError("'service_code' is missing: GET /open311/v2/services.json lists them", field="service_code")
    lat, lon = _coordinate(fields, "lat", 90), _coordinate(fields, "long", 180)
    name = " ".join(fields[k] for k in ("first_name", "last_name") if fields.get(k)) or None
    description = fields.get("description")
    if fields.get("address_string"):
        description = f"{description or ''}\n{fields['address_string']}".strip()

    def store() -> int:
        with begin(request.app.state.engine) as conn:
            new = create_incident(
                conn,
                category=fields["service_code"],
                lon=lon,
                lat=lat,
                actor="open311",
                taxonomy=tax,
                description=description,
                reporter_name=name,
                reporter_phone=fields.get("phone"),
                source="open311",
                **duplicate_window(request),
            )
            notify_after_intake(request, conn, new, background, taxonomy=tax, calendar=calendar(request))
            return new

    new = await run_in_threadpool(store)
    return [{"service_request_id": str(new), "service_notice": "", "account_id": None}]


def _open311(row: dict[str, Any], tax: Any) -> dict[str, Any]:
    closed = row["status"] in ("closed", "invalid", "duplicate")
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if closed else "open",
        "status_notes": row["status"],
        "service_name": tax.find(row["category"]).en if row["category"] in tax else row["category"],
        "service_code": row["category"],
        "description": None,
        "agency_responsible": None,
        "requested_datetime": row["reported_at"].isoformat(),
        "updated_datetime": row["status_at"].isoformat(),
        "address": f"grid {row['grid_code']}",
        "lat": round(row["lat"], 6),
        "long": round(row["lon"], 6),
    }


@router.get(
    "/requests.json",
    operation_id="open311_requests",
    summary="Open311 service requests, public view: public categories, at their grid, no reporter (public)",
    response_class=JSONResponse,
)
def open311_requests(
    conn: Conn,
    tax: Tax,
    request: Request,
    service_request_id: Annotated[
        str | None,
        Query(description=f"comma-separated ids, at most {MAX_REQUEST_IDS:,}", max_length=12 * MAX_REQUEST_IDS),
    ] = None,
    service_code: Annotated[
        str | None, Query(description="a category code; sub-categories count too", max_length=CODE_CHARS)
    ] = None,
    start_date: Instant | None = None,
    end_date: Instant | None = None,
    state: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None,
) -> list[dict[str, Any]]:
    settings = request.app.state.settings
    delay = float(settings.incident_public_delay_hours)
    k = int(settings.incident_public_min_count)
    if service_code:
        tax.find(service_code, field="service_code")
    ids = None
    if service_request_id:
        try:
            ids = [int(v) for v in service_request_id.split(",")]
        except ValueError:
            raise InputError(
                f"service_request_id={service_request_id[:40]!r}: expected ids separated by commas",
                field="service_request_id",
            ) from None
        if len(ids) > MAX_REQUEST_IDS:
            raise InputError(
                f"service_request_id names {len(ids):,} ids; at most {MAX_REQUEST_IDS:,} per request",
                field="service_request_id",
            )
        if not all(1 <= one <= MAX_ID for one in ids):
            raise InputError(f"service_request_id: ids are 1 to {MAX_ID}", field="service_request_id")
    rows = public_requests(
        conn,
        categories=[c.code for c in tax if c.public],
        cutoff=clock.now() - timedelta(hours=delay),
        min_count=k,
        request_ids=ids,
        category=service_code,
        start=start_date,
        end=end_date,
        closed=None if state is None else state == "closed",
    )
    return [_open311(r, tax) for r in rows]
