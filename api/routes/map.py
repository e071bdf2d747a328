"""The web map page (self-contained: works on machines without internet)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["map"])


@router.get("/map", response_class=HTMLResponse, operation_id="web_map", summary="Interactive grid map")
def web_map() -> HTMLResponse:
    page = resources.files("api").joinpath("static/map.html").read_text(encoding="utf-8")
    return HTMLResponse(page)
