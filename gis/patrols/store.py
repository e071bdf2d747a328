"""Patrol tracks in the store: bulk import through COPY, analysis of stored days, retention.

PERSONAL DATA. ``patrol_point`` and ``patrol_track`` hold where grid workers were;
:func:`purge` deletes them after the retention period, while the compliance results
and visits (times, no positions) stay.

An import is one transaction: fixes are read (:mod:`gis.patrols.readers`), matched to
workers (:func:`resolve_workers`), cleaned (:func:`gis.patrols.cleaning.clean`),
copied in with binary ``COPY`` (:func:`copy_fixes`) and the days they touch analysed
again (:func:`analyse_days`), so tracks, visits and compliance always match the fixes.

Examples
--------
>>> fixes = read_tracks("k61.csv", timezone="Asia/Taipei")  # doctest: +SKIP
>>> with begin(engine) as conn:  # doctest: +SKIP
...     result = import_fixes(conn, fixes, file="k61.csv")
>>> result.report.summary()  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Connection

from gis import clock
from gis.columns import HARD_BARRIER_CLASSES
from gis.errors import InputError, NotFoundError
from gis.patrols.analysis import Analysis, analyse, local_days
from gis.patrols.cleaning import CleaningReport, clean, epoch_us
from gis.patrols.columns import DAY, DEVICE, DISTRICT_ID, LAT, LON, TIME, WORKER, WORKER_ID
from gis.patrols.readers import check_timezone
from gis.patrols.rule import PatrolRule
from gis.store import lookup
from gis.store.audit import record
from gis.store.engine import atomic
from gis.store.models import (
    District,
    GridWorker,
    PatrolCompliance,
    PatrolDevice,
    PatrolPoint,
    PatrolTrack,
    PatrolVisit,
)
from gis.store.models import (
    PatrolRule as PatrolRuleRow,
)

__all__ = [
    "RETENTION_DAYS",
    "DistrictRule",
    "ImportResult",
    "PurgeResult",
    "add_device",
    "analyse_days",
    "copy_fixes",
    "foreign_claim",
    "import_fixes",
    "list_devices",
    "purge",
    "read_fixes",
    "read_rule",
    "remove_device",
    "resolve_workers",
    "set_rule",
]

RETENTION_DAYS = 180
_PG_EPOCH_US = 946_684_800 * 1_000_000  # PostgreSQL counts timestamps from 2000-01-01
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_EWKB_POINT = 0x20000001  # point type with the SRID flag
_CHUNK = 8 << 20


@dataclass(frozen=True)
class DistrictRule:
    """A district's patrol rule with the time zone its days are counted in."""

    district_id: int
    district: str
    timezone: str
    working_crs: str
    rule: PatrolRule


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_fixes` did."""

    file: str | None
    report: CleaningReport
    stored: int
    workers: list[int]
    days: list[str]
    analysed: int  # compliance rows written
    compliant: int
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data; the cleaning report is ``cleaning``."""
        out = asdict(self)
        out["cleaning"] = out.pop("report")
        return out


@dataclass(frozen=True)
class PurgeResult:
    """What :func:`purge` deleted: fixes and track lines recorded before ``cutoff``."""

    cutoff: datetime
    points: int
    tracks: int


# -- districts and rules ----------------------------------------------------------------------


def set_rule(conn: Connection, district_id: int, *, timezone: str | None = None, **params: Any) -> DistrictRule:
    """Set a district's patrol time zone and rule; settings left out keep their stored value.

    Parameters
    ----------
    district_id
        The district.
    timezone
        IANA zone the district's days are counted in; needed the first time.
    **params
        Fields of :class:`~gis.patrols.rule.PatrolRule`; ``None`` values are ignored.

    Raises
    ------
    InputError
        For an unknown zone or setting, or a first rule without a zone.
    """
    row = conn.execute(select(PatrolRuleRow).where(PatrolRuleRow.district_id == district_id)).first()
    base = PatrolRule.from_dict(row.params) if row is not None else PatrolRule()
    rule = PatrolRule.from_dict(params, base=base)
    zone = timezone or (row.timezone if row is not None else None)
    if zone is None:
        raise InputError(
            "the district has no patrol time zone yet; name the one its days are counted in, e.g. Asia/Shanghai",
            field="timezone",
            option="timezone",
        )
    check_timezone(zone)
    values = {"timezone": zone, "params": rule.to_dict(), "updated_at": clock.now()}
    if row is None:
        conn.execute(insert(PatrolRuleRow).values(district_id=district_id, **values))
    else:
        conn.execute(update(PatrolRuleRow).where(PatrolRuleRow.district_id == district_id).values(**values))
    return read_rule(conn, district_id)


def read_rule(conn: Connection, district_id: int) -> DistrictRule:
    """A district's stored patrol rule and time zone.

    Raises
    ------
    InputError
        When the district has none yet (the message says how to set it).
    """
    row = conn.execute(
        select(District.name, District.working_crs, PatrolRuleRow.timezone, PatrolRuleRow.params)
        .select_from(District)
        .outerjoin(PatrolRuleRow, PatrolRuleRow.district_id == District.id)
        .where(District.id == district_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no district with id {district_id}")
    if row.timezone is None:
        raise InputError(
            f"district {row.name!r} has no patrol rule yet, so its days cannot be counted; set its time zone "
            "(e.g. Asia/Shanghai)",
            field="timezone",
            see="patrol_rule",
        )
    return DistrictRule(district_id, row.name, row.timezone, row.working_crs, PatrolRule.from_dict(row.params))


# -- devices ----------------------------------------------------------------------------------


def add_device(conn: Connection, device: str, worker_id: int) -> None:
    """Register (or move) a GPS device to a worker, so files naming only the device can be imported.

    Raises
    ------
    NotFoundError
        For an unknown worker.
    InputError
        For an empty device name.
    """
    device = device.strip()
    if not device:
        raise InputError("the device name is empty", field="device")
    if conn.execute(select(GridWorker.id).where(GridWorker.id == worker_id)).first() is None:
        raise NotFoundError(f"no grid worker with id {worker_id}", see="list_workers")
    conn.execute(delete(PatrolDevice).where(PatrolDevice.device == device))
    conn.execute(insert(PatrolDevice).values(device=device, worker_id=worker_id))


def remove_device(conn: Connection, device: str) -> None:
    """Forget a device; fixes already imported stay with their worker.

    Raises
    ------
    NotFoundError
        For a device that is not registered.
    """
    if conn.execute(delete(PatrolDevice).where(PatrolDevice.device == device)).rowcount == 0:
        raise NotFoundError(f"no device {device!r} is registered")


def list_devices(conn: Connection, *, worker_id: int | None = None) -> list[tuple[str, int]]:
    """Registered devices as ``(device, worker_id)``, by device."""
    query = select(PatrolDevice.device, PatrolDevice.worker_id).order_by(PatrolDevice.device)
    if worker_id is not None:
        query = query.where(PatrolDevice.worker_id == worker_id)
    return [(r.device, r.worker_id) for r in conn.execute(query)]


# -- import -----------------------------------------------------------------------------------


def foreign_claim(conn: Connection, fixes: pd.DataFrame, worker_id: int) -> str | None:
    """What in ``fixes`` names a worker other than ``worker_id``, or ``None`` when nothing does.

    A fix names another worker by its ``worker`` value, or by a ``device`` registered to
    someone else (:func:`add_device`); unregistered devices and fixes naming neither are
    the uploader's. Used when a grid worker uploads their own tracks.
    """
    if WORKER in fixes.columns:
        named = fixes[WORKER].notna().to_numpy()
        numbers = pd.to_numeric(fixes[WORKER].astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
        other = named & (numbers != worker_id)  # NaN (not a number) is never equal: someone else
        if other.any():
            i = int(np.flatnonzero(other)[0])
            return f"row {i} names worker {fixes[WORKER].iloc[i]!r}, not {worker_id}"
    if DEVICE in fixes.columns:
        devices = fixes[DEVICE].to_numpy(dtype=object)
        present = ~pd.isna(devices)
        if present.any():
            wanted = sorted({str(d) for d in devices[present]})
            owners = dict(
                conn.execute(
                    select(PatrolDevice.device, PatrolDevice.worker_id).where(PatrolDevice.device.in_(wanted))
                ).all()
            )
            foreign = sorted(d for d, w in owners.items() if int(w) != worker_id)
            if foreign:
                i = int(np.flatnonzero(present & np.isin(devices.astype(str), foreign))[0])
                return f"row {i} comes from device {foreign[0]!r}, registered to worker {owners[foreign[0]]}"
    return None


def resolve_workers(
    conn: Connection, fixes: pd.DataFrame, *, file: str | None = None, worker: int | None = None
) -> pd.DataFrame:
    """Add each fix's ``worker_id`` and ``district_id``.

    The worker is ``worker`` when given (a file of one worker), else the file's
    ``worker`` value (a grid worker id), else the worker the fix's ``device`` is
    registered to (:func:`add_device`).

    Raises
    ------
    InputError
        For a fix without worker or device, an unknown worker id or an unregistered
        device; names the first row, the value and the fix.
    """
    n = len(fixes)
    ids = np.full(n, -1, dtype=np.int64)
    if worker is not None:
        ids[:] = int(worker)
    else:
        named = fixes[WORKER].notna().to_numpy() if WORKER in fixes.columns else np.zeros(n, dtype=bool)
        if named.any():
            values = fixes.loc[named, WORKER].astype(str)
            numeric = pd.to_numeric(values, errors="coerce")
            bad = numeric.isna() | (numeric != numeric.round())
            if bad.any():
                i = int(np.flatnonzero(named)[np.flatnonzero(bad.to_numpy())[0]])
                raise InputError(
                    f"row {i} names worker {fixes[WORKER].iloc[i]!r}; expected a grid worker id (a whole number)",
                    file=file,
                    see="list_workers",
                    index=i,
                    field=WORKER_ID,
                )
            ids[named] = numeric.to_numpy(dtype=np.int64)
        rest = ~named
        if rest.any():
            devices = fixes[DEVICE].to_numpy(dtype=object) if DEVICE in fixes.columns else np.full(n, None)
            missing = rest & pd.isna(devices)
            if missing.any():
                i = int(np.flatnonzero(missing)[0])
                raise InputError(
                    f"row {i} names neither a worker nor a device ({int(missing.sum())} such rows); add a worker_id "
                    "or device column, or import the file for one worker",
                    file=file,
                    option="worker",
                    index=i,
                    field=DEVICE,
                )
            ids[rest] = _map_stored(
                conn,
                (PatrolDevice.device, PatrolDevice.worker_id),
                pd.Series(devices[rest]).astype(str).to_numpy(),
                np.flatnonzero(rest),
                "device(s) {unknown}{more} belong to no worker (first at row {first}); register each with its worker",
                file=file,
                see="register_device",
                field=DEVICE,
            )
    district = _map_stored(
        conn,
        (GridWorker.id, GridWorker.district_id),
        ids,
        np.arange(n),
        "worker id(s) {unknown} are not stored (first at row {first}); check the ids",
        file=file,
        see="list_workers",
        field=WORKER_ID,
    )
    return fixes.assign(**{WORKER_ID: ids, DISTRICT_ID: district})


def _map_stored(
    conn: Connection,
    pairs: tuple[Any, Any],
    values: np.ndarray,
    rows: np.ndarray,
    unknown_says: str,
    *,
    file: str | None,
    see: str,
    field: str,
) -> np.ndarray:
    """``values`` mapped through the stored ``(key, value)`` column pairs, as int64.

    ``rows`` are the values' positions in the file. A value no stored key has is refused:
    ``unknown_says`` words it, given ``{unknown}`` (the first five), ``{more}`` and ``{first}``
    (the row of the first).
    """
    key, value = pairs
    wanted = sorted(pd.unique(values).tolist())
    known = dict(conn.execute(select(key, value).where(key.in_(wanted))).all())
    unknown = [v for v in wanted if v not in known]
    if unknown:
        first = int(rows[np.flatnonzero(np.isin(values, unknown))[0]])
        more = " and more" if len(unknown) > 5 else ""
        raise InputError(
            unknown_says.format(unknown=unknown[:5], more=more, first=first),
            file=file,
            see=see,
            index=first,
            feature_id=unknown[0],
            field=field,
        )
    return pd.Series(values).map(known).to_numpy(dtype=np.int64)


def _areas(conn: Connection, rules: dict[int, DistrictRule]) -> dict[int, shapely.Geometry]:
    """Each district grown by its rule's ``outside_m`` (in metres, on the sphere), in EPSG:4326."""
    out = {}
    for did, rule in rules.items():
        wkb = conn.execute(
            text("SELECT ST_AsBinary(ST_Buffer(boundary::geography, :m)::geometry) FROM district WHERE id = :d"),
            {"m": rule.rule.outside_m, "d": did},
        ).scalar()
        out[did] = shapely.from_wkb(bytes(wkb))
    return out


def import_fixes(
    conn: Connection,
    fixes: pd.DataFrame,
    *,
    file: str | None = None,
    worker: int | None = None,
    analyse_days_after: bool = True,
) -> ImportResult:
    """Match, clean and store fixes, then analyse the days they touch; all or nothing.

    Parameters
    ----------
    conn
        An open connection; the import runs in a savepoint of its transaction (or a
        transaction of its own), so a failure stores nothing.
    fixes
        From :func:`gis.patrols.readers.read_tracks`.
    file
        The input's name, for messages and the report.
    worker
        The worker every fix belongs to (a file of one worker).
    analyse_days_after
        Recompute tracks, visits and compliance of the touched worker-days.

    Returns
    -------
    ImportResult

    Raises
    ------
    InputError
        For unknown workers or devices, or a district without a patrol rule.
    """
    resolved = resolve_workers(conn, fixes, file=file, worker=worker)
    rules = {int(d): read_rule(conn, int(d)) for d in pd.unique(resolved[DISTRICT_ID])}
    areas = _areas(conn, rules)
    parts, reports = [], []
    for did, rule in rules.items():
        mine = resolved[resolved[DISTRICT_ID] == did]
        kept, report = clean(
            mine,
            max_speed_kmh=rule.rule.max_speed_kmh,
            gap_minutes=rule.rule.gap_minutes,
            areas=areas,
            file=file,
        )
        parts.append(kept)
        reports.append(report)
    kept = pd.concat(parts, ignore_index=True) if parts else resolved.iloc[:0]
    report = _merge_reports(reports, file)
    warnings = []
    if report.outside:
        warnings.append(
            f"{report.outside} fixes lie far outside the district (rows {report.examples['outside']}); check the "
            "device's clock and position settings"
        )
    analysed = compliant = 0
    touched: dict[int, set[date]] = {}
    with atomic(conn):
        stored = copy_fixes(conn, kept)
        for did, rule in rules.items():
            mine = kept[kept[DISTRICT_ID] == did]
            if mine.empty:
                continue
            days = sorted({d.item() for d in np.unique(local_days(mine[TIME], rule.timezone))})
            touched[did] = set(days)
            if analyse_days_after:
                frame = analyse_days(
                    conn, district_id=did, days=days, worker_ids=sorted(int(w) for w in pd.unique(mine[WORKER_ID]))
                )
                analysed += len(frame)
                compliant += int(frame["compliant"].sum()) if len(frame) else 0
    return ImportResult(
        file=file,
        report=report,
        stored=stored,
        workers=sorted(int(w) for w in pd.unique(kept[WORKER_ID])),
        days=sorted({d.isoformat() for days in touched.values() for d in days}),
        analysed=analysed,
        compliant=compliant,
        warnings=warnings,
    )


def _merge_reports(reports: list[CleaningReport], file: str | None) -> CleaningReport:
    if len(reports) == 1:
        return reports[0]
    counts = {
        k: sum(getattr(r, k) for r in reports)
        for k in ("read", "out_of_order", "duplicates", "too_fast", "outside", "kept", "workers")
    }
    firsts = [r.first for r in reports if r.first]
    lasts = [r.last for r in reports if r.last]
    kinds = ("out_of_order", "duplicates", "too_fast", "outside")
    return CleaningReport(
        file=file,
        **counts,
        first=min(firsts) if firsts else None,
        last=max(lasts) if lasts else None,
        max_speed_kmh=reports[0].max_speed_kmh if reports else 50.0,
        examples={k: sorted(i for r in reports for i in r.examples.get(k, []))[:10] for k in kinds},
    )


def copy_fixes(conn: Connection, fixes: pd.DataFrame) -> int:
    """Append fixes to ``patrol_point`` with one binary ``COPY``.

    The COPY stream is built with numpy, a fixed-size record per device (a device name
    is the only variable-length field), so Python never loops over fixes.

    Parameters
    ----------
    conn
        An open connection (its transaction is used).
    fixes
        ``worker_id``, ``device``, ``recorded_at``, ``lon``, ``lat``.

    Returns
    -------
    int
        Fixes written.
    """
    if fixes.empty:
        return 0
    raw = conn.connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy("COPY patrol_point (worker_id, device, recorded_at, geom) FROM STDIN (FORMAT binary)") as copy,
    ):
        for chunk in _copy_chunks(fixes):
            copy.write(chunk)
    return len(fixes)


def _copy_chunks(fixes: pd.DataFrame) -> Iterator[bytes]:
    worker = fixes[WORKER_ID].to_numpy(dtype=np.int64)
    stamp = epoch_us(fixes[TIME]) - _PG_EPOCH_US
    lon, lat = fixes[LON].to_numpy(dtype=float), fixes[LAT].to_numpy(dtype=float)
    devices = fixes[DEVICE] if DEVICE in fixes.columns else pd.Series([None] * len(fixes))
    codes, names = pd.factorize(devices.astype(object), use_na_sentinel=True)
    order = np.argsort(codes, kind="stable")  # each device's fixes together, in their order
    bounds = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0, True])
    yield _COPY_HEADER
    buffered: list[bytes] = []
    size = 0
    for start, end in itertools.pairwise(bounds):
        rows = order[start:end]
        code = codes[rows[0]]
        name = None if code < 0 else str(names[code]).encode("utf-8")
        record = _record(rows.size, name)
        record["worker"] = worker[rows]
        record["t"] = stamp[rows]
        record["x"] = lon[rows]
        record["y"] = lat[rows]
        buffered.append(record.tobytes())
        size += record.nbytes
        if size >= _CHUNK:
            yield b"".join(buffered)
            buffered, size = [], 0
    buffered.append(_COPY_TRAILER)
    yield b"".join(buffered)


def _record(n: int, device: bytes | None) -> np.ndarray:
    """``n`` COPY tuples (worker, device, time, EWKB point) with the constant parts filled in."""
    fields = [("nfields", ">i2"), ("l_worker", ">i4"), ("worker", ">i4"), ("l_device", ">i4")]
    if device is not None:
        fields.append(("device", f"S{len(device)}"))
    fields += [
        ("l_t", ">i4"),
        ("t", ">i8"),
        ("l_geom", ">i4"),
        ("order", "u1"),
        ("type", "<u4"),
        ("srid", "<u4"),
        ("x", "<f8"),
        ("y", "<f8"),
    ]
    out = np.empty(n, dtype=np.dtype(fields))
    out["nfields"], out["l_worker"], out["l_t"], out["l_geom"] = 4, 4, 8, 25
    out["l_device"] = -1 if device is None else len(device)
    if device is not None:
        out["device"] = device
    out["order"], out["type"], out["srid"] = 1, _EWKB_POINT, 4326
    return out


# -- analysis of stored days ------------------------------------------------------------------


def _plan_in_force(conn: Connection, district_id: int, moment: datetime) -> int | None:
    """The plan in force at ``moment``: the one published then, else the one published now."""
    try:
        return lookup.plan_at(conn, moment, district_id).id
    except NotFoundError:
        pass
    try:
        return lookup.plan(conn, None, district_id).id
    except NotFoundError:
        return None


def _judged(
    conn: Connection,
    district_id: int,
    plan_id: int | None,
    start: datetime,
    end: datetime,
    worker_ids: list[int] | None,
) -> gpd.GeoDataFrame:
    """Workers to judge with their grid in the plan: the given ones, else the active ones and those with fixes."""
    if worker_ids is not None:
        who = "gw.id = ANY(:ids)"
    else:
        who = (
            "(gw.active OR EXISTS (SELECT 1 FROM patrol_point p WHERE p.worker_id = gw.id "
            "AND p.recorded_at >= :start AND p.recorded_at < :end))"
        )
    rows = conn.execute(
        text(
            f"""
            SELECT gw.id AS worker_id, gw.grid_code, ST_AsBinary(g.geom) AS wkb
            FROM grid_worker gw
            LEFT JOIN grid g ON g.plan_id = :plan AND g.code = gw.grid_code
            WHERE gw.district_id = :d AND {who}
            ORDER BY gw.id
            """
        ),
        {"d": district_id, "plan": plan_id, "ids": worker_ids or [], "start": start, "end": end},
    ).all()
    geoms = [shapely.from_wkb(bytes(r.wkb)) if r.wkb is not None else None for r in rows]
    return gpd.GeoDataFrame(
        {WORKER_ID: [r.worker_id for r in rows], "grid_code": [r.grid_code for r in rows]},
        geometry=gpd.GeoSeries(geoms, crs=4326),
    )


def _streets(conn: Connection, district_id: int) -> gpd.GeoSeries:
    """The district's walkable streets: stored barriers other than hard ones (rivers, railways, motorways)."""
    rows = conn.execute(
        text("SELECT barrier_class, ST_AsBinary(geom) AS wkb FROM barrier WHERE district_id = :d AND NOT hard"),
        {"d": district_id},
    ).all()
    lines = [shapely.from_wkb(bytes(r.wkb)) for r in rows if str(r.barrier_class).lower() not in HARD_BARRIER_CLASSES]
    lines = [g for g in lines if g.geom_type in ("LineString", "MultiLineString")]
    return gpd.GeoSeries(lines, crs=4326)


def read_fixes(conn: Connection, worker_ids: list[int], start: datetime, end: datetime) -> pd.DataFrame:
    """Stored fixes of workers in ``[start, end)`` with binary ``COPY`` (fixed-size records, parsed by numpy).

    Returns
    -------
    pandas.DataFrame
        ``worker_id``, ``recorded_at`` (UTC), ``lon``, ``lat``, unsorted.
    """
    dtype = np.dtype(
        [
            ("nfields", ">i2"),
            ("l_worker", ">i4"),
            ("worker", ">i4"),
            ("l_t", ">i4"),
            ("t", ">i8"),
            ("l_x", ">i4"),
            ("x", ">f8"),
            ("l_y", ">i4"),
            ("y", ">f8"),
        ]
    )
    raw = conn.connection.driver_connection
    buffer = bytearray()
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY (SELECT worker_id, recorded_at, ST_X(geom), ST_Y(geom) FROM patrol_point "
            "WHERE worker_id = ANY(%s) AND recorded_at >= %s AND recorded_at < %s) TO STDOUT (FORMAT binary)",
            (worker_ids, start, end),
        ) as copy,
    ):
        for chunk in copy:
            buffer += chunk
    header = len(_COPY_HEADER)
    body = memoryview(buffer)[header : len(buffer) - len(_COPY_TRAILER)] if len(buffer) > header else b""
    records = np.frombuffer(body, dtype=dtype)
    return pd.DataFrame(
        {
            WORKER_ID: records["worker"].astype(np.int64),
            TIME: pd.to_datetime(records["t"].astype(np.int64) + _PG_EPOCH_US, unit="us", utc=True),
            LON: records["x"].astype(float),
            LAT: records["y"].astype(float),
        }
    )


def analyse_days(
    conn: Connection,
    *,
    district_id: int,
    days: Iterable[date],
    worker_ids: list[int] | None = None,
    rule: PatrolRule | None = None,
) -> pd.DataFrame:
    """Recompute and store tracks, visits and compliance of a district's workers on ``days``.

    Parameters
    ----------
    district_id
        The district.
    days
        Local dates in the district's patrol time zone.
    worker_ids
        Only these workers; by default every active worker of the district and every
        worker with fixes on the day.
    rule
        Instead of the district's stored rule (its time zone is used all the same).

    Returns
    -------
    pandas.DataFrame
        The compliance rows written (:data:`gis.patrols.analysis.COMPLIANCE_COLUMNS`).

    Raises
    ------
    InputError
        When the district has no patrol rule.
    """
    stored = read_rule(conn, district_id)
    rule = rule or stored.rule
    streets = _streets(conn, district_id)
    written = []
    with atomic(conn):
        for day in sorted(set(days)):
            start = pd.Timestamp(day).tz_localize(stored.timezone).to_pydatetime()
            end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(stored.timezone).to_pydatetime()
            plan = _plan_in_force(conn, district_id, start + (end - start) / 2)
            judged = _judged(conn, district_id, plan, start, end, worker_ids)
            ids = [int(w) for w in judged[WORKER_ID]]
            if not ids:
                continue
            fixes = read_fixes(conn, ids, start, end)
            result = analyse(
                fixes, judged, timezone=stored.timezone, crs=stored.working_crs, rule=rule, streets=streets, days=[day]
            )
            _write_analysis(conn, district_id, day, ids, result, rule)
            written.append(result.compliance)
    return pd.concat(written, ignore_index=True) if written else pd.DataFrame(columns=["compliant"])


def _write_analysis(
    conn: Connection, district_id: int, day: date, ids: list[int], result: Analysis, rule: PatrolRule
) -> None:
    for model in (PatrolTrack, PatrolVisit, PatrolCompliance):
        conn.execute(delete(model).where(model.worker_id.in_(ids), model.day == day))
    tracks = result.tracks
    if len(tracks):
        geoms = shapely.to_wkb(shapely.set_srid(tracks.geometry.to_numpy(), 4326), hex=True, include_srid=True)
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(
                "COPY patrol_track (worker_id, day, started_at, ended_at, points, length_m, geom) FROM STDIN"
            ) as copy,
        ):
            for row in zip(
                tracks[WORKER_ID].astype(int),
                tracks[DAY],
                tracks["started_at"].dt.to_pydatetime(),
                tracks["ended_at"].dt.to_pydatetime(),
                tracks["points"].astype(int),
                tracks["length_m"].astype(float),
                geoms,
                strict=True,
            ):
                copy.write_row(row)
    stays = result.visits[result.visits["grid_code"].notna()]
    if len(stays):
        conn.execute(
            insert(PatrolVisit),
            [
                {
                    "worker_id": int(r.worker_id),
                    "day": r.day,
                    "grid_code": r.grid_code,
                    "entered_at": r.entered_at.to_pydatetime(),
                    "left_at": r.left_at.to_pydatetime(),
                    "minutes": float(r.minutes),
                }
                for r in stays.itertuples(index=False)
            ],
        )
    rows = result.compliance
    if len(rows):
        conn.execute(
            insert(PatrolCompliance),
            [
                {
                    "worker_id": int(r.worker_id),
                    "day": r.day,
                    "district_id": district_id,
                    "grid_code": r.grid_code,
                    "patrols": int(r.patrols),
                    "visits": int(r.visits),
                    "long_visits": int(r.long_visits),
                    "visit_minutes": float(r.visit_minutes),
                    "stops": int(r.stops),
                    "distance_m": float(r.distance_m),
                    "coverage": None if pd.isna(r.coverage) else float(r.coverage),
                    "coverage_basis": r.coverage_basis,
                    "longest_unvisited_minutes": None
                    if pd.isna(r.longest_unvisited_minutes)
                    else float(r.longest_unvisited_minutes),
                    "compliant": bool(r.compliant),
                    "rule": rule.to_dict(),
                }
                for r in rows.itertuples(index=False)
            ],
        )


# -- retention --------------------------------------------------------------------------------


def purge(
    conn: Connection,
    *,
    older_than_days: float = RETENTION_DAYS,
    now: datetime | None = None,
    actor: str = "service",
) -> PurgeResult:
    """Delete fixes and track lines older than the retention period; visits and compliance stay.

    Parameters
    ----------
    older_than_days
        Age beyond which tracks are deleted.
    now
        The moment ages are counted from (tests pass one).
    actor
        Who purges, for the audit entry a purge that deleted anything leaves (``patrol.purge``).

    Returns
    -------
    PurgeResult

    Raises
    ------
    InputError
        For an age below one day.
    """
    if not older_than_days >= 1:
        raise InputError(
            f"older_than_days={older_than_days!r}: tracks must be kept at least a day; expected e.g. 180",
            field="older_than_days",
        )
    cutoff = (now or clock.now()) - timedelta(days=older_than_days)
    with atomic(conn):
        points = conn.execute(delete(PatrolPoint).where(PatrolPoint.recorded_at < cutoff)).rowcount
        tracks = conn.execute(delete(PatrolTrack).where(PatrolTrack.ended_at < cutoff)).rowcount
        if points or tracks:  # personal data deleted: said in the same transaction
            record(
                conn,
                actor=actor,
                action="patrol.purge",
                target="patrol_point",
                detail={"cutoff": cutoff.isoformat(), "fixes": points, "tracks": tracks, "days": older_than_days},
            )
    return PurgeResult(cutoff=cutoff, points=points, tracks=tracks)
