"""Photos of incidents: what a reporter saw, kept as metadata-free JPEGs beside the incident.

PERSONAL DATA: a photo may show people, faces and homes. Phone photos carry EXIF with
the place they were taken; every photo is checked and re-encoded by the roster's
:func:`gis.workers.roster.photo_jpeg` (JPEG, PNG or WebP in; a JPEG without metadata,
capped in pixels, out) before it is stored. Who may add or read them is the routes'
business (the same scope as the incident's detail); nothing here is public.
"""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis import clock
from gis.errors import ConflictError, NotFoundError
from gis.workers.roster import photo_jpeg

__all__ = ["MAX_PHOTOS", "add_photo", "list_photos", "read_photo"]

MAX_PHOTOS = 5  # enough to show a place from a few sides; more is an album, not a report
PHOTO_BOX = (1600, 1600)  # enough to read a sign or a crack; phones send 4,000 px and more


def add_photo(conn: Connection, incident_id: int, data: bytes, *, user_id: int | None) -> dict[str, Any]:
    """Check, re-encode and store one photo of an incident.

    Parameters
    ----------
    conn
        A connection in a transaction; the caller commits.
    incident_id
        The incident.
    data
        The image file's bytes (JPEG, PNG or WebP).
    user_id
        The adding account, if any.

    Returns
    -------
    dict
        The stored photo as :func:`list_photos` lists it.

    Raises
    ------
    NotFoundError
        When no incident has this id.
    InputError
        When the bytes are not a usable image (field ``photo``).
    ConflictError
        When the incident already has :data:`MAX_PHOTOS` photos.
    """
    from PIL import Image

    # the row lock orders concurrent uploads, so the count below cannot be overtaken
    if conn.execute(text("SELECT 1 FROM incident WHERE id = :i FOR UPDATE"), {"i": incident_id}).first() is None:
        raise NotFoundError(f"no incident {incident_id}", see="list_incidents")
    count = conn.execute(text("SELECT count(*) FROM incident_photo WHERE incident_id = :i"), {"i": incident_id})
    if count.scalar_one() >= MAX_PHOTOS:
        raise ConflictError(
            f"incident {incident_id} already has {MAX_PHOTOS} photos, the most one incident keeps; "
            "describe anything more in the note of its next move"
        )
    jpeg = photo_jpeg(data, max_pixels=PHOTO_BOX, what="the incident photo")
    with Image.open(io.BytesIO(jpeg)) as image:
        width, height = image.size
    row = conn.execute(
        text(
            "INSERT INTO incident_photo (incident_id, jpeg, width, height, added_by_user_id, added_at) "
            "VALUES (:i, :jpeg, :w, :h, :u, :at) RETURNING id, width, height, added_at"
        ),
        {"i": incident_id, "jpeg": jpeg, "w": width, "h": height, "u": user_id, "at": clock.now()},
    ).one()
    return _listed(incident_id, row._mapping)


def list_photos(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """An incident's photos, oldest first: id, URL, width, height and when each was added (not the bytes)."""
    rows = conn.execute(
        text("SELECT id, width, height, added_at FROM incident_photo WHERE incident_id = :i ORDER BY id"),
        {"i": incident_id},
    )
    return [_listed(incident_id, row._mapping) for row in rows]


def read_photo(conn: Connection, incident_id: int, photo_id: int) -> bytes:
    """The JPEG of one photo of an incident.

    Raises
    ------
    NotFoundError
        When the incident has no photo with this id.
    """
    jpeg = conn.execute(
        text("SELECT jpeg FROM incident_photo WHERE incident_id = :i AND id = :p"), {"i": incident_id, "p": photo_id}
    ).scalar()
    if jpeg is None:
        raise NotFoundError(f"incident {incident_id} has no photo {photo_id}; its detail lists its photos")
    return jpeg


def _listed(incident_id: int, row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": f"/incidents/{incident_id}/photos/{row['id']}",
        "width": row["width"],
        "height": row["height"],
        "added_at": row["added_at"].isoformat(),
    }
