"""Community settings: the office phone and service hours residents see.

A planner stores them once per community (``commgrid communities set``, ``PATCH
/communities/{id}/settings``); every poster, contact card, community sheet and the
public page prints them. A community is named by its id in the source data or its
12-digit admin code, plus the district when several districts hold that id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from gis.errors import InputError, NotFoundError
from gis.store.engine import atomic
from gis.store.models import Community, District

__all__ = [
    "MAX_HOURS_CHARS",
    "CommunitySettings",
    "check_office_phone",
    "check_service_hours",
    "find_community",
    "list_communities",
    "set_community_settings",
]

MAX_HOURS_CHARS = 80  # what fits the service-hours box of an A4 poster
_PHONE = re.compile(r"^\+?[0-9()][0-9 ()\-]*(?:\s*(?:转|ext\.?|x)\s*[0-9]+)?$", re.IGNORECASE)
_UNSET = object()


@dataclass(frozen=True)
class CommunitySettings:
    """A stored community and what residents are told about its office."""

    id: int  # the store's key
    district_id: int
    district: str
    community_id: str  # the id in the source data
    admin_code: str | None
    name: str
    office_phone: str | None
    service_hours: str | None


def check_office_phone(value: str | None) -> str | None:
    """``value`` tidied (spaces collapsed), ``None`` for empty.

    Raises
    ------
    InputError
        When it is not a phone number.
    """
    text = " ".join((value or "").split())
    if not text:
        return None
    digits = sum(ch.isdigit() for ch in text)
    if len(text) > 40 or not _PHONE.match(text) or not 5 <= digits <= 20:
        raise InputError(
            f"office_phone {text[:40]!r} is not a phone number; expected digits with optional spaces, hyphens, "
            "brackets, a leading + and an extension, e.g. '0755-8888 1234'",
            field="office_phone",
        )
    return text


def check_service_hours(value: str | None) -> str | None:
    """``value`` tidied (spaces collapsed), ``None`` for empty.

    Raises
    ------
    InputError
        When it is longer than :data:`MAX_HOURS_CHARS` or holds control characters.
    """
    text = " ".join((value or "").split())
    if not text:
        return None
    if len(text) > MAX_HOURS_CHARS:
        raise InputError(
            f"service_hours has {len(text)} characters; at most {MAX_HOURS_CHARS} fit on a poster",
            field="service_hours",
        )
    if any(ord(ch) < 32 or ch == "\x7f" for ch in text):
        raise InputError("service_hours holds control characters", field="service_hours")
    return text


def _columns():
    return select(
        Community.id,
        Community.district_id,
        District.name.label("district"),
        Community.community_id,
        Community.admin_code,
        Community.name,
        Community.office_phone,
        Community.service_hours,
    ).join(District, District.id == Community.district_id)


def list_communities(conn: Connection, *, district: str | None = None) -> list[CommunitySettings]:
    """Every stored community (of ``district`` when given), by district and id."""
    query = _columns().order_by(District.name, Community.community_id)
    if district is not None:
        query = query.where(District.name == district)
    return [CommunitySettings(**row._mapping) for row in conn.execute(query)]


def find_community(
    conn: Connection, community: str, *, district: str | None = None, lock: bool = False
) -> CommunitySettings:
    """The community with id or admin code ``community``.

    Raises
    ------
    NotFoundError
        When no stored community has that id or code.
    InputError
        When communities of several districts do, and ``district`` does not choose one.
    """
    query = _columns().where((Community.community_id == community) | (Community.admin_code == community))
    if district is not None:
        query = query.where(District.name == district)
    if lock:
        query = query.with_for_update(of=Community)
    rows = conn.execute(query).all()
    if not rows:
        where = f" in district {district!r}" if district is not None else ""
        raise NotFoundError(
            f"no community {community!r}{where}",
            see="list_communities",
        )
    if len(rows) > 1:
        names = ", ".join(sorted(r.district for r in rows))
        raise InputError(
            f"community {community!r} is in several districts ({names}); name the district", field="district"
        )
    return CommunitySettings(**rows[0]._mapping)


def set_community_settings(
    conn: Connection,
    community: str,
    *,
    district: str | None = None,
    office_phone: str | object | None = _UNSET,
    service_hours: str | object | None = _UNSET,
) -> CommunitySettings:
    """Store a community's office phone and/or service hours; an argument left out stays, empty clears it.

    Raises
    ------
    NotFoundError, InputError
        See :func:`find_community`; and for a value that is not a phone number or too long.
    """
    values: dict[str, str | None] = {}
    if office_phone is not _UNSET:
        values["office_phone"] = check_office_phone(office_phone)  # type: ignore[arg-type]
    if service_hours is not _UNSET:
        values["service_hours"] = check_service_hours(service_hours)  # type: ignore[arg-type]
    with atomic(conn):
        found = find_community(conn, community, district=district, lock=True)
        if values:
            conn.execute(update(Community).where(Community.id == found.id).values(**values))
        return find_community(conn, community, district=district)
