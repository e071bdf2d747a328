"""API users: a name, a role, the hash of a bearer token, and the team scope they act in.

Office roles (analyst, planner, admin) see the whole city. Team roles act within a scope
stored by ids: a grid worker's account is linked to their ``grid_worker`` record, a grid
leader to the grids they lead (``patrol_supervisor``), a station master or community
director to their communities (``user_community``).

Tokens are 256-bit random strings shown once, when made; the store keeps only their
SHA-256. A slow password hash buys nothing for tokens this long, and a fast one lets
every request be checked without a noticeable cost.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gis.errors import ConflictError, InputError, NotFoundError
from gis.store import lookup
from gis.store.engine import atomic
from gis.store.models import AppUser, Community, GridWorker, PatrolSupervisor, UserCommunity

__all__ = [
    "COMMUNITY_ROLES",
    "RESERVED_NAMES",
    "RESERVED_PREFIXES",
    "ROLES",
    "User",
    "UserLinks",
    "add_user",
    "find_user",
    "hash_token",
    "link_grids",
    "link_worker",
    "list_users",
    "remove_user",
    "renew_token",
]

# From least to most: each role may do what the roles before it may, within its scope.
# Team roles (grid_worker … community_director) see only their scope; office roles see all.
ROLES = (
    "public",
    "grid_worker",
    "grid_leader",
    "station_master",
    "community_director",
    "analyst",
    "planner",
    "admin",
)
COMMUNITY_ROLES = ("station_master", "community_director")
# The identities the service acts under (intake, commands, background work) are no one's:
# Open311 reports come in as ``open311``, bulk imports as ``import``, commands as
# ``cli:<os user>``, the service as ``service:...``. No user may take such a name, so a
# name seen on an event or in the audit log never stands for an account it is not.
RESERVED_NAMES = ("open311", "import", "public", "service", "system", "cli")
RESERVED_PREFIXES = ("system:", "cli:", "service:", "import:", "open311:")
TOKEN_PREFIX = "cg_"


@dataclass(frozen=True)
class User:
    """A stored user (never with the token)."""

    name: str
    role: str
    created_at: datetime | None = None
    worker_id: int | None = None


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
    folded = name.strip().casefold()
    if folded in RESERVED_NAMES or folded.startswith(RESERVED_PREFIXES):
        raise InputError(
            f"the user name {name!r} is reserved for the service's own identities ({', '.join(RESERVED_NAMES)}, "
            f"and names starting {', '.join(RESERVED_PREFIXES)}); pick another name",
            field="name",
        )


@dataclass(frozen=True)
class UserLinks:
    """What an account is linked to, by role (:func:`add_user`).

    ``worker_id`` links a grid worker's account to their worker record; ``community``
    (with ``district_id``) gives a station master or community director their community;
    ``grids`` (with ``district_id``) gives a grid leader the grids they lead.
    """

    worker_id: int | None = None
    district_id: int | None = None
    community: str | None = None
    grids: Collection[str] = ()

    def check(self, role: str) -> None:
        """Refuse links the role does not take, or lacks links it needs."""
        if self.worker_id is not None and role != "grid_worker":
            raise InputError(f"only a grid_worker account is linked to a worker record, not a {role}", field="worker")
        if self.community is not None and role not in COMMUNITY_ROLES:
            raise InputError(
                f"only {' and '.join(COMMUNITY_ROLES)} accounts answer for a community, not a {role}",
                field="community",
            )
        if role in COMMUNITY_ROLES and self.community is None:
            raise InputError(f"a {role} answers for a community: name it", field="community")
        if self.grids and role != "grid_leader":
            raise InputError(f"only a grid_leader account leads grids, not a {role}", field="grid")
        if role == "grid_leader" and not self.grids:
            raise InputError("a grid_leader leads one or more grids: name them", field="grid")
        if (self.community is not None or self.grids) and self.district_id is None:
            raise InputError("name the district of the community or grids", field="district")


def add_user(
    conn: Connection,
    name: str,
    *,
    role: str,
    worker_id: int | None = None,
    district_id: int | None = None,
    community: str | None = None,
    grids: Collection[str] = (),
) -> str:
    """Store a new user, linked to their scope, and return their token (the only time it is seen).

    The links are those of :class:`UserLinks`, each for the roles it names.

    Raises
    ------
    InputError
        For an unknown role, an empty name, or a link the role does not take or needs.
    NotFoundError
        For a worker, community or grid the store does not have.
    ConflictError
        When a user of that name exists, or the worker already has an account.
    """
    linked = UserLinks(worker_id, district_id, community, tuple(grids))
    _check_name(name)
    _check_role(role)
    linked.check(role)
    token = _new_token()
    try:
        with atomic(conn):
            if linked.worker_id is not None:
                _check_worker(conn, linked.worker_id)
            uid = conn.execute(
                insert(AppUser)
                .values(name=name, role=role, token_hash=hash_token(token), worker_id=linked.worker_id)
                .returning(AppUser.id)
            ).scalar_one()
            if linked.community is not None:
                _link_community(conn, uid, linked.district_id, linked.community)
            if linked.grids:
                link_grids(conn, uid, linked.district_id, linked.grids)
    except IntegrityError as exc:
        if "worker_id" in str(exc.orig):
            raise ConflictError(f"grid worker {linked.worker_id} already has an account") from None
        raise ConflictError(f"a user named {name!r} exists; remove them first or pick another name") from None
    return token


def _check_worker(conn: Connection, worker_id: int) -> None:
    if conn.execute(select(GridWorker.id).where(GridWorker.id == worker_id)).first() is None:
        raise NotFoundError(f"no grid worker with id {worker_id}")


def _link_community(conn: Connection, uid: int, district_id: int | None, community: str) -> None:
    found = conn.execute(
        select(Community.id).where(Community.district_id == district_id, Community.community_id == community)
    ).scalar()
    if found is None:
        raise NotFoundError(f"no community {community!r} in district {district_id}")
    conn.execute(insert(UserCommunity).values(user_id=uid, community_id=found))


def link_grids(conn: Connection, uid: int, district_id: int | None, grids: Collection[str]) -> int:
    """Let user ``uid`` lead these grids of the district (links it has already are kept); return the links added.

    Raises
    ------
    NotFoundError
        For a grid code in no plan of the district.
    """
    codes = sorted(set(grids))
    unknown = lookup.unknown_grid_codes(conn, district_id, codes)
    if unknown:
        raise NotFoundError(f"no grid {unknown[:5]} in any plan of district {district_id}; check the codes")
    held = select(PatrolSupervisor.grid_code).where(
        PatrolSupervisor.user_id == uid, PatrolSupervisor.district_id == district_id
    )
    new = sorted(set(codes) - set(conn.execute(held).scalars()))
    if new:
        conn.execute(
            insert(PatrolSupervisor), [{"user_id": uid, "district_id": district_id, "grid_code": c} for c in new]
        )
    return len(new)


def link_worker(conn: Connection, name: str, worker_id: int) -> None:
    """Link an existing grid_worker account to the worker record it acts for.

    Raises
    ------
    NotFoundError
        For an unknown user or worker.
    InputError
        When the user is not a grid_worker account.
    ConflictError
        When the worker already has another account.
    """
    try:
        with atomic(conn):
            user = conn.execute(select(AppUser.id, AppUser.role).where(AppUser.name == name)).first()
            if user is None:
                raise NotFoundError(f"no user named {name!r}")
            if user.role != "grid_worker":
                raise InputError(
                    f"only a grid_worker account is linked to a worker record; {name!r} is a {user.role}",
                    field="worker",
                )
            _check_worker(conn, worker_id)
            conn.execute(update(AppUser).where(AppUser.id == user.id).values(worker_id=worker_id))
    except IntegrityError:
        raise ConflictError(f"grid worker {worker_id} already has an account") from None


def renew_token(conn: Connection, name: str) -> str:
    """Give a user a new token; the old one stops working at once."""
    token = _new_token()
    with atomic(conn):
        done = conn.execute(update(AppUser).where(AppUser.name == name).values(token_hash=hash_token(token)))
    if done.rowcount == 0:
        raise NotFoundError(f"no user named {name!r}")
    return token


def remove_user(conn: Connection, name: str) -> None:
    """Delete a user; their token stops working at once."""
    with atomic(conn):
        done = conn.execute(delete(AppUser).where(AppUser.name == name))
    if done.rowcount == 0:
        raise NotFoundError(f"no user named {name!r}")


def list_users(conn: Connection) -> list[User]:
    """Every user, by name."""
    rows = conn.execute(
        select(AppUser.name, AppUser.role, AppUser.created_at, AppUser.worker_id).order_by(AppUser.name)
    )
    return [User(r.name, r.role, r.created_at, r.worker_id) for r in rows]


def find_user(conn: Connection, token: str) -> User | None:
    """The user holding ``token``, or ``None``."""
    digest = hash_token(token)
    row = conn.execute(
        select(AppUser.name, AppUser.role, AppUser.token_hash, AppUser.worker_id).where(AppUser.token_hash == digest)
    ).first()
    # the index lookup already matched; the constant-time comparison keeps timing from telling more
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return User(row.name, row.role, worker_id=row.worker_id)
