"""Grid workers (网格员): who is posted as a grid's contact, and their posted fields.

PERSONAL DATA. A worker record holds a name, a work phone, a photo and duties; these
four are the *posted* fields, the only ones that may reach the public (posters, contact
cards, the public page). Nothing else about a worker leaves the planner routes.

A grid has at most one active worker: assigning a new one retires the previous one
(``active = false``, kept for history). Workers are tied to a grid *code*, which stays
valid across plans; assignment checks the code against the district's published plan.

Photos are re-encoded as JPEG (at most :data:`PHOTO_MAX_PIXELS`) on the way in, which
also drops their metadata: phone photos carry EXIF with the place they were taken.

Examples
--------
>>> rows = read_workers_csv("workers.csv")  # doctest: +SKIP
>>> with begin(engine) as conn:  # doctest: +SKIP
...     import_workers(conn, rows, file="workers.csv")
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from gis.errors import ConflictError, FormatError, InputError, NotFoundError
from gis.store.engine import atomic
from gis.store.models import District, Grid, GridPlan, GridWorker, PlanStatus

__all__ = [
    "CSV_COLUMNS",
    "MAX_DUTIES_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PHOTO_BYTES",
    "PHOTO_MAX_PIXELS",
    "ImportSummary",
    "PostedContact",
    "Worker",
    "WorkerRow",
    "assign_worker",
    "change_worker",
    "import_workers",
    "list_workers",
    "photo_jpeg",
    "posted_contact",
    "read_worker",
    "read_workers_csv",
    "retire_worker",
    "worker_photo",
]

MAX_PHOTO_BYTES = 5 << 20  # a phone photo is 2-4 MiB; anything larger is likely not a portrait
PHOTO_MAX_PIXELS = (600, 800)  # 3:4 portrait, enough for 40 mm at 300 dpi plus margin
_PHOTO_MIN_SIDE = 120  # smaller prints as a blur at poster size
_PHOTO_MAX_SIDE = 12_000  # refuse decompression bombs before decoding
_PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_NAME_CHARS = 40
MAX_DUTIES_CHARS = 400  # what fits the poster's duty box at its smallest type size

# CSV header → field; Chinese headers as community offices write them are accepted too.
CSV_COLUMNS = {
    "grid_code": ("grid_code", "grid code", "grid", "code", "网格编码", "网格编号", "网格"),
    "name": ("name", "worker", "姓名", "网格员"),
    "work_phone": ("work_phone", "work phone", "phone", "工作电话", "电话", "联系电话"),
    "photo": ("photo", "photo file", "photo_file", "照片"),
    "duties": ("duties", "职责", "工作职责"),
}
_REQUIRED = ("grid_code", "name", "work_phone")

# Digits with the separators people write (spaces, hyphens, brackets, a leading +) and an
# optional extension ("转 801", "ext 801"); 5-20 digits covers short hotlines and mobiles.
_PHONE = re.compile(r"^\+?[0-9()][0-9 ()\-]*(?:\s*(?:转|ext\.?|x)\s*[0-9]+)?$", re.IGNORECASE)

_worker = GridWorker.__table__


@dataclass(frozen=True)
class Worker:
    """A stored worker as planners see it (the photo itself is read with :func:`worker_photo`)."""

    id: int
    district_id: int
    grid_code: str | None
    name: str
    work_phone: str | None
    duties: str | None
    active: bool
    has_photo: bool


@dataclass(frozen=True)
class PostedContact:
    """The posted fields of a grid's active worker: all the public may see of them."""

    name: str
    work_phone: str | None
    duties: str | None
    photo: bytes | None


@dataclass(frozen=True)
class WorkerRow:
    """One validated worker to assign (a CSV row or an API request)."""

    grid_code: str
    name: str
    work_phone: str
    duties: str | None = None
    photo: bytes | None = None


@dataclass(frozen=True)
class ImportSummary:
    """What :func:`import_workers` did."""

    district_id: int
    assigned: int  # new workers (a grid's previous worker, if any, retired)
    updated: int  # the grid's active worker of the same name, posted fields refreshed
    retired: int


