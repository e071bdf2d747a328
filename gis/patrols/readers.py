"""Reading GPS fixes from GPX, CSV, GeoJSON and JSON into one frame shape.

Every reader returns a :class:`pandas.DataFrame` with the columns of
:mod:`gis.patrols.columns`: ``worker`` (the worker id as the file gives it, or
``None``), ``device``, ``recorded_at`` (UTC), ``lon``, ``lat`` and ``row`` (the fix's
0-based position in the file, for messages). Which worker a fix belongs to is settled
later, against the store (:func:`gis.patrols.store.resolve_workers`).

Times are never guessed: a CSV time without an offset needs the ``timezone`` it was
written in, and GPX times are UTC, as the GPX 1.1 schema defines them.

Examples
--------
>>> fixes = read_tracks("team_k61.csv", timezone="Asia/Taipei")  # doctest: +SKIP
>>> fixes.columns.tolist()  # doctest: +SKIP
['worker', 'device', 'recorded_at', 'lon', 'lat', 'row']
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from gis.errors import FormatError, InputError
from gis.patrols.columns import DEVICE, LAT, LON, ROW, TIME, WORKER

__all__ = [
    "CSV_COLUMNS",
    "FIX_COLUMNS",
    "check_timezone",
    "read_csv",
    "read_geojson",
    "read_gpx",
    "read_json",
    "read_tracks",
]

FIX_COLUMNS = [WORKER, DEVICE, TIME, LON, LAT, ROW]

# Field → header names recognised (case-insensitive) when no column is named explicitly.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    LON: ("lon", "lng", "long", "longitude", "x"),
    LAT: ("lat", "latitude", "y"),
    TIME: ("recorded_at", "timestamp", "time", "datetime", "date_time", "t", "timestamp_local", "gps_time"),
    DEVICE: ("device", "device_id", "imei"),
    WORKER: ("worker_id", "worker"),
}
_REQUIRED = (LON, LAT, TIME)
_OFFSET = re.compile(r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$")
_GEOJSON_TIMES = ("time", "timestamp", "recorded_at", "datetime")
_SUFFIXES = {".gpx": "gpx", ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".geojson": "geojson", ".json": "geojson"}


def read_tracks(
    source: str | Path,
    *,
    data: bytes | None = None,
    fmt: str | None = None,
    timezone: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read a track file, choosing the reader by ``fmt`` or the file's suffix.

    Parameters
    ----------
    source
        The file (read unless ``data`` is given; then only its name is used in messages).
    data
        The file's bytes, for uploads.
    fmt
        ``"gpx"``, ``"csv"`` or ``"geojson"``; by default from the suffix.
    timezone
        IANA zone of CSV or GeoJSON times written without an offset.
    columns
        CSV only: field (``lon``, ``lat``, ``recorded_at``, ``device``, ``worker``) → header.

    Returns
    -------
    pandas.DataFrame
        The fixes, in file order.

    Raises
    ------
    FormatError
        For an unknown suffix, or a file that is not what its suffix says.
    InputError
        For bad values; the message names the file, row and field.
    """
    name = str(source)
    kind = fmt or _SUFFIXES.get(Path(name).suffix.lower())
    if kind is None:
        raise FormatError(
            f"cannot tell the format from the suffix {Path(name).suffix!r}; use .gpx, .csv or .geojson, "
            "or name the format (gpx, csv or geojson)",
            file=name,
            option="format",
        )
    raw = _bytes(name, data)
    if kind == "gpx":
        return read_gpx(name, data=raw)
    if kind == "csv":
        return read_csv(name, data=raw, timezone=timezone, columns=columns)
    if kind == "geojson":
        return read_geojson(name, data=raw, timezone=timezone)
    raise FormatError(f"unknown format {kind!r}; expected gpx, csv or geojson", file=name)


def _bytes(name: str, data: bytes | None) -> bytes:
    if data is not None:
        return data
    path = Path(name)
    if not path.is_file():
        raise InputError(f"no such file: {path}; check the path", file=name)
    return path.read_bytes()


