"""The web map: the page, its MapLibre style, and who the caller is."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.access import Who
from api.routes.features import Shown
from api.style import map_style
from gis.errors import CommgridError
from tiles.catalogue import CATALOGUE

router = APIRouter(tags=["map"])

# MapLibre GL JS, installed from npm by scripts/setup.sh (api/static/vendor/package.json)
VENDOR = Path(str(resources.files("api"))) / "static" / "vendor" / "node_modules" / "maplibre-gl" / "dist"


class WebMapMissingError(CommgridError):
    http_status = 503


def static_text(name: str) -> str:
    """A file of ``api/static``."""
    return resources.files("api").joinpath(f"static/{name}").read_text(encoding="utf-8")


def maplibre_page(html: str) -> HTMLResponse:
    """A page that draws with MapLibre, refused (503) while MapLibre is not installed."""
    if not (VENDOR / "maplibre-gl.mjs").is_file():
        raise WebMapMissingError(
            f"MapLibre GL JS is not installed in {VENDOR.parent}; run `bash scripts/setup.sh` "
            "(it runs `npm ci` in api/static/vendor)"
        )
    return HTMLResponse(html)


def map_page(name: str) -> HTMLResponse:
    """A page of ``api/static`` that draws with MapLibre, refused (503) while MapLibre is not installed."""
    return maplibre_page(static_text(name))


def add_map_page(router: APIRouter, path: str, name: str, *, operation_id: str, summary: str) -> None:
    """Serve ``name`` of ``api/static``, a page that draws with MapLibre and holds no data, at ``path``."""

    def page() -> HTMLResponse:
        return map_page(name)

    router.add_api_route(path, page, response_class=HTMLResponse, operation_id=operation_id, summary=summary)


add_map_page(router, "/map", "map.html", operation_id="web_map", summary="Interactive grid map")


@router.get("/styles/commgrid", operation_id="style", summary="MapLibre style of the web map, for the caller's role")
def style(request: Request, who: Who, shown: Shown) -> dict:
    settings = request.app.state.settings
    return map_style(
        str(request.base_url).rstrip("/"),
        who.readable(CATALOGUE),
        plan=shown.plan,
        district=shown.district,
        basemap_url=settings.basemap_url,
        basemap_attribution=settings.basemap_attribution,
    )


@router.get("/whoami", operation_id="whoami", summary="The caller's user name, role and scope")
def whoami(who: Who) -> dict:
    return {
        "user": who.name,
        "role": who.role.label,
        "collections": who.readable(CATALOGUE),
        # a team user's scope by ids (empty for the public and the office, who are not narrowed)
        "worker_id": who.worker_id,
        "grids": [{"district_id": d, "grid_code": c} for d, c in sorted(who.grids)],
        "communities": [{"district_id": d, "community": c} for d, c in sorted(who.communities)],
    }