# -- validation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    """Where a value came from, for error messages."""

    file: str | None = None
    index: int | None = None
    feature_id: str | None = None

    def error(self, message: str, field: str) -> InputError:
        err = InputError(message, file=self.file, index=self.index, feature_id=self.feature_id, field=field)
        err.detail = message  # type: ignore[attr-defined]  # without the "file ..., field ...:" prefix
        return err


def photo_jpeg(
    data: bytes, *, file: str | None = None, index: int | None = None, feature_id: str | None = None
) -> bytes:
    """Check a photo and re-encode it as a metadata-free JPEG of at most :data:`PHOTO_MAX_PIXELS`.

    Parameters
    ----------
    data
        The image file's bytes (JPEG, PNG or WebP, at most :data:`MAX_PHOTO_BYTES`).
    file, index, feature_id
        Where the photo came from, for error messages.

    Returns
    -------
    bytes
        The JPEG.

    Raises
    ------
    InputError
        When the bytes are too many, not an image, another format, or too small or large.
    """
    return _photo_jpeg(data, _Where(file, index, feature_id))


def _photo_jpeg(data: bytes, where: _Where, *, what: str = "the photo") -> bytes:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_PHOTO_BYTES:
        raise where.error(
            f"{what} has {len(data) / 2**20:.1f} MiB; at most {MAX_PHOTO_BYTES >> 20} MiB is accepted. "
            "Export a smaller JPEG (a portrait of 600×800 pixels is plenty)",
            "photo",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            kind = image.format
            width, height = image.size
            if kind not in _PHOTO_FORMATS:
                raise where.error(
                    f"{what} is {kind}; expected one of {', '.join(_PHOTO_FORMATS)}. Save it as JPEG", "photo"
                )
            if max(width, height) > _PHOTO_MAX_SIDE or min(width, height) < _PHOTO_MIN_SIDE:
                raise where.error(
                    f"{what} is {width}×{height} pixels; each side must be {_PHOTO_MIN_SIDE}–{_PHOTO_MAX_SIDE}. "
                    "Use a portrait of about 600×800 pixels",
                    "photo",
                )
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as exc:
        raise where.error(
            f"{what} cannot be read as an image ({type(exc).__name__}: {exc}); use a JPEG or PNG file", "photo"
        ) from None
    image = ImageOps.exif_transpose(image)  # phones store portraits sideways with a rotation tag
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, "white")
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = background
    image.thumbnail(PHOTO_MAX_PIXELS)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def _text(value: Any, where: _Where, field: str, *, required: bool, limit: int) -> str | None:
    text = None if value is None else " ".join(str(value).split())
    if not text:
        if required:
            raise where.error(f"{field} is empty; every worker needs one", field)
        return None
    if len(text) > limit:
        raise where.error(
            f"{field} has {len(text)} characters; at most {limit} fit on the poster. Shorten it: {text[:30]!r}…",
            field,
        )
    return text


def _phone(value: Any, where: _Where) -> str:
    phone = _text(value, where, "work_phone", required=True, limit=40)
    assert phone is not None
    digits = sum(ch.isdigit() for ch in phone)
    if not _PHONE.match(phone) or not 5 <= digits <= 20:
        raise where.error(
            f"work_phone {phone!r} is not a phone number; expected digits with optional spaces, hyphens, "
            "brackets, a leading + and an extension, e.g. '0755-8888 1234' or '138 0013 8000'",
            "work_phone",
        )
    return phone


def _checked(
    where: _Where, *, grid_code: Any, name: Any, work_phone: Any, duties: Any, photo: bytes | None
) -> WorkerRow:
    code = _text(grid_code, where, "grid_code", required=True, limit=64)
    assert code is not None
    where = _Where(where.file, where.index, where.feature_id or code)
    worker = _text(name, where, "name", required=True, limit=MAX_NAME_CHARS)
    assert worker is not None
    return WorkerRow(
        grid_code=code,
        name=worker,
        work_phone=_phone(work_phone, where),
        duties=_text(duties, where, "duties", required=False, limit=MAX_DUTIES_CHARS),
        photo=None if photo is None else _photo_jpeg(photo, where),
    )


# -- the CSV file ----------------------------------------------------------------------------


