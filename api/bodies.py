"""Request bodies no route should have to survive: refused whole, before any route parses them.

What each route's parser (FastAPI's, the stdlib's ``json``, ``parse_qs``) would turn into a
500 is answered here with a 400 naming the field:

* a NUL character, raw (any content type) or escaped (``\\u0000`` in JSON, ``%00`` in a
  form): PostgreSQL text cannot hold one;
* JSON that is not UTF-8, holds ``NaN``/``Infinity`` (not JSON, and a 422 echoing them
  could not be written), a lone surrogate such as ``"\\ud800"`` (no UTF-8 encodes it, so
  the store would refuse it), or nests deeper than :data:`MAX_JSON_DEPTH` (the parser's
  recursion limit is a ``RecursionError``, not a ``ValueError``);
* a form that is not UTF-8, raw or percent-encoded.

It sits inside the body limit (:class:`api.limits.BodyLimit`), so it never holds more
than the limit allows, and replays the body to the app unchanged when it is fine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.limits import replay, send_error
from gis.errors import InputError

__all__ = ["BINARY_KINDS", "MAX_JSON_DEPTH", "BodyGuard", "Options", "check_body", "check_json", "parse_json"]

# Nothing commgrid takes nests deeper than a GeoJSON multipolygon in a feature collection (7).
MAX_JSON_DEPTH = 32
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# image files (incident photos) are stored as bytes, never as text: NULs are part of them
BINARY_KINDS = frozenset({"image/jpeg", "image/png", "image/webp"})


def _refuse_constant(name: str) -> Any:
    raise InputError(f"the JSON body holds {name}, which is not JSON; send numbers, or null", field="body")


def parse_json(raw: bytes | str, *, source: str = "body") -> Any:
    """Parse JSON strictly: UTF-8, no NaN/Infinity, no lone surrogates, no NUL, bounded nesting.

    Raises
    ------
    InputError
        Naming the field (``body`` or a path such as ``body.points[3].time``).
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"the JSON {source} is not UTF-8 (byte {exc.start}); send UTF-8", field=source) from None
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise InputError(
            f"the JSON {source} nests deeper than {MAX_JSON_DEPTH} levels; nothing here takes that", field=source
        ) from None
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"the {source} is not JSON: {exc}", field=source) from None
    check_json(value, source=source)
    return value


def check_json(value: Any, *, source: str = "body") -> None:
    """Refuse parsed JSON that nests too deep or holds text no store can keep (see module doc)."""
    # (value, where it is, its depth, the field it belongs to: the body's own key, which errors name)
    stack: list[tuple[Any, str, int, str]] = [(value, source, 0, source)]
    while stack:
        item, where, depth, top = stack.pop()
        if depth > MAX_JSON_DEPTH:
            shown = where if len(where) <= 80 else where[:80] + "…"
            raise InputError(
                f"the JSON {source} nests deeper than {MAX_JSON_DEPTH} levels at {shown}; nothing here takes that",
                field=top,
            )
        if isinstance(item, dict):
            for key, sub in item.items():
                _check_text(key, f"{where} (a key)")
                stack.append((sub, f"{where}.{key}", depth + 1, top if depth else f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend(
                (sub, f"{where}[{i}]", depth + 1, top if depth else f"{where}[{i}]") for i, sub in enumerate(item)
            )
        elif isinstance(item, str):
            _check_text(item, where)


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise InputError(
            f"{where} holds a NUL character (\\x00, \\u0000 or %00), which no stored text can hold; remove it",
            field=where,
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{where} holds a lone surrogate (U+{ord(text[exc.start]):04X}), which is not text; send whole characters",
            field=where,
        ) from None


def _json_kind(kind: str) -> bool:
    return kind == "application/json" or kind.endswith("+json")


def check_body(kind: str, body: bytes) -> None:
    """Refuse ``body`` of content type ``kind`` when no route could store it (see module doc)."""
    if not body or kind in BINARY_KINDS:
        return
    if b"\x00" in body:
        raise InputError(
            "the body holds a NUL character (\\x00), which no stored text can hold; remove it", field="body"
        )
    if _json_kind(kind):
        parse_json(body)
    elif kind == "":
        # FastAPI reads a body without a type as JSON; one that is no JSON at all may be a
        # file the route refuses by its missing type, in its own words
        try:
            json.loads(body, parse_constant=float)
        except (ValueError, UnicodeDecodeError):
            return
        except RecursionError:
            pass
        parse_json(body)
    elif kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"the form is not UTF-8 (byte {exc.start}); send UTF-8", field="body") from None
        for name, value in parse_qsl(text, keep_blank_values=True, errors="surrogateescape"):
            for part, where in ((name, f"{name!r} (its name)"), (value, name)):
                if "\x00" in part:
                    raise InputError(
                        f"{where} holds a NUL character (%00), which no stored text can hold; remove it",
                        field=name,
                    )
                try:
                    part.encode("utf-8")
                except UnicodeEncodeError:
                    raise InputError(
                        f"form field {where} is not UTF-8 once percent-decoded; send UTF-8", field=name
                    ) from None


@dataclass(frozen=True)
class BodyGuard:
    """Answer 400 to a body no route could parse or store (see the module doc), before the app reads it."""

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        kind = ""
        for key, value in scope["headers"]:
            if key == b"content-type":
                kind = value.decode("latin-1").split(";")[0].strip().lower()
        try:
            check_body(kind, b"".join(chunks))
        except InputError as exc:
            await send_error(send, 400, type(exc).__name__, exc.message, {}, detail=exc.to_dict())
            return
        await self.app(scope, replay(messages, receive), send)


@dataclass(frozen=True)
class Options:
    """Answer ``OPTIONS`` with 204 and an ``Allow`` listing every method the path takes (404 for no route).

    A CORS preflight (when origins are configured) is answered further out, by Starlette's
    CORS middleware; this answers the plain question "what may I do here".
    """

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return
        from api.errors import allowed_methods

        methods = allowed_methods(scope["app"], scope["path"])
        if not methods:
            await send_error(
                send, 404, "NotFoundError",
                f"nothing at {scope['path']}; /openapi.json lists the paths of this API", {},
            )  # fmt: skip
            return
        headers = [(b"allow", ", ".join(methods).encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