def read_gpx(source: str | Path, *, data: bytes | None = None) -> pd.DataFrame:
    """Fixes of a GPX file's tracks (``trkpt``), one worker per file.

    Times without an offset are UTC, as the GPX 1.1 schema defines ``<time>``.
    The track's ``<name>`` becomes the device.

    Raises
    ------
    FormatError
        When the file is not GPX, or holds no track points.
    InputError
        For a track point without a time; names the point's position.
    """
    import gpxpy
    import gpxpy.gpx

    name = str(source)
    raw = _bytes(name, data)
    try:
        gpx = gpxpy.parse(raw.decode("utf-8-sig"))
    except (gpxpy.gpx.GPXException, UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"cannot be read as GPX: {exc}; export the track as GPX 1.1", file=name) from None
    times, lons, lats, devices = [], [], [], []
    for track in gpx.tracks:
        for segment in track.segments:
            for point in segment.points:
                if point.time is None:
                    raise InputError(
                        f"track point {len(times)} (lat {point.latitude}, lon {point.longitude}) has no <time>; "
                        "every fix needs one. Export the track with times",
                        file=name,
                        index=len(times),
                        field="time",
                    )
                times.append(point.time)
                lons.append(point.longitude)
                lats.append(point.latitude)
                devices.append(track.name or None)
    if not times:
        raise FormatError(
            "holds no track points (<trk><trkseg><trkpt>); waypoints and routes are not patrols", file=name
        )
    stamps = pd.to_datetime(
        pd.Series([t.isoformat() if t.tzinfo is not None else t.isoformat() + "+00:00" for t in times]),
        format="ISO8601",
        utc=True,
    )
    return _frame(name, None, devices, stamps, lons, lats)


