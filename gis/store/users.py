"""API users: a name, a role and the hash of a bearer token.

Tokens are 256-bit random strings shown once, when made; the store keeps only their
SHA-256. A slow password hash buys nothing for tokens this long, and a fast one lets
every request be checked without a noticeable cost.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gis.errors import ConflictError, InputError, NotFoundError
from gis.store.engine import atomic
from gis.store.models import AppUser

__all__ = [
    "ROLES",
    "User",
    "add_user",
    "find_user",
    "hash_token",
    "list_users",
    "remove_user",
    "renew_token",
]

# From least to most: each role may do what the roles before it may. Grid workers report
# incidents and do the on-site steps of their own reports (api.access, api.routes.incidents).
ROLES = ("public", "grid_worker", "analyst", "planner", "admin")
TOKEN_PREFIX = "cg_"

_user = AppUser.__table__


@dataclass(frozen=True)
class User:
    """A stored user (never with the token)."""

    name: str
    role: str
    created_at: datetime | None = None


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _check_role(role: str) -> None:
    if role not in ROLES[1:]:
        raise InputError(f"unknown role {role!r}; roles are {', '.join(ROLES[1:])}", field="role")


def _check_name(name: str) -> None:
    if not name or not name.strip() or len(name) > 100:
        raise InputError(f"a user name must be 1–100 characters, got {name!r}", field="name")


def add_user(conn: Connection, name: str, *, role: str) -> str:
    """Store a new user and return their token (the only time it is seen).

    Raises
    ------
    InputError
        For an unknown role or an empty name.
    ConflictError
        When a user of that name exists.
    """
    _check_name(name)
    _check_role(role)
    token = _new_token()
    try:
        with atomic(conn):
            conn.execute(insert(_user).values(name=name, role=role, token_hash=hash_token(token)))
    except IntegrityError:
        raise ConflictError(f"a user named {name!r} exists; remove them first or pick another name") from None
    return token


def renew_token(conn: Connection, name: str) -> str:
    """Give a user a new token; the old one stops working at once."""
    token = _new_token()
    with atomic(conn):
        done = conn.execute(update(_user).where(_user.c.name == name).values(token_hash=hash_token(token)))
    if done.rowcount == 0:
        raise NotFoundError(f"no user named {name!r}")
    return token


def remove_user(conn: Connection, name: str) -> None:
    """Delete a user; their token stops working at once."""
    with atomic(conn):
        done = conn.execute(delete(_user).where(_user.c.name == name))
    if done.rowcount == 0:
        raise NotFoundError(f"no user named {name!r}")


def list_users(conn: Connection) -> list[User]:
    """Every user, by name."""
    rows = conn.execute(select(_user.c.name, _user.c.role, _user.c.created_at).order_by(_user.c.name))
    return [User(r.name, r.role, r.created_at) for r in rows]


def find_user(conn: Connection, token: str) -> User | None:
    """The user holding ``token``, or ``None``."""
    digest = hash_token(token)
    row = conn.execute(
        select(_user.c.name, _user.c.role, _user.c.token_hash).where(_user.c.token_hash == digest)
    ).first()
    # the index lookup already matched; the constant-time comparison keeps timing from telling more
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return User(row.name, row.role)
