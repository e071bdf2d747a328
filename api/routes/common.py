"""Landing page and health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from api.dependencies import Conn

router = APIRouter(tags=["common"])


@router.get("/", operation_id="landing", summary="What this service offers")
def landing(request: Request) -> dict:
    base = str(request.base_url).rstrip("/")
    return {
        "title": "commgrid",
        "description": "Community grid management: grid polygons of the published plan and a web map.",
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/"},
            {"rel": "service-doc", "type": "text/html", "href": f"{base}/docs"},
            {
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
                "href": f"{base}/openapi.json",
            },
            {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
            {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
            {"rel": "items", "type": "application/geo+json", "href": f"{base}/collections/grids/items"},
            {"rel": "alternate", "type": "text/html", "title": "web map", "href": f"{base}/map"},
        ],
    }


@router.get("/healthz", operation_id="health", summary="Service and database health")
def health(conn: Conn) -> dict:
    version = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    return {"status": "ok", "postgis": version}
