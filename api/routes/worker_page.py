"""``/worker``: the grid worker's mobile page, and the service worker that keeps it working offline.

Like ``/map`` and ``/editor`` the page holds no data: it asks for the worker's token once
(kept in the phone's ``localStorage``, since the page must open again offline) and every
request it makes carries it. What it reads and writes — ``/whoami``, the public grids,
``/patrols``, ``/incidents``, ``/worklog`` — answers by the token's scope.

The service worker (``/worker-sw.js``, scope ``/worker``) caches the page and MapLibre
from the project's npm vendor folder, so the page opens without a network; posts made
offline wait in the page's outbox and are sent when the phone is back online.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.routes.common import answering
from api.routes.map import add_map_page, static_text

__all__ = ["router"]

router = APIRouter(tags=["worker"])


add_map_page(router, "/worker", "worker.html", operation_id="worker_page", summary="The grid worker's mobile page")


@router.get(
    "/worker-sw.js",
    operation_id="worker_service_worker",
    summary="The service worker that keeps /worker usable offline",
    **answering("text/javascript"),
)
def worker_service_worker() -> Response:
    script = static_text("worker-sw.js")
    # a browser checks a service worker for updates on navigation; never let a cache hide a new one
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-cache"})