def read_csv(
    source: str | Path,
    *,
    data: bytes | None = None,
    timezone: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Fixes of a CSV file: a time, longitude and latitude per row, with a device or worker column.

    The separator (``,``, ``;``, tab or ``|``) is taken from the header line. Headers are
    matched case-insensitively against :data:`CSV_COLUMNS` unless ``columns`` names them.
    Times are ISO 8601 (with or without offset) or Unix seconds (milliseconds when larger
    than 10^11).

    Parameters
    ----------
    source
        The file (or its name, with ``data``).
    data
        The file's bytes.
    timezone
        IANA zone, e.g. ``"Asia/Taipei"``, of times written without an offset.
    columns
        Field → header, e.g. ``{"worker": "tracker", "recorded_at": "t"}``.

    Raises
    ------
    FormatError
        For an empty file or one without a header.
    InputError
        For a missing column or a bad value; names the row (0-based, after the header) and field.
    """
    name = str(source)
    raw = _bytes(name, data)
    text_head = raw[:4096].decode("utf-8-sig", errors="replace")
    first_line = text_head.splitlines()[0] if text_head.strip() else ""
    if not first_line.strip():
        raise FormatError("is empty; expected a header line and one fix per row", file=name)
    sep = max((",", ";", "\t", "|"), key=first_line.count)
    header = next(csv.reader([first_line], delimiter=sep))
    picked = _pick_columns(header, columns or {}, name)
    try:
        frame = pd.read_csv(
            io.BytesIO(raw),
            sep=sep,
            usecols=list(picked.values()),
            dtype={picked[k]: str for k in (DEVICE, WORKER) if k in picked},
            encoding="utf-8-sig",
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"cannot be read as CSV separated by {sep!r}: {exc}", file=name) from None
    if frame.empty:
        raise FormatError("has a header but no rows", file=name)
    lons = _numbers(frame[picked[LON]], name, picked[LON])
    lats = _numbers(frame[picked[LAT]], name, picked[LAT])
    stamps = _times(frame[picked[TIME]], name, picked[TIME], timezone)
    workers = frame[picked[WORKER]] if WORKER in picked else None
    devices = frame[picked[DEVICE]] if DEVICE in picked else None
    return _frame(name, workers, devices, stamps, lons, lats)


def _pick_columns(header: list[str], given: Mapping[str, str], name: str) -> dict[str, str]:
    unknown = sorted(set(given) - set(CSV_COLUMNS))
    if unknown:
        raise InputError(f"cannot map {unknown}; the fields are {sorted(CSV_COLUMNS)}", file=name)
    by_lower = {h.strip().lower(): h for h in header}
    picked: dict[str, str] = {}
    for field, aliases in CSV_COLUMNS.items():
        if field in given:
            if given[field] not in header:
                raise InputError(
                    f"has no column {given[field]!r} (named for {field}); its columns are {header}",
                    file=name,
                    field=given[field],
                )
            picked[field] = given[field]
            continue
        found = next((by_lower[a] for a in aliases if a in by_lower), None)
        if found is not None:
            picked[field] = found
    missing = [f for f in _REQUIRED if f not in picked]
    if missing:
        raise InputError(
            f"has no column for {missing}; its columns are {header}. Name a column for each, e.g. "
            f"{missing[0]}=HEADER (recognised names: "
            + "; ".join(f"{f}: {', '.join(CSV_COLUMNS[f])}" for f in missing)
            + ")",
            file=name,
            field=missing[0],
        )
    return picked


def _numbers(values: pd.Series, name: str, field: str) -> np.ndarray:
    parsed = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(parsed))
    if len(bad):
        i = int(bad[0])
        raw = values.iloc[i]
        shown = "nothing" if pd.isna(raw) else repr(raw.item() if isinstance(raw, np.generic) else raw)
        raise InputError(
            f"row {i} has {shown}, not a number ({len(bad)} such rows); expected decimal degrees",
            file=name,
            index=i,
            field=field,
        )
    return parsed


def check_timezone(timezone: str) -> ZoneInfo:
    """The zone named ``timezone``, or an :class:`InputError` saying how to name one.

    Examples
    --------
    >>> check_timezone("Asia/Shanghai").key
    'Asia/Shanghai'
    """
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {timezone!r}; use an IANA name such as Asia/Shanghai or Asia/Taipei",
            field="timezone",
        ) from None


def _times(values: pd.Series, name: str, field: str, timezone: str | None) -> pd.Series:
    """Times as UTC; naive ones localised to ``timezone``, which they then must have."""
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        i = int(missing[0])
        raise InputError(f"row {i} has no time ({len(missing)} such rows)", file=name, index=i, field=field)
    if pd.api.types.is_numeric_dtype(values):
        seconds = values.to_numpy(dtype=float)
        unit = "ms" if np.nanmedian(np.abs(seconds)) > 1e11 else "s"
        return pd.Series(pd.to_datetime(seconds, unit=unit, utc=True))
    strings = values.astype(str).str.strip()
    try:
        stamps = pd.to_datetime(strings, format="ISO8601")
    except ValueError as exc:
        if "Mixed timezones" not in str(exc):
            _bad_time(strings, name, field)
        aware = strings.str.contains(_OFFSET)
        if not aware.all():
            i = int(np.flatnonzero(~aware.to_numpy())[0])
            raise InputError(
                f"row {i} has {strings.iloc[i]!r} without a UTC offset while other rows have one; write every "
                "time with its offset (e.g. 2026-11-02T09:00:00+08:00)",
                file=name,
                index=i,
                field=field,
            ) from None
        return pd.to_datetime(strings, format="ISO8601", utc=True)
    if stamps.dt.tz is None:
        if timezone is None:
            raise InputError(
                f"times such as {strings.iloc[0]!r} have no UTC offset, so the time zone they were written in "
                "is unknown; name it (e.g. Asia/Shanghai) or write offsets",
                file=name,
                option="timezone",
                index=0,
                field=field,
            )
        zone = check_timezone(timezone)
        try:
            stamps = stamps.dt.tz_localize(zone, ambiguous="raise", nonexistent="raise")
        except (ValueError, Exception) as exc:  # pytz-style AmbiguousTimeError/NonExistentTimeError are ValueErrors
            raise InputError(
                f"times do not exist or repeat in {timezone} (a daylight-saving change): {exc}; write "
                "times with their UTC offsets",
                file=name,
                field=field,
            ) from None
    return stamps.dt.tz_convert("UTC")


def _bad_time(strings: pd.Series, name: str, field: str) -> None:
    parsed = pd.to_datetime(strings, format="ISO8601", errors="coerce", utc=True)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    i = int(bad[0]) if len(bad) else 0
    raise InputError(
        f"row {i} has {strings.iloc[i]!r}, not a time ({len(bad)} such rows); expected ISO 8601 such as "
        "2026-11-02T09:00:00+08:00, or Unix seconds",
        file=name,
        index=i,
        field=field,
    ) from None


def _frame(
    name: str,
    workers: Any,
    devices: Any,
    stamps: pd.Series,
    lons: Any,
    lats: Any,
) -> pd.DataFrame:
    n = len(stamps)
    frame = pd.DataFrame(
        {
            WORKER: _texts(workers, n),
            DEVICE: _texts(devices, n),
            TIME: pd.Series(stamps).reset_index(drop=True).dt.tz_convert("UTC"),
            LON: np.asarray(lons, dtype=float),
            LAT: np.asarray(lats, dtype=float),
            ROW: np.arange(n, dtype=np.int64),
        }
    )
    _check_coordinates(frame, name)
    return frame


def _texts(values: Any, n: int) -> pd.Series:
    """Ids as text (``7``, not ``7.0``), blanks as ``None``; CSV columns arrive as text already."""
    if values is None:
        return pd.Series([None] * n, dtype=object)
    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_string_dtype(series) and not any(isinstance(v, float) for v in series.head(100)):
        stripped = series.astype(object).where(series.isna(), series.astype(str).str.strip())
        return stripped.where(stripped.notna() & (stripped != ""), None).astype(object)
    return pd.Series([_text(v) for v in series], dtype=object)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _check_coordinates(frame: pd.DataFrame, name: str) -> None:
    for field, limit in ((LON, 180.0), (LAT, 90.0)):
        values = frame[field].to_numpy()
        bad = np.flatnonzero(~np.isfinite(values) | (np.abs(values) > limit))
        if len(bad):
            i = int(bad[0])
            hint = " (are longitude and latitude swapped?)" if field == LAT else ""
            raise InputError(
                f"row {i} has {field} {float(values[i])!r}, outside ±{limit:g}° ({len(bad)} such rows); expected "
                f"decimal degrees in WGS 84{hint}",
                file=name,
                index=i,
                field=field,
            )


def read_geojson(source: str | Path, *, data: bytes | None = None, timezone: str | None = None) -> pd.DataFrame:
    """Fixes of a GeoJSON FeatureCollection in EPSG:4326.

    Point features carry their time in ``properties.time`` (or ``timestamp``,
    ``recorded_at``, ``datetime``). LineString features carry one time per vertex in
    ``properties.coordTimes`` or ``properties.coordinateProperties.times`` (as
    togeojson and GPS apps write them). ``device`` and ``worker_id`` properties are kept.

    Raises
    ------
    FormatError
        When the text is not GeoJSON or holds no features.
    InputError
        For a feature without times or with another geometry; names the feature and field.
    """
    name = str(source)
    raw = _bytes(name, data)
    try:
        doc = json.loads(raw.decode("utf-8-sig"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"cannot be read as GeoJSON: {exc}", file=name) from None
    except RecursionError:
        raise FormatError("cannot be read as GeoJSON: it nests too deep to be tracks", file=name) from None
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not doc.get("features"):
        raise FormatError("is not a GeoJSON FeatureCollection with features", file=name)
    if not isinstance(doc["features"], list):
        raise FormatError(f"has features {_shown(doc['features'])}; expected a list of Feature objects", file=name)
    _check_crs(doc, name)
    workers: list[Any] = []
    devices: list[Any] = []
    times: list[Any] = []
    coords: list[Any] = []
    for i, feature in enumerate(doc["features"]):
        if not isinstance(feature, dict):
            raise InputError(f"feature {i} is {_shown(feature)}; expected a Feature object", file=name, index=i,
                             field="features")  # fmt: skip
        fid = feature.get("id")
        fid = fid if isinstance(fid, str | int) else None
        props = _member(feature, "properties", i, fid, name)
        geometry = _member(feature, "geometry", i, fid, name)
        kind = geometry.get("type")
        if kind == "Point":
            key = next((k for k in _GEOJSON_TIMES if props.get(k) is not None), None)
            if key is None:
                raise InputError(
                    f"feature {i} is a Point without a time; add properties.time (ISO 8601)",
                    file=name,
                    index=i,
                    feature_id=fid,
                    field="time",
                )
            vertex_times, vertices = [props[key]], [geometry.get("coordinates")]
        elif kind == "LineString":
            vertices = geometry.get("coordinates") or []
            if not isinstance(vertices, list):
                raise InputError(f"feature {i} has coordinates {_shown(vertices)}; expected a list of [lon, lat]",
                                 file=name, index=i, feature_id=fid, field="coordinates")  # fmt: skip
            vertex_times = _vertex_times(props, i, fid, name, len(vertices))
        else:
            raise InputError(
                f"feature {i} is a {_shown(kind)}; expected Point fixes or LineString tracks with per-vertex times",
                file=name,
                index=i,
                feature_id=fid,
                field="geometry",
            )
        for when, xy in zip(vertex_times, vertices, strict=True):
            if not isinstance(xy, (list, tuple)) or len(xy) < 2 or not all(_is_number(v) for v in xy[:2]):
                raise InputError(
                    f"feature {i} has coordinates {_shown(xy)}; expected [lon, lat] as two numbers",
                    file=name,
                    index=i,
                    feature_id=fid,
                    field="coordinates",
                )
            times.append(when)
            coords.append(xy[:2])
            workers.append(props.get("worker_id", props.get("worker")))
            devices.append(props.get("device"))
    xy = np.asarray(coords, dtype=float)
    stamps = _times(pd.Series(times, dtype=object), name, "time", timezone)
    return _frame(name, workers, devices, stamps, xy[:, 0], xy[:, 1])


def _no_constant(value: str) -> Any:
    raise ValueError(f"{value} is not JSON; coordinates and times must be numbers and text")


def _shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _member(feature: dict, key: str, i: int, fid: Any, name: str) -> dict:
    value = feature.get(key) or {}
    if not isinstance(value, dict):
        raise InputError(f"feature {i} has {key} {_shown(value)}; expected an object", file=name, index=i,
                         feature_id=fid, field=key)  # fmt: skip
    return value


def _vertex_times(props: dict, i: int, fid: Any, name: str, n: int) -> list[Any]:
    found = props.get("coordTimes")
    if found is None:
        found = (props.get("coordinateProperties") or {}).get("times")
    if found is None:
        raise InputError(
            f"feature {i} is a LineString without per-vertex times ({', '.join(sorted(props)) or 'no properties'}); "
            "a track needs properties.coordTimes with one time per vertex. Export fixes as points or CSV instead",
            file=name,
            index=i,
            feature_id=fid,
            field="coordTimes",
        )
    if not isinstance(found, list):
        raise InputError(f"feature {i} has coordTimes {_shown(found)}; expected a list of times", file=name,
                         index=i, feature_id=fid, field="coordTimes")  # fmt: skip
    if len(found) != n:
        raise InputError(
            f"feature {i} has {len(found)} times for {n} vertices; expected one time per vertex",
            file=name,
            index=i,
            feature_id=fid,
            field="coordTimes",
        )
    return list(found)


def _check_crs(doc: dict, name: str) -> None:
    crs = doc.get("crs") if isinstance(doc.get("crs"), dict) else {}
    crs = crs.get("properties") if isinstance(crs.get("properties"), dict) else {}
    crs = crs.get("name")
    if crs is not None and not isinstance(crs, str):
        raise InputError(f"declares CRS {_shown(crs)}; expected a name such as EPSG:4326", file=name, field="crs")
    if crs and not any(tag in crs.upper() for tag in ("4326", "CRS84")):
        raise InputError(
            f"declares CRS {crs!r}; GPS tracks must be in EPSG:4326 (longitude, latitude). Reproject the file",
            file=name,
            field="crs",
        )


def read_json(body: Any, *, source: str = "request body", timezone: str | None = None) -> pd.DataFrame:
    """Fixes sent as JSON: a GeoJSON FeatureCollection, or ``{"worker_id", "device", "points": [...]}``.

    Each point is ``{"time": ISO 8601, "lat": ..., "lon": ...}`` and may carry its own
    ``worker_id`` and ``device``, overriding the body's.

    Raises
    ------
    InputError
        For a missing or bad field; names the point and field.
    """
    if isinstance(body, dict) and body.get("type") in ("FeatureCollection", "Feature"):
        return read_geojson(source, data=json.dumps(body).encode(), timezone=timezone)
    if not isinstance(body, dict) or not isinstance(body.get("points"), list) or not body["points"]:
        raise InputError(
            'expected {"worker_id": ID, "device": "...", "points": [{"time": ..., "lat": ..., "lon": ...}]} '
            "or a GeoJSON FeatureCollection",
            file=source,
            field="points",
        )
    rows = []
    for i, point in enumerate(body["points"]):
        if not isinstance(point, dict):
            raise InputError(f"point {i} is {point!r}; expected an object", file=source, index=i, field="points")
        for key in ("time", "lat", "lon"):
            if point.get(key) is None:
                raise InputError(f"point {i} has no {key}", file=source, index=i, field=key)
        rows.append(
            (
                point.get("worker_id", body.get("worker_id")),
                point.get("device", body.get("device")),
                point["time"],
                point["lon"],
                point["lat"],
            )
        )
    workers, devices, times, lons, lats = zip(*rows, strict=True)
    lon = _numbers(pd.Series(lons, dtype=object), source, "lon")
    lat = _numbers(pd.Series(lats, dtype=object), source, "lat")
    stamps = _times(pd.Series(times, dtype=object), source, "time", timezone)
    return _frame(source, list(workers), list(devices), stamps, lon, lat)
