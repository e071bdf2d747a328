"""Incident files (CSV, GeoJSON) to checked records: field mapping, category values, CRS, time zones.

Nothing is guessed: coordinates need their CRS, times written without an offset need a
time zone, and category values that are not taxonomy codes need a mapping to one.
Rows without coordinates are left out and counted (:class:`MappedIncidents`).
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
from pyogrio.errors import DataSourceError

from gis.clock import FIRST_YEAR, LAST_YEAR
from gis.errors import FormatError, InputError, MissingCRSError
from gis.incidents.taxonomy import DEFAULT, HANDLING_CLASSES, Taxonomy
from gis.incidents.workflow import STATES

__all__ = ["FIELDS", "MappedIncidents", "map_incidents", "read_incident_table"]

# fields a --map may name; reported_at or year/month/day (hour, minute) give the time
FIELDS = (
    "category",
    "x",
    "y",
    "reported_at",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "description",
    "handling_class",
    "status",
    "public",
)
_PARTS = ("year", "month", "day", "hour", "minute")


@dataclass(frozen=True)
class MappedIncidents:
    """Checked records ready for :func:`gis.incidents.store.copy_incidents`, and the rows left out."""

    frame: pd.DataFrame
    read: int
    without_location: int

    def summary(self) -> str:
        return f"{self.read} rows read; {self.without_location} without coordinates left out"


def read_incident_table(path: str | Path, *, fmt: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """Read a CSV or GeoJSON file as a table of strings and numbers, and the CRS of its geometry.

    GeoJSON points become ``x`` and ``y`` columns (their CRS is returned); a CSV has no
    CRS (``None``).

    Raises
    ------
    FormatError
        For a file that cannot be read, or an unknown format.
    """
    path = Path(path)
    kind = (fmt or path.suffix.lstrip(".")).lower()
    try:
        if kind == "csv":
            _check_csv_rows(path)
            return pd.read_csv(path, low_memory=False), None
        if kind in ("geojson", "json"):
            import pyogrio

            frame = pyogrio.read_dataframe(path)
            crs = frame.crs.to_string() if frame.crs is not None else "EPSG:4326"  # RFC 7946: lon/lat
            points = frame.geometry
            table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
            table["x"] = np.where(points.isna(), np.nan, points.x)
            table["y"] = np.where(points.isna(), np.nan, points.y)
            return table, crs
    except (OSError, ValueError, DataSourceError) as exc:
        raise FormatError(f"cannot read {path}: {exc}", file=str(path)) from None
    raise FormatError(
        f"{path}: unknown format {kind!r}; expected csv or geojson, named as the format",
        file=str(path),
        option="format",
    )


def _check_csv_rows(path: Path) -> None:
    """Every record of a CSV has the header's number of fields, and no NUL character.

    pandas pads a short record (a truncated file's last line, a row with a field
    missing) with blanks without a word; a half-imported file would go unnoticed.
    """
    raw = path.read_bytes()
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise InputError(f"line {line} holds a NUL character (\\x00), which no stored text can hold; remove it",
                         file=str(path), index=line - 2)  # fmt: skip
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path} is not UTF-8 (byte {exc.start}); save it as UTF-8", file=str(path)) from None
    records = csv.reader(io.StringIO(text, newline=""))
    header = next(records, None)
    if not header:
        raise FormatError(f"{path} is empty; expected a header line and rows", file=str(path))
    for row, fields in enumerate(records):
        if fields and len(fields) != len(header):
            raise InputError(
                f"row {row} (line {records.line_num}) has {len(fields)} fields, the header {len(header)}; "
                "the file may be cut short or a field may be missing. Nothing was imported",
                file=str(path),
                index=row,
            )


def map_incidents(
    table: pd.DataFrame,
    mapping: Mapping[str, str],
    *,
    file: str,
    crs: str | None,
    timezone: str | None = None,
    categories: Mapping[str, str] | None = None,
    taxonomy: Taxonomy = DEFAULT,
) -> MappedIncidents:
    """Turn a read table into incident records through a field mapping.

    Parameters
    ----------
    table
        From :func:`read_incident_table` (not changed).
    mapping
        Field → column, for the fields in :data:`FIELDS`; ``category`` and a time are
        required; ``x``/``y`` default to those columns (GeoJSON).
    file
        Named in messages.
    crs
        CRS of ``x``/``y``, e.g. ``EPSG:26910``; required.
    timezone
        Zone of times written without an offset, e.g. ``America/Vancouver``. A local
        time that occurs twice (clocks turned back) is read as the first of the two; one
        that does not exist (clocks turned forward) as the moment of the change.
    categories
        Raw category value → taxonomy code, for values that are not codes.

    Raises
    ------
    InputError
        For an unknown field or column, a missing CRS or time zone, category values
        without a code, times that do not parse, or unknown statuses and classes.
    """
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise InputError(f"unknown field(s) {unknown} in the mapping; expected some of {list(FIELDS)}", file=file)
    columns = {"x": "x", "y": "y", **dict(mapping)} if "x" in table.columns else dict(mapping)
    for field, column in columns.items():
        if column not in table.columns:
            raise InputError(
                f"column {column!r} (mapped to {field}) is not in the file; its columns are {list(table.columns)}",
                file=file,
                field=field,
            )
    for needed in ("category", "x", "y"):
        if needed not in columns:
            raise InputError(f"map the field {needed!r} to a column ({needed}=COLUMN)", file=file, option="map")
    if crs is None:
        raise MissingCRSError(
            "give the CRS of the coordinates, e.g. EPSG:4326 for lon/lat", file=file, option="input_crs"
        )
    x = pd.to_numeric(table[columns["x"]], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(table[columns["y"]], errors="coerce").to_numpy(dtype=float)
    located = np.isfinite(x) & np.isfinite(y)
    rows = table.loc[located]
    try:
        to_lonlat = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    except pyproj.exceptions.CRSError:
        raise MissingCRSError(f"{crs!r} is not a CRS; expected e.g. EPSG:4326", file=file) from None
    lon, lat = to_lonlat.transform(x[located], y[located])
    codes = _categories(rows[columns["category"]], categories or {}, taxonomy, file)
    kinds = [taxonomy.find(c) for c in codes.unique()]
    out = pd.DataFrame(
        {
            "category": codes.to_numpy(),
            "handling_class": codes.map({k.code: k.handling_class for k in kinds}).to_numpy(),
            "status": "reported",
            "reported_at": _times(rows, columns, timezone, file).array,  # tz-aware; to_numpy() makes objects
            "lon": lon,
            "lat": lat,
            "description": rows[columns["description"]].to_numpy() if "description" in columns else None,
            "public": codes.map({k.code: k.public for k in kinds}).to_numpy(),
        }
    )
    for field, valid in (("handling_class", HANDLING_CLASSES), ("status", STATES)):
        if field in columns:
            values = rows[columns[field]].astype(str).to_numpy()
            bad = sorted(set(values) - set(valid))
            if bad:
                raise InputError(
                    f"column {columns[field]!r} ({field}) holds {bad[:10]}; expected one of {list(valid)}",
                    file=file,
                    field=field,
                )
            out[field] = values
    if "public" in columns:
        out["public"] = rows[columns["public"]].astype(str).str.lower().isin(("true", "1", "yes", "t")).to_numpy()
    return MappedIncidents(out, read=len(table), without_location=int((~located).sum()))


def _categories(raw: pd.Series, values: Mapping[str, str], taxonomy: Taxonomy, file: str) -> pd.Series:
    text = raw.astype(str).str.strip()
    codes = text.map(lambda v: values.get(v, v))
    counts = codes[~codes.isin(taxonomy.codes)].value_counts()
    if len(counts):
        shown = ", ".join(f"{v!r} ({n})" for v, n in counts.head(10).items())
        raise InputError(
            f"{int(counts.sum())} rows have category values that are no taxonomy code: {shown}; "
            "map each to a code (VALUE=CODE)",
            file=file,
            option="category",
            see="incident_taxonomy",
            field="category",
        )
    for code in set(values.values()):
        taxonomy.find(code, field="category")
    return codes


# each part of a time given in columns, and the values it may take
_PART_RANGES = {"year": (FIRST_YEAR, LAST_YEAR), "month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59)}


def _check_parts(parts: dict[str, pd.Series], rows: pd.DataFrame, columns: Mapping[str, str], file: str) -> None:
    """Name the row, the part and its value for a year, month, day, hour or minute out of its range."""
    for part, values in parts.items():
        low, high = _PART_RANGES[part]
        bad = (values.isna() | (values < low) | (values > high) | (values % 1 != 0)).to_numpy()
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            value = rows[columns[part]].iloc[first]
            raise InputError(
                f"row {rows.index[first]} has {part} {str(value)[:20]!r} (column {columns[part]!r}); expected a "
                f"whole number from {low} to {high}",
                file=file,
                index=int(rows.index[first]),
                field=part,
            )


def _iso_times(raw: pd.Series) -> pd.Series:
    """Times as ISO 8601 strings parse column-wise (fast); anything else element by element (``mixed``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mixed offsets: the slower path below reads them
        try:
            fast = pd.to_datetime(raw, errors="coerce", format="ISO8601")
        except (ValueError, TypeError):
            fast = None
    if fast is not None and pd.api.types.is_datetime64_any_dtype(fast) and not (fast.isna() & raw.notna()).any():
        return fast
    return pd.to_datetime(raw, errors="coerce", format="mixed")


def _times(rows: pd.DataFrame, columns: Mapping[str, str], timezone: str | None, file: str) -> pd.Series:
    if "reported_at" in columns:
        raw = rows[columns["reported_at"]]
        parsed = _iso_times(raw)
    elif all(p in columns for p in _PARTS[:3]):
        parts = {p: pd.to_numeric(rows[columns[p]], errors="coerce") for p in _PARTS if p in columns}
        _check_parts(parts, rows, columns, file)
        raw = pd.Series(
            [", ".join(f"{p}={parts[p].iloc[i]:g}" for p in parts) for i in range(len(rows))], index=rows.index
        )
        parsed = pd.to_datetime(pd.DataFrame(parts), errors="coerce")
    else:
        raise InputError(
            "map the time: reported_at=COLUMN, or year=.., month=.. and day=..",
            file=file,
            option="map",
            field="reported_at",
        )
    years = parsed.dt.year.to_numpy()  # NaN where the time did not parse
    bad = parsed.isna().to_numpy() | (years < FIRST_YEAR) | (years > LAST_YEAR)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        shown = raw.iloc[first]
        shown = shown if isinstance(shown, str) else str(shown)
        raise InputError(
            f"row {rows.index[first]} has the time {shown[:60]!r}, which does not parse as a date and time "
            f"between the years {FIRST_YEAR} and {LAST_YEAR}; expected ISO 8601 such as 2020-05-01T13:45",
            file=file,
            index=int(rows.index[first]),
            field="reported_at",
        )
    if parsed.dt.tz is not None:
        return parsed.dt.tz_convert("UTC")
    if timezone is None:
        raise InputError(
            "times have no UTC offset; give their zone, e.g. Asia/Shanghai",
            file=file,
            option="timezone",
            field="reported_at",
        )
    # A local time the clocks pass twice (the autumn change) is taken as the first, daylight-saving one;
    # a time they skip (spring) is moved forward to the change. Both are said in the docstring.
    first = np.ones(len(parsed), dtype=bool)
    return parsed.dt.tz_localize(timezone, ambiguous=first, nonexistent="shift_forward").dt.tz_convert("UTC")
