"""The roster a community posts: its CSV file and photos, checked before anything is stored.

A roster row names a grid code, the worker's name and work phone, and optionally duties and
a photo file. :func:`read_workers_csv` checks every row (all problems at once, naming the
row and field), :func:`photo_jpeg` checks a photo and re-encodes it as a metadata-free JPEG:
phone photos carry EXIF with the place they were taken. Storing the rows is
:mod:`gis.workers.store`'s job.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gis.errors import FormatError, InputError

__all__ = [
    "CSV_COLUMNS",
    "MAX_DUTIES_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PHOTO_BYTES",
    "PHOTO_MAX_PIXELS",
    "POSTED_CHECKS",
    "Where",
    "WorkerRow",
    "check_phone",
    "check_text",
    "checked_photo",
    "checked_row",
    "combined_error",
    "photo_jpeg",
    "read_workers_csv",
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


@dataclass(frozen=True)
class WorkerRow:
    """One validated worker to assign (a CSV row or an API request)."""

    grid_code: str
    name: str
    work_phone: str
    duties: str | None = None
    photo: bytes | None = None


@dataclass(frozen=True)
class Where:
    """Where a value came from, for error messages."""

    file: str | None = None
    index: int | None = None
    feature_id: str | None = None

    def error(self, message: str, field: str) -> InputError:
        err = InputError(message, file=self.file, index=self.index, feature_id=self.feature_id, field=field)
        err.detail = message  # type: ignore[attr-defined]  # without the "file ..., field ...:" prefix
        return err


def photo_jpeg(
    data: bytes,
    *,
    file: str | None = None,
    index: int | None = None,
    feature_id: str | None = None,
    max_pixels: tuple[int, int] = PHOTO_MAX_PIXELS,
    what: str = "the photo",
) -> bytes:
    """Check a photo and re-encode it as a metadata-free JPEG that fits in ``max_pixels``.

    Parameters
    ----------
    data
        The image file's bytes (JPEG, PNG or WebP, at most :data:`MAX_PHOTO_BYTES`).
    file, index, feature_id
        Where the photo came from, for error messages.
    max_pixels
        The box the JPEG fits in (width, height): a worker's portrait by default
        (:data:`PHOTO_MAX_PIXELS`); an incident's photo is larger.
    what
        The photo, as messages name it.

    Returns
    -------
    bytes
        The JPEG.

    Raises
    ------
    InputError
        When the bytes are too many, not an image, another format, or too small or large.
    """
    return checked_photo(data, Where(file, index, feature_id), what=what, max_pixels=max_pixels)


def checked_photo(
    data: bytes, where: Where, *, what: str = "the photo", max_pixels: tuple[int, int] = PHOTO_MAX_PIXELS
) -> bytes:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_PHOTO_BYTES:
        raise where.error(
            f"{what} has {len(data) / 2**20:.1f} MiB; at most {MAX_PHOTO_BYTES >> 20} MiB is accepted. "
            f"Export a smaller JPEG ({max_pixels[0]}×{max_pixels[1]} pixels is plenty)",
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
                    f"Use about {max_pixels[0]}×{max_pixels[1]} pixels",
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
    image.thumbnail(max_pixels)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def check_text(value: Any, where: Where, field: str, *, required: bool, limit: int) -> str | None:
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


def check_phone(value: Any, where: Where) -> str:
    phone = check_text(value, where, "work_phone", required=True, limit=40)
    assert phone is not None
    digits = sum(ch.isdigit() for ch in phone)
    if not _PHONE.match(phone) or not 5 <= digits <= 20:
        raise where.error(
            f"work_phone {phone!r} is not a phone number; expected digits with optional spaces, hyphens, "
            "brackets, a leading + and an extension, e.g. '0755-8888 1234' or '138 0013 8000'",
            "work_phone",
        )
    return phone


# How each posted field of a worker is checked: a new worker's row and a change of an
# active worker go through the same rules. Each takes the value and where it came from.
POSTED_CHECKS: dict[str, Callable[[Any, Where], Any]] = {
    "name": lambda value, where: check_text(value, where, "name", required=True, limit=MAX_NAME_CHARS),
    "work_phone": check_phone,
    "duties": lambda value, where: check_text(value, where, "duties", required=False, limit=MAX_DUTIES_CHARS),
    "photo": lambda value, where: None if value is None else checked_photo(value, where),
}


def checked_row(
    where: Where, *, grid_code: Any, name: Any, work_phone: Any, duties: Any = None, photo: bytes | None = None
) -> WorkerRow:
    """A worker's posted fields checked (``where`` names the row or request in errors)."""
    code = check_text(grid_code, where, "grid_code", required=True, limit=64)
    assert code is not None
    where = Where(where.file, where.index, where.feature_id or code)
    given = {"name": name, "work_phone": work_phone, "duties": duties, "photo": photo}
    return WorkerRow(grid_code=code, **{field: check(given[field], where) for field, check in POSTED_CHECKS.items()})


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
        where = Where(str(path), index, (record.get(columns["grid_code"]) or "").strip() or None)
        values = {field: record.get(column) for field, column in columns.items()}
        try:
            photo = _photo_file(values.get("photo"), path.parent, where)
            rows.append(
                checked_row(
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
        raise combined_error(problems, path)
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


def _photo_file(value: str | None, folder: Path, where: Where) -> bytes | None:
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
    return checked_photo(data, where, what=f"photo file {name!r}")


def combined_error(problems: list[InputError], path: Path) -> InputError:
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
