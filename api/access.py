"""Who may call what: roles, bearer tokens, and the one table of every route's role.

Requests without a token are the public. A token (``Authorization: Bearer ...``) made
by ``commgrid users add`` names a user with a role; roles are ordered, each allowed
what the ones below it are. :data:`ROUTE_ROLES` gives every route (by operation id) the
least role it needs; :func:`check_routes` makes the app refuse to start when a route is
missing from it, so no route is ever open by accident.

The grid team (``grid_worker`` … ``community_director``, between the public and
analysts) reaches a route's data only within its scope, which the routes hand to the
store queries (:mod:`api.scope`): a grid worker their own worker record and incidents
(reported by them, or in their own grid), a grid leader the grids they lead, a station
master or community director their community. They see maps and density as the public
does, never raw incident points. Routes of workers' personal data (patrols, worker
records) stay closed to analysts: their role is above the team's, but their work is
incident statistics (see :func:`api.scope.personal_reach`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import IntEnum
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from psycopg_pool import AsyncConnectionPool

from gis.errors import CommgridError
from gis.store.users import hash_token
from tiles.catalogue import CATALOGUE
from tiles.freshness import VersionProbe

__all__ = [
    "ROUTE_ROLES",
    "AuthenticationError",
    "Caller",
    "PermissionDeniedError",
    "Role",
    "Who",
    "api_routes",
    "authorize",
    "caller",
    "check_routes",
    "collection_role",
]


class Role(IntEnum):
    """Roles from least to most allowed.

    Team roles (grid worker to community director) act within their scope (see
    :class:`Caller`); office roles (analyst, planner, admin) see the whole city.
    """

    PUBLIC = 0
    GRID_WORKER = 1  # their own worker record: own patrols, own incidents, own work log
    GRID_LEADER = 2  # the grids they lead
    STATION_MASTER = 3  # their community: reads and reviews its workers' logs
    COMMUNITY_DIRECTOR = 4  # their community: reviews approval incidents
    ANALYST = 5
    PLANNER = 6
    ADMIN = 7

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def is_team(self) -> bool:
        """A role whose answers are narrowed to its scope."""
        return Role.GRID_WORKER <= self < Role.ANALYST


class AuthenticationError(CommgridError):
    """No valid token where one is needed."""

    http_status = 401


class PermissionDeniedError(CommgridError):
    """A valid token whose role is too low for the route."""

    http_status = 403


def collection_role(collection_id: str) -> Role:
    """The least role that may read a collection's features and tiles (from :data:`tiles.catalogue.CATALOGUE`)."""
    return Role[CATALOGUE[collection_id].role.upper()]


# Per collection, the operations registered for it (see api/routes/features.py, tiles.py).
COLLECTION_OPERATIONS = ("items", "feature", "queryables", "tilesets", "tileset", "tile", "tilejson")