def read_workers_csv(path: str | Path) -> list[WorkerRow]:
    """Read and check a workers CSV: grid code, name, work phone, photo file, duties.

    Parameters
    ----------
    path
        A UTF-8 CSV (a byte-order mark, as Excel writes, is fine) with a header row;
        columns ``grid_code``, ``name``, ``work_phone`` and optional ``photo`` (an image
        file, relative to the CSV's folder) and ``duties``. The Chinese headers 网格编码,
        姓名, 工作电话, 照片 and 职责 work too.

    Returns
    -------
    list of WorkerRow
        One per data row, photos re-encoded (see :func:`photo_jpeg`).

    Raises
    ------
    FormatError
        When the file is missing, not UTF-8, or lacks a header or a required column.
    InputError
        For bad rows; the message names the file, the rows (0-based, with their CSV line),
        the grid codes and the field. Every row is checked before the error is raised, so
        one run lists all the problems.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise FormatError("the workers CSV does not exist; check the path", file=path) from None
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"the file is not UTF-8 (byte {exc.start} cannot be read); save it as 'CSV UTF-8' "
            "(Excel) or convert it, e.g. `iconv -f GB18030 -t UTF-8`",
            file=path,
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = _header(reader.fieldnames, path)
    rows: list[WorkerRow] = []
    problems: list[InputError] = []
    for index, record in enumerate(reader):
        where = _Where(str(path), index, (record.get(columns["grid_code"]) or "").strip() or None)
        values = {field: record.get(column) for field, column in columns.items()}
        try:
            photo = _photo_file(values.get("photo"), path.parent, where)
            rows.append(
                _checked(
                    where,
                    grid_code=values["grid_code"],
                    name=values["name"],
                    work_phone=values["work_phone"],
                    duties=values.get("duties"),
                    photo=photo,
                )
            )
        except InputError as exc:
            problems.append(exc)
    if problems:
        raise _combined(problems, path)
    if not rows:
        raise FormatError("the workers CSV has a header but no rows; add one row per grid worker", file=path)
    return rows


def _header(fieldnames: Sequence[str] | None, path: Path) -> dict[str, str]:
    if not fieldnames:
        raise FormatError(
            "the workers CSV is empty; it needs a header row: grid_code,name,work_phone,photo,duties", file=path
        )
    normalised = {" ".join(name.strip().lower().replace("_", " ").split()): name for name in fieldnames if name}
    columns: dict[str, str] = {}
    for field, aliases in CSV_COLUMNS.items():
        for alias in aliases:
            key = " ".join(alias.lower().replace("_", " ").split())
            if key in normalised:
                columns[field] = normalised[key]
                break
    missing = [field for field in _REQUIRED if field not in columns]
    if missing:
        raise FormatError(
            f"the header {list(fieldnames)} lacks column(s) {missing}; expected grid_code, name, work_phone and "
            "optional photo and duties (or 网格编码, 姓名, 工作电话, 照片, 职责)",
            file=path,
            field=missing[0],
        )
    return columns


def _photo_file(value: str | None, folder: Path, where: _Where) -> bytes | None:
    name = (value or "").strip()
    if not name:
        return None
    photo = folder / name  # an absolute name stays absolute
    try:
        size = photo.stat().st_size
        if size > MAX_PHOTO_BYTES:  # refuse before reading a huge file into memory
            raise where.error(
                f"photo file {name!r} has {size / 2**20:.1f} MiB; at most {MAX_PHOTO_BYTES >> 20} MiB is accepted. "
                "Export a smaller JPEG (a portrait of 600×800 pixels is plenty)",
                "photo",
            )
        data = photo.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise where.error(
            f"photo file {name!r} does not exist (looked for {photo}); photo paths are relative to the CSV's folder",
            "photo",
        ) from None
    except PermissionError:
        raise where.error(f"photo file {name!r} cannot be read (permission denied)", "photo") from None
    return _photo_jpeg(data, where, what=f"photo file {name!r}")


def _combined(problems: list[InputError], path: Path) -> InputError:
    if len(problems) == 1:
        p = problems[0]
        # rows count from 0 like every feature index; the header is CSV line 1, so row i is line i + 2
        return InputError(
            f"row {p.index} (line {p.index + 2}): {getattr(p, 'detail', p.message)}",  # type: ignore[operator]
            file=path,
            index=p.index,
            feature_id=p.feature_id,
            field=p.field,
        )
    fields = {p.field for p in problems}
    lines = "; ".join(
        f"row {p.index} (line {p.index + 2}), field {p.field!r}: {getattr(p, 'detail', p.message)}"  # type: ignore[operator]
        for p in problems[:10]
    )
    more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
    return InputError(
        f"{len(problems)} rows have problems, nothing was imported — {lines}{more}",
        file=path,
        index=[p.index for p in problems],  # type: ignore[misc]
        feature_id=[p.feature_id for p in problems],
        field=fields.pop() if len(fields) == 1 else None,
    )


# -- reading -----------------------------------------------------------------------------------


def _worker_columns() -> tuple:
    return (
        _worker.c.id,
        _worker.c.district_id,
        _worker.c.grid_code,
        _worker.c.name,
        _worker.c.work_phone,
        _worker.c.duties,
        _worker.c.active,
        _worker.c.photo.is_not(None).label("has_photo"),
    )


def list_workers(
    conn: Connection, *, district: str | None = None, grid_code: str | None = None, active: bool | None = None
) -> list[Worker]:
    """Stored workers, by grid code then newest first.

    Parameters
    ----------
    conn
        An open connection.
    district
        Only this district's (by name); ``None`` for all.
    grid_code
        Only this grid's.
    active
        ``True`` for posted workers, ``False`` for retired ones, ``None`` for both.

    Raises
    ------
    NotFoundError
        When ``district`` names no stored district.
    """
    query = select(*_worker_columns())
    if district is not None:
        query = query.where(_worker.c.district_id == _district_id(conn, district))
    if grid_code is not None:
        query = query.where(_worker.c.grid_code == grid_code)
    if active is not None:
        query = query.where(_worker.c.active.is_(active))
    rows = conn.execute(query.order_by(_worker.c.grid_code, _worker.c.id.desc())).all()
    return [Worker(*row) for row in rows]


def read_worker(conn: Connection, worker_id: int, *, lock: bool = False) -> Worker:
    """One stored worker.

    Parameters
    ----------
    conn
        An open connection.
    worker_id
        The worker's id.
    lock
        Lock the row until the transaction ends (for read-then-write).

    Raises
    ------
    NotFoundError
        When there is no such worker.
    """
    query = select(*_worker_columns()).where(_worker.c.id == worker_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFoundError(f"no grid worker with id {worker_id}; list them with GET /workers")
    return Worker(*row)


def worker_photo(conn: Connection, worker_id: int) -> bytes:
    """A worker's stored photo (JPEG).

    Raises
    ------
    NotFoundError
        When there is no such worker or they have no photo.
    """
    worker = read_worker(conn, worker_id)
    photo = conn.execute(select(_worker.c.photo).where(_worker.c.id == worker_id)).scalar()
    if photo is None:
        raise NotFoundError(f"grid worker {worker_id} ({worker.name}) has no photo")
    return photo


def posted_contact(conn: Connection, *, district_id: int, grid_code: str) -> PostedContact | None:
    """The posted fields of a grid's active worker, or ``None`` when the grid has none.

    Parameters
    ----------
    conn
        An open connection.
    district_id
        The grid's district (codes are unique within a district only).
    grid_code
        The grid's code.
    """
    row = conn.execute(
        select(_worker.c.name, _worker.c.work_phone, _worker.c.duties, _worker.c.photo)
        .where(_worker.c.district_id == district_id, _worker.c.grid_code == grid_code, _worker.c.active)
        # the same worker features.py and the tiles show when several are active
        .order_by(_worker.c.id)
        .limit(1)
    ).first()
    return None if row is None else PostedContact(*row)


# -- writing ----------------------------------------------------------------------------------


def import_workers(
    conn: Connection, rows: Sequence[WorkerRow], *, district: str | None = None, file: str = "workers"
) -> ImportSummary:
    """Assign the workers of checked rows (from :func:`read_workers_csv`) in one transaction.

    Each row becomes its grid's active worker. When the grid's active worker has the same
    name, their posted fields are updated (so importing a file twice changes nothing);
    otherwise the previous worker is retired and kept for history.

    Parameters
    ----------
    conn
        An open connection.
    rows
        The workers.
    district
        The district's name; ``None`` when one district alone has a published plan.
    file
        The source, for error messages.

    Raises
    ------
    InputError
        When a grid code repeats or is not among the published plan's grids; nothing is written.
    NotFoundError
        When the district does not exist or has no published plan.
    """
    with atomic(conn):
        district_id, grids = _published_grids(conn, district)
        problems = []
        seen: dict[str, int] = {}
        for index, row in enumerate(rows):
            where = _Where(file, index, row.grid_code)
            if row.grid_code in seen:
                problems.append(
                    where.error(
                        f"grid {row.grid_code} already has a worker in row {seen[row.grid_code]}; a grid posts one "
                        "contact. Keep one row per grid",
                        "grid_code",
                    )
                )
            elif row.grid_code not in grids:
                problems.append(where.error(_unknown_grid(row.grid_code, grids), "grid_code"))
            seen.setdefault(row.grid_code, index)
        if problems:
            raise _combined(problems, Path(file))
        assigned = updated = retired = 0
        for row in rows:
            outcome, n_retired = _assign(conn, district_id, grids[row.grid_code], row)
            assigned += outcome == "assigned"
            updated += outcome == "updated"
            retired += n_retired
    return ImportSummary(district_id, assigned, updated, retired)


def assign_worker(
    conn: Connection,
    *,
    grid_code: str,
    name: str,
    work_phone: str,
    duties: str | None = None,
    photo: bytes | None = None,
    district: str | None = None,
) -> Worker:
    """Make a new worker a grid's posted contact, retiring the grid's previous worker.

    Parameters
    ----------
    conn
        An open connection.
    grid_code
        A grid of the district's published plan.
    name, work_phone, duties, photo
        The posted fields; ``photo`` is an image file's bytes (see :func:`photo_jpeg`).
    district
        The district's name; ``None`` when one district alone has a published plan.

    Returns
    -------
    Worker
        The new worker.

    Raises
    ------
    InputError
        When a field is empty, too long or malformed, or the grid is unknown.
    NotFoundError
        When the district does not exist or has no published plan.
    """
    row = _checked(_Where(), grid_code=grid_code, name=name, work_phone=work_phone, duties=duties, photo=photo)
    with atomic(conn):
        district_id, grids = _published_grids(conn, district)
        if row.grid_code not in grids:
            raise InputError(_unknown_grid(row.grid_code, grids), feature_id=row.grid_code, field="grid_code")
        _retire_grid(conn, district_id, row.grid_code)
        worker_id = _insert(conn, district_id, grids[row.grid_code], row)
    return read_worker(conn, worker_id)


_UNSET: Any = object()


def change_worker(
    conn: Connection,
    worker_id: int,
    *,
    name: str = _UNSET,
    work_phone: str = _UNSET,
    duties: str | None = _UNSET,
    photo: bytes | None = _UNSET,
) -> Worker:
    """Change an active worker's posted fields; fields not given stay as they are.

    Parameters
    ----------
    conn
        An open connection.
    worker_id
        The worker.
    name, work_phone, duties
        New values (``duties=None`` clears the duties).
    photo
        An image file's bytes, or ``None`` to remove the photo.

    Raises
    ------
    NotFoundError
        When there is no such worker.
    ConflictError
        When the worker is retired (assign a new worker instead).
    InputError
        When a value is empty, too long or malformed.
    """
    with atomic(conn):
        current = read_worker(conn, worker_id, lock=True)
        if not current.active:
            raise ConflictError(
                f"grid worker {worker_id} ({current.name}) is retired; retired records are history. Assign a new "
                "worker with POST /workers"
            )
        where = _Where(feature_id=current.grid_code)
        values: dict[str, Any] = {}
        if name is not _UNSET:
            values["name"] = _text(name, where, "name", required=True, limit=MAX_NAME_CHARS)
        if work_phone is not _UNSET:
            values["work_phone"] = _phone(work_phone, where)
        if duties is not _UNSET:
            values["duties"] = _text(duties, where, "duties", required=False, limit=MAX_DUTIES_CHARS)
        if photo is not _UNSET:
            values["photo"] = None if photo is None else _photo_jpeg(photo, where)
        if values:
            conn.execute(update(_worker).where(_worker.c.id == worker_id).values(**values))
    return read_worker(conn, worker_id)


def retire_worker(conn: Connection, worker_id: int) -> Worker:
    """Retire a worker: no longer posted, kept for history. Retiring twice is harmless.

    Raises
    ------
    NotFoundError
        When there is no such worker.
    """
    with atomic(conn):
        read_worker(conn, worker_id, lock=True)
        conn.execute(update(_worker).where(_worker.c.id == worker_id).values(active=False))
    return read_worker(conn, worker_id)


def _assign(conn: Connection, district_id: int, grid_id: int, row: WorkerRow) -> tuple[str, int]:
    same = conn.execute(
        select(_worker.c.id)
        .where(
            _worker.c.district_id == district_id,
            _worker.c.grid_code == row.grid_code,
            _worker.c.active,
            _worker.c.name == row.name,
        )
        .order_by(_worker.c.id)
        .limit(1)
    ).scalar()
    if same is not None:
        conn.execute(
            update(_worker)
            .where(_worker.c.id == same)
            .values(grid_id=grid_id, work_phone=row.work_phone, duties=row.duties, photo=row.photo)
        )
        return "updated", _retire_grid(conn, district_id, row.grid_code, keep=same)
    retired = _retire_grid(conn, district_id, row.grid_code)
    _insert(conn, district_id, grid_id, row)
    return "assigned", retired


def _insert(conn: Connection, district_id: int, grid_id: int, row: WorkerRow) -> int:
    return conn.execute(
        insert(_worker)
        .values(
            district_id=district_id,
            grid_code=row.grid_code,
            grid_id=grid_id,
            name=row.name,
            work_phone=row.work_phone,
            duties=row.duties,
            photo=row.photo,
            active=True,
        )
        .returning(_worker.c.id)
    ).scalar_one()


def _retire_grid(conn: Connection, district_id: int, grid_code: str, *, keep: int | None = None) -> int:
    query = update(_worker).where(
        _worker.c.district_id == district_id, _worker.c.grid_code == grid_code, _worker.c.active
    )
    if keep is not None:
        query = query.where(_worker.c.id != keep)
    return conn.execute(query.values(active=False).execution_options(preserve_rowcount=True)).rowcount


def _district_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(District.id).where(District.name == name)).scalar()
    if found is None:
        names = conn.execute(select(District.name).order_by(District.name)).scalars().all()
        raise NotFoundError(f"no district named {name!r}; stored districts: {', '.join(map(repr, names)) or 'none'}")
    return found


def _published_grids(conn: Connection, district: str | None) -> tuple[int, dict[str, int]]:
    """The district's id and its published plan's grids (code → id), locked against concurrent assignment."""
    query = select(GridPlan.id, GridPlan.district_id).where(GridPlan.status == PlanStatus.PUBLISHED)
    if district is not None:
        query = query.where(GridPlan.district_id == _district_id(conn, district))
    plans = conn.execute(query).all()
    if not plans:
        where = "" if district is None else f" for district {district!r}"
        raise NotFoundError(f"no plan is published{where}; workers are assigned to grids of the published plan")
    if len(plans) > 1:
        names = conn.execute(
            select(District.name).where(District.id.in_([p.district_id for p in plans])).order_by(District.name)
        ).scalars()
        raise InputError(
            f"several districts have a published plan ({', '.join(map(repr, names))}); name the district",
            field="district",
        )
    plan_id, district_id = plans[0]
    # One assigner per district at a time, so a grid never ends up with two active workers.
    conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"grid_worker:{district_id}"))))
    grids = dict(conn.execute(select(Grid.code, Grid.id).where(Grid.plan_id == plan_id)).all())
    return district_id, grids


def _unknown_grid(code: str, grids: dict[str, int]) -> str:
    known = sorted(grids)
    shown = ", ".join(known[:8]) + (f" … ({len(known)} grids)" if len(known) > 8 else "")
    return f"grid {code!r} is not a grid of the published plan; known codes: {shown}"
