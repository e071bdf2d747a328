"""Limits on what one client may send: request bodies (413) and request rates (429).

Both are pure-ASGI middleware placed outside everything else in the app (see
:func:`api.app.create_app`), so they also guard the tile requests that
:class:`api.routes.tiles.TileShortcut` answers before FastAPI routes them.

Why our own token bucket and not a library: slowapi limits through decorators on
FastAPI routes and reads a ``Request`` in each, so it never sees the requests the tile
shortcut answers; ``limits`` (slowapi's engine) offers fixed and moving windows, whose
moving window keeps a timestamp per request and whose async storage adds an await per
request on the hottest path. A bucket per client address is two floats, updated in
microseconds under the event loop (no lock needed), and the Retry-After it gives is
exact. What a library would add, a limit shared between worker processes through
Redis, we do not need: each worker keeps its own buckets, so with ``--workers N`` a
client may make up to N times the configured rate.
"""

from __future__ import annotations

import ipaddress
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access import api_routes, caller
from gis.errors import CommgridError

__all__ = ["UPLOAD_OPERATIONS", "BodyLimit", "RateLimit", "TokenBuckets", "client_key", "replay", "send_error"]

# Routes that take files: patrol tracks (GPX, CSV), worker photos (base64 in JSON).
UPLOAD_OPERATIONS = frozenset({"incident_photo_add", "patrols_import", "worker_assign", "worker_change"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def send_error(
    send: Send, status: int, code: str, description: str, headers: dict[str, str], *, detail: dict | None = None
) -> None:
    """An error answer in the shape of :mod:`api.errors` (``code``, ``description``, ``detail`` for bad input)."""
    shaped: dict = {"code": code, "description": description}
    if detail is not None:
        shaped["detail"] = detail
    body = json.dumps(shaped, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


# -- request bodies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyLimit:
    """Answer 413 to a request whose body is larger than allowed, before the app reads it.

    A declared ``Content-Length`` above the limit is refused at once, without reading
    a byte of the body. A body sent without one (chunked) is read up to the limit and
    refused as soon as it passes it; below it, the app gets the body as sent.

    Parameters
    ----------
    app
        The ASGI app inside.
    max_body
        Bytes allowed in general; 0 for no limit.
    max_upload
        Bytes allowed for the operations in :data:`UPLOAD_OPERATIONS`; 0 for no limit.
    """

    app: ASGIApp
    max_body: int = 1 << 20
    max_upload: int = 64 << 20
    _uploads: list = field(default_factory=list, compare=False)  # the upload routes, found on first use

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.max_upload if self._is_upload(scope) else self.max_body
        if limit <= 0:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1  # the server refuses a malformed length itself
            if size > limit:
                await self._refuse(scope, send, limit, f"{size:,} bytes")
                return
            await self.app(scope, receive, send)
            return
        # No length: take the body up to the limit before the app sees any of it.
        messages: list[Message] = []
        total = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > limit:
                await self._refuse(scope, send, limit, f"more than {limit:,} bytes")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, replay(messages, receive), send)

    def _is_upload(self, scope: Scope) -> bool:
        if not self._uploads:
            app = scope.get("app")
            routes = [r for r in api_routes(getattr(app, "routes", [])) if r.operation_id in UPLOAD_OPERATIONS]
            self._uploads.extend(routes or [None])  # None: looked, found none
        return any(route is not None and route.matches(scope)[0] == Match.FULL for route in self._uploads)

    async def _refuse(self, scope: Scope, send: Send, limit: int, size: str) -> None:
        what = f"{scope['method']} {scope['path']}"
        await send_error(
            send,
            413,
            "RequestTooLargeError",
            f"the request body of {what} has {size}; at most {limit:,} bytes are accepted here. "
            "Send a smaller body: split the file (e.g. patrol tracks by day) or shrink the photo.",
            {"Connection": "close"},
        )


def replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def next_message() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # e.g. http.disconnect, once the body is used up

    return next_message


# -- request rates --------------------------------------------------------------------------------


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens, refilled at ``rate`` per second.

    Parameters
    ----------
    rate
        Tokens added per second.
    burst
        Most tokens a bucket holds (requests allowed at once).
    clock
        Seconds, monotonic (tests pass their own).
    max_keys
        Buckets kept; beyond it, full (idle) buckets are dropped, which forgets nothing,
        since a new bucket starts full.

    Examples
    --------
    >>> buckets = TokenBuckets(rate=1, burst=2, clock=lambda: 0.0)
    >>> [buckets.take("a") for _ in range(3)]
    [0.0, 0.0, 1.0]
    """

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 when granted, else the seconds until one is available."""
        now = self.clock()
        tokens, when = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * self.rate)
        if tokens >= 1:
            self._store(key, tokens - 1, now)
            return 0.0
        self._store(key, tokens, now)
        return (1 - tokens) / self.rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= self.max_keys:
            self._forget_idle(now)
        self._buckets[key] = (tokens, now)

    def _forget_idle(self, now: float) -> None:
        full = float(self.burst)
        idle = [k for k, (t, w) in self._buckets.items() if t + (now - w) * self.rate >= full]
        for k in idle:
            del self._buckets[k]
        # A flood of distinct busy addresses: start over rather than scan again on the next one.
        if len(self._buckets) >= self.max_keys * 0.9:
            self._buckets.clear()


def client_key(scope: Scope) -> str:
    """The address a request is limited by: the client's IPv4 address, or its IPv6 /64 network.

    One IPv6 host usually holds a whole /64, so limiting single addresses would limit nothing.
    Behind a reverse proxy, run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``
    so the client is the real one, not the proxy.
    """
    client = scope.get("client")
    host = client[0] if client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # not an address (a test client, a Unix socket)
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # an IPv4 client on a dual-stack socket
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return host


@dataclass(frozen=True)
class RateLimit:
    """Answer 429 with Retry-After to a client address that sends requests faster than allowed.

    Requests with a valid token are not limited: they come from staff the service knows
    (planners, analysts, administrators), whose tools send bursts (edits, analyses, a
    map's tiles), and a misused token is revoked with ``commgrid users``. A request
    whose token is not valid counts against its address like any anonymous one, so
    made-up tokens do not get around the limit. The token check is the one the routes
    make anyway (:func:`api.access.caller`), done once per request.

    Parameters
    ----------
    app
        The ASGI app inside.
    rate
        Requests per second per client address; 0 turns limiting off.
    burst
        Requests a client address may make at once.
    """

    app: ASGIApp
    rate: float = 50.0
    burst: int = 1000
    clock: Callable[[], float] = time.monotonic
    _buckets: list = field(default_factory=list, compare=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0 or await self._authenticated(scope, receive):
            await self.app(scope, receive, send)
            return
        if not self._buckets:
            self._buckets.append(TokenBuckets(rate=self.rate, burst=self.burst, clock=self.clock))
        key = client_key(scope)
        wait = self._buckets[0].take(key)
        if wait == 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        await send_error(
            send,
            429,
            "TooManyRequestsError",
            f"too many requests from {key}: at most {self.rate:g} a second (bursts of {self.burst}) without "
            f"a token. Retry after {retry} s, or send the bearer token of a commgrid user.",
            {"Retry-After": str(retry)},
        )

    async def _authenticated(self, scope: Scope, receive: Receive) -> bool:
        if _header(scope, b"authorization") is None:
            return False
        try:
            who = await caller(Request(scope, receive))
        except CommgridError:  # a bad token, or the database down: the app answers it
            return False
        return who.name is not None