_OTHER_ROUTES: dict[str, Role] = {
    "landing": Role.PUBLIC,
    "audit_list": Role.ADMIN,  # the audit log: who published, edited, moved incidents, read personal data
    "health": Role.PUBLIC,
    "conformance": Role.PUBLIC,
    "collections": Role.PUBLIC,  # lists only what the caller may see
    "collection": Role.PUBLIC,  # answers 401/403 itself for a hidden collection
    "unknown_collection_items": Role.PUBLIC,
    "unknown_collection_feature": Role.PUBLIC,
    "tile_matrix_sets": Role.PUBLIC,
    "tile_matrix_set": Role.PUBLIC,
    "dataset_tilesets": Role.PUBLIC,
    "dataset_tileset": Role.PUBLIC,  # these four hold only the layers the caller may see
    "dataset_tile": Role.PUBLIC,
    "dataset_tilejson": Role.PUBLIC,
    "style": Role.PUBLIC,
    "web_map": Role.PUBLIC,
    "whoami": Role.PUBLIC,
    "plans_list": Role.PLANNER,
    "plan_detail": Role.PLANNER,
    "plan_diff": Role.PLANNER,
    "plan_edit": Role.PLANNER,
    "plan_publish": Role.PLANNER,
    "plan_archive": Role.PLANNER,
    "plan_delete": Role.PLANNER,
    "districts_list": Role.PLANNER,
    "district_add": Role.ADMIN,
    "district_remove": Role.ADMIN,
    "plan_create": Role.PLANNER,
    **dict.fromkeys(
        ("editor_layers", "plan_redivide", "plan_copy", "grid_lock", "grid_unlock", "plan_reassign"), Role.PLANNER
    ),  # the workbench
    "editor_page": Role.PUBLIC,  # the page holds no data, like /map; what it calls is for planners
    "job_status": Role.PLANNER,
    # grid workers (personal data): planners keep them, the grid team reads its scope (api/routes/workers.py,
    # analysts 403); the public sees only posted fields
    "workers_list": Role.GRID_WORKER,
    "worker": Role.GRID_WORKER,
    "worker_assign": Role.PLANNER,
    "worker_change": Role.PLANNER,
    "worker_retire": Role.PLANNER,
    "worker_photo": Role.GRID_WORKER,
    # posters, contact cards and the public page: published grids, posted fields only
    "grid_poster_pdf": Role.PUBLIC,
    "grid_poster_png": Role.PUBLIC,
    "grid_cards_pdf": Role.PUBLIC,
    "grid_worker_photo": Role.PUBLIC,
    "public_contact": Role.PUBLIC,
    "public_locate": Role.PUBLIC,
    "public_search": Role.PUBLIC,
    "public_page": Role.PUBLIC,
    "public_grid_page": Role.PUBLIC,
    # community settings: printed on every poster, so reading is public; planners change them
    "community_settings": Role.PUBLIC,
    "community_settings_change": Role.PLANNER,
    "community_poster_pdf": Role.PUBLIC,
    "community_poster_png": Role.PUBLIC,
    # patrol tracks (personal data): planners all, the grid team its scope (a grid worker uploads and
    # reads their own), never the public nor analysts (api/routes/patrols.py)
    "patrols_import": Role.GRID_WORKER,
    "patrols_compliance": Role.GRID_WORKER,
    "patrols_tracks": Role.GRID_WORKER,
    "patrols_tile": Role.GRID_WORKER,
    "patrols_calendar": Role.GRID_WORKER,
    "patrols_weekly": Role.GRID_WORKER,
    # incidents (reporter fields are personal data): the grid team reports them, lists, reads and
    # moves (on-site steps only) those in its scope, which the store queries apply; analysts see all
    "incident_taxonomy": Role.PUBLIC,
    "incident_create": Role.GRID_WORKER,
    "incident_detail": Role.GRID_WORKER,
    "incident_transition": Role.GRID_WORKER,
    "incident_list": Role.GRID_WORKER,
    "incident_photo_add": Role.GRID_WORKER,  # photos (personal data): those who may move the incident
    "incident_photo": Role.GRID_WORKER,
    # incident classes that route (api/routes/incident_routing.py): the centre hands coordinated incidents
    # to departments and records their feedback; approval steps are transitions checked by role and community
    "incident_departments": Role.ANALYST,
    "incident_handoff": Role.ANALYST,
    "incident_worksheet": Role.ANALYST,
    "incident_feedback": Role.ANALYST,
    "analytics_hotspots": Role.ANALYST,
    "analytics_grids": Role.ANALYST,
    "analytics_heatmap": Role.ANALYST,
    "incident_density_tile": Role.PUBLIC,  # below analysts: public categories, bins of >= k, after a delay
    # Open311: anyone may post; the read view holds no reporter fields, no raw points (api/routes/open311.py)
    "open311_services": Role.PUBLIC,
    "open311_request_create": Role.PUBLIC,
    "open311_requests": Role.PUBLIC,
    # the work log (personal data): linked workers write their own; the route narrows reads to the
    # worker's own entries, a station master's or director's community, or the office (api/routes/worklog.py)
    "worklog_create": Role.GRID_WORKER,
    "worklog_list": Role.GRID_WORKER,
    "worklog_change": Role.GRID_WORKER,
    "worklog_review": Role.GRID_WORKER,  # the route lets only a station master of the worker's community
    # the worker's mobile page and its service worker hold no data, like /map; what they call needs a token
    "worker_page": Role.PUBLIC,
    "worker_service_worker": Role.PUBLIC,
    "openapi": Role.PUBLIC,
    "swagger_ui": Role.PUBLIC,
    "swagger_ui_redirect": Role.PUBLIC,
    "redoc": Role.PUBLIC,
}

ROUTE_ROLES: dict[str, Role] = {
    **_OTHER_ROUTES,
    **{f"{c}_{op}": collection_role(c) for c in CATALOGUE for op in COLLECTION_OPERATIONS},
}


class Caller:
    """Who is asking: a user (``None`` for the public), their role, and for team roles their scope.

    The scope is by ids, from the store (loaded with the token, :func:`_lookup`): ``worker_id``
    for a grid worker's account, ``grids`` a grid leader leads and ``communities`` a station
    master or community director answers for, both as ``(district_id, code)`` pairs.
    """

    __slots__ = ("communities", "grids", "name", "role", "user_id", "worker_id")

    def __init__(
        self,
        name: str | None,
        role: Role,
        *,
        user_id: int | None = None,
        worker_id: int | None = None,
        grids: frozenset[tuple[int, str]] = frozenset(),
        communities: frozenset[tuple[int, str]] = frozenset(),
    ) -> None:
        self.name = name
        self.role = role
        self.user_id = user_id
        self.worker_id = worker_id
        self.grids = grids
        self.communities = communities

    def may_read(self, collection: str) -> bool:
        return self.role >= collection_role(collection)

    def readable(self, collections: Iterable[str]) -> list[str]:
        return [c for c in collections if self.may_read(c)]


