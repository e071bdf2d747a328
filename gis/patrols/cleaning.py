"""Cleaning GPS fixes before they are stored, with a report of what was done.

Phones log dirty tracks: the same fix twice, fixes out of order, jumps of kilometres
when the receiver loses the sky, and the odd fix on the other side of the country.
:func:`clean` sorts, removes duplicates and impossible jumps, and flags fixes far
outside the worker's district; :class:`CleaningReport` counts each and names the
first rows of each kind, so an import report can say what happened to the file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.patrols.columns import DEVICE, DISTRICT_ID, LAT, LON, OUTSIDE, ROW, TIME, WORKER, WORKER_ID

__all__ = ["EARTH_RADIUS_M", "CleaningReport", "clean", "epoch_us", "haversine_m"]

EARTH_RADIUS_M = 6_371_008.8
_EXAMPLES = 10  # rows named per kind in a report
_RUN = 3  # consecutive rejected fixes consistent with each other: the device moved, the anchor was wrong


@dataclass(frozen=True)
class CleaningReport:
    """What :func:`clean` did to one input.

    Attributes
    ----------
    file
        The input's name.
    read
        Fixes read.
    out_of_order
        Fixes recorded earlier than the fix before them (of the same worker) in the file; sorted.
    duplicates
        Fixes repeating a worker's time; the first one is kept.
    too_fast
        Fixes implying a move faster than ``max_speed_kmh`` from the previous kept fix; dropped.
    outside
        Fixes farther outside the worker's district than allowed: flagged (``outside``) and
        kept, unless the speed rule drops them too (counted in both).
    kept
        Fixes left.
    workers
        Distinct workers in the input.
    first, last
        Times of the first and last kept fix (ISO 8601, UTC).
    examples
        Per kind (``out_of_order``, ``duplicates``, ``too_fast``, ``outside``), the first rows
        (0-based positions in the file).
    """

    file: str | None
    read: int
    out_of_order: int
    duplicates: int
    too_fast: int
    outside: int
    kept: int
    workers: int
    first: str | None = None
    last: str | None = None
    max_speed_kmh: float = 50.0
    examples: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The report as JSON-ready data."""
        return asdict(self)

    def summary(self) -> str:
        """One line for people, e.g. for the command line."""
        return (
            f"{self.read} fixes read, {self.kept} kept: {self.duplicates} duplicates and {self.too_fast} "
            f"impossible jumps (> {self.max_speed_kmh:g} km/h) dropped, {self.out_of_order} out-of-order fixes "
            f"sorted, {self.outside} fixes far outside the district flagged"
        )


def epoch_us(times: pd.Series) -> np.ndarray:
    """Time-zone-aware times as microseconds since 1970 (int64), whatever unit pandas keeps them in."""
    return pd.DatetimeIndex(times).as_unit("us").asi8


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distances in metres between arrays of points in degrees.

    Examples
    --------
    >>> round(float(haversine_m(np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([1.0]))[0]))
    111195
    """
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def clean(
    fixes: pd.DataFrame,
    *,
    max_speed_kmh: float = 50.0,
    gap_minutes: float = 10.0,
    areas: Mapping[int, BaseGeometry] | None = None,
    file: str | None = None,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Sort fixes per worker, drop duplicates and impossible jumps, flag fixes outside the district.

    Parameters
    ----------
    fixes
        A fix frame (:mod:`gis.patrols.readers`); grouped by ``worker_id`` when present,
        else by ``worker``. Not changed.
    max_speed_kmh
        A fix farther from the previous kept fix than this speed allows is dropped.
        After a pause longer than ``gap_minutes`` the next fix is taken as it is (the
        device was off, and may have been carried anywhere). When three rejected fixes
        in a row agree with each other, they are taken as the truth: the device moved
        and the fix before them was the wrong one if nothing confirmed it.
    gap_minutes
        See ``max_speed_kmh``.
    areas
        ``district_id`` → where fixes are expected (the district grown by the allowed
        distance), in EPSG:4326; fixes outside get ``outside = True``. Needs a
        ``district_id`` column.
    file
        The input's name, for the report.

    Returns
    -------
    (pandas.DataFrame, CleaningReport)
        The kept fixes sorted by worker and time, with an ``outside`` column, and the report.

    Examples
    --------
    >>> t = pd.to_datetime(["2026-11-02T09:00:10Z", "2026-11-02T09:00:00Z", "2026-11-02T09:00:00Z"])
    >>> fixes = pd.DataFrame({"worker_id": 1, "recorded_at": t, "lon": 114.0, "lat": 22.5, "row": [0, 1, 2]})
    >>> kept, report = clean(fixes)
    >>> report.kept, report.duplicates, report.out_of_order
    (2, 1, 1)
    """
    n = len(fixes)
    codes = _track_codes(fixes)
    times = epoch_us(fixes[TIME])
    rows = fixes[ROW].to_numpy() if ROW in fixes.columns else np.arange(n)

    # out of order: earlier than the same worker's previous fix in file order
    order_in_file = np.lexsort((np.arange(n), codes))
    same = codes[order_in_file][1:] == codes[order_in_file][:-1]
    back = np.zeros(n, dtype=bool)
    back[order_in_file[1:]] = same & (np.diff(times[order_in_file]) < 0)

    by_time = np.lexsort((times, codes))  # stable: of two fixes at one time, the file's first is kept
    codes_s, times_s = codes[by_time], times[by_time]
    dup = np.zeros(n, dtype=bool)
    dup[1:] = (codes_s[1:] == codes_s[:-1]) & (times_s[1:] == times_s[:-1])
    duplicates = by_time[dup]
    order = by_time[~dup]

    lon = fixes[LON].to_numpy(dtype=float)[order]
    lat = fixes[LAT].to_numpy(dtype=float)[order]
    # flagged before the speed rule, which drops most such fixes: the report names them all
    outside = np.zeros(len(order), dtype=bool)
    if areas is not None:
        district = fixes[DISTRICT_ID].to_numpy()[order]
        for did in pd.unique(district):
            area = areas.get(int(did))
            if area is not None:
                mine = district == did
                shapely.prepare(area)
                outside[mine] = ~shapely.contains_xy(area, lon[mine], lat[mine])
    fast = _too_fast(codes[order], times[order], lon, lat, max_speed_kmh / 3.6, gap_minutes * 60e6)
    out = fixes.iloc[order[~fast]].reset_index(drop=True)
    out[OUTSIDE] = outside[~fast]
    stamps = out[TIME]
    report = CleaningReport(
        file=file,
        read=n,
        out_of_order=int(back.sum()),
        duplicates=len(duplicates),
        too_fast=int(fast.sum()),
        outside=int(outside.sum()),
        kept=len(out),
        workers=len(np.unique(codes)) if n else 0,
        first=stamps.min().isoformat() if len(out) else None,
        last=stamps.max().isoformat() if len(out) else None,
        max_speed_kmh=max_speed_kmh,
        examples={
            "out_of_order": _first_rows(rows, np.flatnonzero(back)),
            "duplicates": _first_rows(rows, duplicates),
            "too_fast": _first_rows(rows, order[fast]),
            "outside": _first_rows(rows, order[outside]),
        },
    )
    return out, report