PUBLIC = Caller(None, Role.PUBLIC)


def route_id(route: object) -> str:
    """The key of a route in :data:`ROUTE_ROLES`: its operation id, else its name."""
    return getattr(route, "operation_id", None) or getattr(route, "name", "")


def api_routes(routes: Iterable[object]) -> Iterator[APIRoute]:
    """Every API route, including those of included routers (nested since FastAPI 0.16x)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)  # an included router
        if inner is not None:
            yield from api_routes(inner.routes)


def check_routes(app: FastAPI) -> None:
    """Fail when a route has no declared role (so none is open by omission)."""
    routes = list(api_routes(app.routes))
    if not routes:
        raise RuntimeError("found no API routes to check; has FastAPI changed how routers are included?")
    missing = [f"{sorted(r.methods)} {r.path} ({route_id(r)})" for r in routes if route_id(r) not in ROUTE_ROLES]
    if missing:
        raise RuntimeError("routes without a role in api.access.ROUTE_ROLES: " + "; ".join(missing))


class TokenCache:
    """Token hash → caller, valid while the ``users`` data version stays the same."""

    def __init__(self) -> None:
        self._version: int | None = None
        self._callers: dict[str, Caller | None] = {}

    def get(self, digest: str, version: int) -> tuple[bool, Caller | None]:
        if version != self._version:
            self._callers.clear()
            self._version = version
            return False, None
        if digest in self._callers:
            return True, self._callers[digest]
        return False, None

    def put(self, digest: str, version: int, who: Caller | None) -> None:
        if version == self._version and len(self._callers) < 10_000:
            self._callers[digest] = who


async def _lookup(pool: AsyncConnectionPool, digest: str) -> Caller | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, name, role, worker_id FROM app_user WHERE token_hash = %s", (digest,))
        row = await cur.fetchone()
        if row is None:
            return None
        user_id, name, role, worker_id = row
        cur = await conn.execute("SELECT district_id, grid_code FROM patrol_supervisor WHERE user_id = %s", (user_id,))
        grids = frozenset((int(d), str(c)) for d, c in await cur.fetchall())
        cur = await conn.execute(
            "SELECT c.district_id, c.community_id FROM user_community u JOIN community c ON c.id = u.community_id "
            "WHERE u.user_id = %s",
            (user_id,),
        )
        communities = frozenset((int(d), str(c)) for d, c in await cur.fetchall())
    return Caller(name, Role[role.upper()], user_id=user_id, worker_id=worker_id, grids=grids, communities=communities)


async def caller(request: Request) -> Caller:
    """The caller of this request, from its bearer token (checked against the store).

    Raises
    ------
    AuthenticationError
        For a malformed header or a token no user holds.
    """
    if hasattr(request.state, "caller"):
        return request.state.caller
    header = request.headers.get("authorization")
    if header is None:
        request.state.caller = PUBLIC
        return PUBLIC
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    digest = hash_token(token)
    probe: VersionProbe = request.app.state.probe
    version = (await probe.current()).get("users", 0)
    cache: TokenCache = request.app.state.token_cache
    known, who = cache.get(digest, version)
    if not known:
        who = await _lookup(request.app.state.pool, digest)
        cache.put(digest, version, who)
    if who is None:
        raise AuthenticationError("the token is not valid (it was never issued, or it was renewed or revoked)")
    request.state.caller = who
    return who


# the caller as a route parameter: every route that answers by who asks takes ``who: Who``
Who = Annotated[Caller, Depends(caller)]


def require(who: Caller, role: Role, what: str) -> None:
    """Raise 401/403 when ``who`` may not do ``what``."""
    if who.role >= role:
        return
    if who.name is None:
        raise AuthenticationError(f"{what} needs the {role.label} role: send 'Authorization: Bearer <token>'")
    raise PermissionDeniedError(f"{what} needs the {role.label} role; user {who.name!r} is {who.role.label}")


async def authorize(request: Request) -> None:
    """App-wide dependency: the caller must hold the role the matched route declares."""
    route = request.scope.get("route")
    needed = ROUTE_ROLES.get(route_id(route), Role.ADMIN)  # check_routes keeps this from happening
    if needed == Role.PUBLIC and "authorization" not in request.headers:
        request.state.caller = PUBLIC
        return
    who = await caller(request)
    require(who, needed, f"{request.method} {request.url.path}")