def _track_codes(fixes: pd.DataFrame) -> np.ndarray:
    """An integer per track: the resolved worker, else the worker named in the file, else the device."""
    if WORKER_ID in fixes.columns:
        keys = fixes[WORKER_ID].astype(object)
    else:
        keys = fixes[WORKER].astype(object)
        if DEVICE in fixes.columns:
            keys = keys.where(keys.notna(), "device:" + fixes[DEVICE].astype(str))
    return pd.factorize(keys.fillna("\0none"))[0]


def _first_rows(rows: np.ndarray, picked: np.ndarray) -> list[int]:
    index = np.flatnonzero(picked) if picked.dtype == bool else picked
    return sorted(int(r) for r in rows[index])[:_EXAMPLES]


def _too_fast(
    codes: np.ndarray, times: np.ndarray, lon: np.ndarray, lat: np.ndarray, max_mps: float, gap_us: float
) -> np.ndarray:
    """Fixes (sorted by worker and time) to drop for an impossible move from the previous kept fix.

    Consecutive speeds find the workers with any suspect step; only their fixes go
    through the sequential rule, which needs the previous *kept* fix.
    """
    drop = np.zeros(len(codes), dtype=bool)
    if len(codes) < 2:
        return drop
    same = codes[1:] == codes[:-1]
    dt = np.diff(times) / 1e6
    speed = haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:]) / np.maximum(dt, 1e-6)
    suspect = same & (speed > max_mps) & (dt * 1e6 <= gap_us)
    if not suspect.any():
        return drop
    starts = np.flatnonzero(np.r_[True, ~same])
    ends = np.r_[starts[1:], len(codes)]
    step = np.r_[False, suspect]  # step[i]: the move from fix i - 1 to fix i is suspect
    for s, e in zip(starts, ends, strict=True):
        if step[s + 1 : e].any():
            drop[s:e] = _sequential(times[s:e], lon[s:e], lat[s:e], step[s:e], max_mps, gap_us)
    return drop


def _sequential(
    times: np.ndarray, lon: np.ndarray, lat: np.ndarray, step: np.ndarray, max_mps: float, gap_us: float
) -> np.ndarray:
    """The speed rule for one worker, run only where it differs from keeping every fix.

    While no fix is pending and the anchor is the previous fix, a move that is not
    suspect keeps its fix; so the loop jumps from one suspect move to the next.
    """
    t = times.tolist()
    x = np.radians(lon).tolist()
    y = np.radians(lat).tolist()
    suspects = np.flatnonzero(step).tolist()
    drop = [False] * len(t)
    anchor, confirmed = 0, False
    pending: list[int] = []  # rejected fixes since the anchor, in order

    def fast(i: int, j: int) -> bool:
        dt = (t[j] - t[i]) / 1e6
        if dt * 1e6 > gap_us:
            return False
        a = math.sin((y[j] - y[i]) / 2) ** 2 + math.cos(y[i]) * math.cos(y[j]) * math.sin((x[j] - x[i]) / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(a, 1.0))) > max_mps * max(dt, 1e-6)

    i, next_suspect = 1, 0
    while i < len(t):
        if not pending and anchor == i - 1:
            while next_suspect < len(suspects) and suspects[next_suspect] < i:
                next_suspect += 1
            if next_suspect == len(suspects):
                break  # no suspect move left: every later fix is kept
            if suspects[next_suspect] > i:
                i = suspects[next_suspect]
                anchor, confirmed = i - 1, True  # the fixes skipped were each consistent with the one before
        if not fast(anchor, i):
            for j in pending:
                drop[j] = True
            pending = []
            anchor, confirmed = i, True
            i += 1
            continue
        if pending and fast(pending[-1], i):
            for j in pending:
                drop[j] = True
            pending = []
        pending.append(i)
        if len(pending) >= _RUN:
            if not confirmed:
                drop[anchor] = True
            anchor, confirmed, pending = pending[-1], True, []
        i += 1
    for j in pending:
        drop[j] = True
    return np.array(drop, dtype=bool)
