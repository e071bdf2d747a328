"""Patrols, stops, visits, coverage and compliance from cleaned GPS fixes.

Everything here takes frames and returns frames. The work is done on whole columns
(numpy, shapely 2, scipy's KD-tree): a district's day is millions of fixes, which
movingpandas' one-object-per-trajectory model would take minutes over (its splitters
and stop detector loop in Python per trajectory). :func:`to_trajectories` hands the
same patrols to movingpandas for exploration, and the tests check that the patrols
here match its ``ObservationGapSplitter``.

A worker's **day** is the local date in the district's time zone. Within a day:

- a **session** runs between pauses longer than ``gap_minutes``;
- a **stop** is at least ``stop_minutes`` spent within ``stop_radius_m`` (found on
  two-minute bins: a bin of two or more fixes whose extent stays within the radius is
  still; a stop is a run of still bins). Stops are not patrol time: a worker at home
  or in the office is in their grid but not patrolling it;
- a **patrol** is a session's moving stretch between stops (at least two fixes);
- a **visit** is a stay in the worker's own grid (grown by ``boundary_m``) on patrol,
  from the first fix inside to the last; exits of at most ``exit_minutes`` do not end it;
- **coverage** is the share of the grid's street length (or of its 50 m cells, when the
  district has no streets) passed within ``coverage_m`` by the day's fixes, with the
  track densified so lines count, not just fixes; **longest unvisited** is the longest
  time any sampled part of the grid saw no fix within ``coverage_m`` in the day's window;
- the day is **compliant** with at least ``min_visits`` visits of ``min_visit_minutes``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from gis.errors import InputError
from gis.patrols.cleaning import epoch_us
from gis.patrols.columns import DAY, LAT, LON, PATROL, SESSION, STOP, TIME, WORKER_ID, X, Y
from gis.patrols.readers import check_timezone
from gis.patrols.rule import PatrolRule

__all__ = [
    "COMPLIANCE_COLUMNS",
    "Analysis",
    "analyse",
    "coverage_samples",
    "local_days",
    "split_patrols",
    "to_trajectories",
    "visits",
]

_BIN_US = 120 * 1_000_000  # stop detection bins: two minutes
_MINUTE_US = 60 * 1_000_000
_DENSIFY_MAX = 2000  # extra points per segment at most: a long straight ride needs no more

COMPLIANCE_COLUMNS = [
    WORKER_ID,
    DAY,
    "grid_code",
    "patrols",
    "visits",
    "long_visits",
    "visit_minutes",
    "stops",
    "distance_m",
    "coverage",
    "coverage_basis",
    "longest_unvisited_minutes",
    "compliant",
]


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyse` found.

    Attributes
    ----------
    tracks
        One LineString (EPSG:4326) per patrol: ``worker_id``, ``day``, ``started_at``,
        ``ended_at``, ``points``, ``length_m``, ``mean_speed_kmh``.
    stops
        ``worker_id``, ``day``, ``started_at``, ``ended_at``, ``minutes``, ``lon``, ``lat``.
    visits
        ``worker_id``, ``day``, ``grid_code``, ``entered_at``, ``left_at``, ``minutes``.
    compliance
        One row per worker and day: the columns of :data:`COMPLIANCE_COLUMNS`.
    """

    tracks: gpd.GeoDataFrame
    stops: pd.DataFrame
    visits: pd.DataFrame
    compliance: pd.DataFrame


def local_days(times: pd.Series, timezone: str) -> np.ndarray:
    """The local date (``datetime64[D]``) of each time-zone-aware time in ``timezone``.

    Examples
    --------
    >>> t = pd.Series(pd.to_datetime(["2026-11-02T17:00:00Z"]))
    >>> str(local_days(t, "Asia/Shanghai")[0])
    '2026-11-03'
    """
    zone = check_timezone(timezone)
    local = pd.DatetimeIndex(times).tz_convert(zone).tz_localize(None)
    return local.values.astype("datetime64[D]")


def _day_start_us(day: np.datetime64 | date, timezone: str, hours: float = 0.0) -> int:
    stamp = pd.Timestamp(day).tz_localize(check_timezone(timezone)) + pd.Timedelta(hours=hours)
    return int(stamp.value // 1000)  # .value is nanoseconds whatever the unit


def _project(lon: np.ndarray, lat: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    target = pyproj.CRS.from_user_input(crs)
    if not target.is_projected:
        raise InputError(f"CRS {target.to_string()} is not projected; distances need metres", field="crs")
    transformer = pyproj.Transformer.from_crs(4326, target, always_xy=True)
    return transformer.transform(lon, lat)


def split_patrols(fixes: pd.DataFrame, *, timezone: str, crs: Any, rule: PatrolRule | None = None) -> pd.DataFrame:
    """Sessions, stops and patrols of each worker's days.

    Parameters
    ----------
    fixes
        ``worker_id``, ``recorded_at``, ``lon``, ``lat``; not changed.
    timezone
        The district's zone: days are local dates.
    crs
        A projected CRS for distances (the district's working CRS).
    rule
        ``gap_minutes``, ``stop_minutes`` and ``stop_radius_m`` are used.

    Returns
    -------
    pandas.DataFrame
        The fixes sorted by worker and time, with ``day``, ``x``, ``y`` (metres),
        ``session``, ``stop`` (bool) and ``patrol`` (-1 for fixes in no patrol), plus
        ``step_m`` (distance from the previous fix of the same patrol, else 0).
    """
    rule = rule or PatrolRule()
    frame = fixes.sort_values([WORKER_ID, TIME], kind="stable").reset_index(drop=True)
    n = len(frame)
    t = epoch_us(frame[TIME])
    worker = frame[WORKER_ID].to_numpy()
    days = local_days(frame[TIME], timezone)
    x, y = _project(frame[LON].to_numpy(dtype=float), frame[LAT].to_numpy(dtype=float), crs)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    same = np.zeros(n, dtype=bool)
    if n > 1:
        same[1:] = (worker[1:] == worker[:-1]) & (days[1:] == days[:-1]) & (np.diff(t) <= rule.gap_minutes * _MINUTE_US)
    session = np.cumsum(~same) - 1
    stop = _stops(t, x, y, session, rule)
    patrol = _patrols(~stop, same)
    step = np.zeros(n)
    if n > 1:
        linked = (patrol[1:] >= 0) & (patrol[1:] == patrol[:-1])
        step[1:] = np.where(linked, np.hypot(np.diff(x), np.diff(y)), 0.0)
    return frame.assign(**{DAY: days, X: x, Y: y, SESSION: session, STOP: stop, PATROL: patrol, "step_m": step})


def _patrols(moving: np.ndarray, same: np.ndarray) -> np.ndarray:
    """Patrol ids 0..P-1 in time order for moving stretches of two or more fixes, -1 elsewhere."""
    n = len(moving)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = moving & ~(np.r_[False, moving[:-1]] & same)
    raw = np.where(moving, np.cumsum(new) - 1, -1)
    sizes = np.bincount(raw[moving]) if moving.any() else np.zeros(0, dtype=np.int64)
    keep = moving & (sizes[np.maximum(raw, 0)] >= 2) if moving.any() else moving
    kept_new = new & keep
    return np.where(keep, np.cumsum(kept_new) - 1, -1)


def _stops(t: np.ndarray, x: np.ndarray, y: np.ndarray, session: np.ndarray, rule: PatrolRule) -> np.ndarray:
    """Fixes that belong to a stop: runs of still two-minute bins lasting ``stop_minutes``."""
    n = len(t)
    if n == 0:
        return np.zeros(0, dtype=bool)
    bins = t // _BIN_US
    new_bin = np.r_[True, (session[1:] != session[:-1]) | (bins[1:] != bins[:-1])]
    starts = np.flatnonzero(new_bin)
    ends = np.r_[starts[1:], n]
    count = ends - starts
    extent = np.maximum(
        np.maximum.reduceat(x, starts) - np.minimum.reduceat(x, starts),
        np.maximum.reduceat(y, starts) - np.minimum.reduceat(y, starts),
    )
    still = (count >= 2) & (extent <= rule.stop_radius_m)
    b_session, b_no = session[starts], bins[starts]
    chained = np.r_[False, still[:-1] & (b_session[1:] == b_session[:-1]) & (b_no[1:] == b_no[:-1] + 1)]
    run_start = still & ~chained
    run = np.where(still, np.cumsum(run_start) - 1, -1)
    if not still.any():
        return np.zeros(n, dtype=bool)
    first_t = np.full(run.max() + 1, np.iinfo(np.int64).max)
    last_t = np.full(run.max() + 1, np.iinfo(np.int64).min)
    np.minimum.at(first_t, run[still], t[starts[still]])
    np.maximum.at(last_t, run[still], t[ends[still] - 1])
    long_run = (last_t - first_t) >= rule.stop_minutes * _MINUTE_US
    bin_stop = still & long_run[np.maximum(run, 0)]
    return np.repeat(bin_stop, count)


def _groups(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) positions of runs of equal keys; equal keys must be adjacent."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    starts = np.flatnonzero(change)
    return starts, np.r_[starts[1:], n]


def _runs(flag: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) positions of runs of ``flag`` within equal ``group`` values."""
    if len(flag) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    prev = np.r_[False, flag[:-1] & (group[1:] == group[:-1])]
    nxt = np.r_[flag[1:] & (group[1:] == group[:-1]), False]
    return np.flatnonzero(flag & ~prev), np.flatnonzero(flag & ~nxt) + 1


def _stop_table(split: pd.DataFrame) -> pd.DataFrame:
    stop = split[STOP].to_numpy()
    starts, ends = _runs(stop, split[SESSION].to_numpy())
    t = split[TIME]
    lon, lat = split[LON].to_numpy(), split[LAT].to_numpy()
    sums = np.add.reduceat(np.c_[lon, lat], starts, axis=0) if len(starts) else np.zeros((0, 2))
    count = (ends - starts).reshape(-1, 1)
    began, ended = t.iloc[starts].reset_index(drop=True), t.iloc[ends - 1].reset_index(drop=True)
    centre = sums / np.maximum(count, 1)
    return pd.DataFrame(
        {
            WORKER_ID: split[WORKER_ID].to_numpy()[starts],
            DAY: split[DAY].to_numpy()[starts],
            "started_at": began,
            "ended_at": ended,
            "minutes": (ended - began).dt.total_seconds().to_numpy() / 60.0,
            LON: centre[:, 0],
            LAT: centre[:, 1],
        }
    )


def _track_table(split: pd.DataFrame) -> gpd.GeoDataFrame:
    patrol = split[PATROL].to_numpy()
    on = patrol >= 0
    sub = split.loc[on]
    p = patrol[on]
    starts, ends = _groups(p)
    if len(p):
        lines = shapely.linestrings(sub[[LON, LAT]].to_numpy(), indices=p - p.min())
        # about a metre: keeps every turn of a walk, drops the vertices of straight lines and jitter
        lines = shapely.simplify(lines, 1e-5, preserve_topology=False)
        length = np.add.reduceat(sub["step_m"].to_numpy(), starts)
    else:
        lines, length = np.zeros(0, dtype=object), np.zeros(0)
    t = sub[TIME]
    began, ended = t.iloc[starts].reset_index(drop=True), t.iloc[ends - 1].reset_index(drop=True)
    hours = (ended - began).dt.total_seconds().to_numpy() / 3600.0
    return gpd.GeoDataFrame(
        {
            WORKER_ID: sub[WORKER_ID].to_numpy()[starts],
            DAY: sub[DAY].to_numpy()[starts],
            "started_at": began,
            "ended_at": ended,
            "points": ends - starts,
            "length_m": length,
            "mean_speed_kmh": np.divide(length / 1000.0, hours, out=np.zeros(len(hours)), where=hours > 0),
        },
        geometry=gpd.GeoSeries(lines, crs=4326),
    )


def visits(split: pd.DataFrame, grids: gpd.GeoDataFrame, *, crs: Any, rule: PatrolRule | None = None) -> pd.DataFrame:
    """Stays of each worker in their own grid, from :func:`split_patrols` output.

    Parameters
    ----------
    split
        From :func:`split_patrols` (same ``crs``).
    grids
        ``worker_id``, ``grid_code`` and the grid polygon (any CRS; workers without a
        grid have none).
    crs
        The CRS of ``split``'s ``x``/``y``.
    rule
        ``boundary_m`` and ``exit_minutes`` are used.

    Returns
    -------
    pandas.DataFrame
        ``worker_id``, ``day``, ``grid_code``, ``entered_at``, ``left_at``, ``minutes``.
    """
    rule = rule or PatrolRule()
    n = len(split)
    inside = np.zeros(n, dtype=bool)
    worker = split[WORKER_ID].to_numpy()
    x, y = split[X].to_numpy(), split[Y].to_numpy()
    areas = _grid_areas(grids, crs, rule.boundary_m)
    for s, e in zip(*_groups(worker), strict=True):
        area = areas.get(worker[s])
        if area is not None:
            inside[s:e] = shapely.contains_xy(area, x[s:e], y[s:e])
    patrol = split[PATROL].to_numpy()
    run_start, run_end = _runs(inside & (patrol >= 0), patrol)
    t = epoch_us(split[TIME])
    day = split[DAY].to_numpy()
    entered, left = t[run_start], t[run_end - 1]
    w, d = worker[run_start], day[run_start]
    merged = np.zeros(len(run_start), dtype=bool)
    merged[1:] = (w[1:] == w[:-1]) & (d[1:] == d[:-1]) & (entered[1:] - left[:-1] <= rule.exit_minutes * _MINUTE_US)
    first, last = _groups(np.cumsum(~merged))
    last = last - 1
    codes = dict(zip(grids[WORKER_ID], grids["grid_code"], strict=False))
    began = pd.to_datetime(entered[first], unit="us", utc=True)
    ended = pd.to_datetime(left[last], unit="us", utc=True)
    return pd.DataFrame(
        {
            WORKER_ID: w[first],
            DAY: d[first],
            "grid_code": [codes.get(v) for v in w[first]],
            "entered_at": began,
            "left_at": ended,
            "minutes": (left[last] - entered[first]) / _MINUTE_US,
        }
    )


def _grid_areas(grids: gpd.GeoDataFrame, crs: Any, grow_m: float) -> dict[Any, shapely.Geometry]:
    if grids.crs is None:
        raise InputError("the grids have no CRS; expected EPSG:4326 polygons", field="geometry")
    present = grids[grids.geometry.notna() & ~grids.geometry.is_empty]
    metric = present.geometry.to_crs(crs).buffer(grow_m).to_numpy()
    shapely.prepare(metric)
    return dict(zip(present[WORKER_ID], metric, strict=True))


def coverage_samples(
    grid: shapely.Geometry, *, streets: np.ndarray | None, rule: PatrolRule | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """Points standing for a grid's patrol area, with weights, in the grid's metric CRS.

    Street lines within the grid (grown by ``boundary_m``, so its border streets count)
    are sampled every ``coverage_m / 3`` metres, each sample weighing the length it
    stands for. Without streets, the centres of ``cell_m`` cells inside the grid stand
    for it, each weighing one.

    Parameters
    ----------
    grid
        The grid polygon in a metric CRS.
    streets
        Street lines in the same CRS, or ``None``/empty for cells.
    rule
        ``boundary_m``, ``coverage_m`` and ``cell_m`` are used.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, str)
        ``(n, 2)`` coordinates, ``n`` weights, and ``"streets"`` or ``"cells"``.

    Examples
    --------
    >>> xy, w, basis = coverage_samples(shapely.box(0, 0, 100, 100), streets=None)
    >>> len(xy), basis
    (4, 'cells')
    """
    rule = rule or PatrolRule()
    if streets is not None and len(streets):
        area = shapely.buffer(grid, rule.boundary_m)
        parts = shapely.get_parts(shapely.intersection(streets, area))
        parts = parts[shapely.get_type_id(parts) == 1]  # LineStrings; points where a street only touches
        lengths = shapely.length(parts)
        parts, lengths = parts[lengths > 0], lengths[lengths > 0]
        if len(parts):
            step = rule.coverage_m / 3.0
            count = np.ceil(lengths / step).astype(np.int64)
            owner = np.repeat(np.arange(len(parts)), count)
            offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
            along = (offset + 0.5) * (lengths / count)[owner]
            points = shapely.line_interpolate_point(parts[owner], along)
            return shapely.get_coordinates(points), (lengths / count)[owner], "streets"
    minx, miny, maxx, maxy = shapely.bounds(grid)
    half = rule.cell_m / 2.0
    xs = np.arange(minx + half, maxx, rule.cell_m)
    ys = np.arange(miny + half, maxy, rule.cell_m)
    gx, gy = np.meshgrid(xs, ys)
    gx, gy = gx.ravel(), gy.ravel()
    shapely.prepare(grid)
    keep = shapely.contains_xy(grid, gx, gy)
    if not keep.any():
        point = shapely.get_coordinates(shapely.point_on_surface(grid))
        return point, np.ones(1), "cells"
    return np.c_[gx[keep], gy[keep]], np.ones(int(keep.sum())), "cells"


def _densify(x: np.ndarray, y: np.ndarray, t: np.ndarray, session: np.ndarray, step: float):
    """The fixes plus points every ``step`` metres along each move within a session (times interpolated)."""
    if len(x) < 2:
        return x, y, t
    dx, dy, dt = np.diff(x), np.diff(y), np.diff(t)
    d = np.hypot(dx, dy)
    extra = np.where(session[1:] == session[:-1], np.ceil(d / step).astype(np.int64) - 1, 0)
    extra = np.clip(extra, 0, _DENSIFY_MAX)
    total = int(extra.sum())
    if total == 0:
        return x, y, t
    seg = np.repeat(np.arange(len(d)), extra)
    k = np.arange(total) - np.repeat(np.cumsum(extra) - extra, extra) + 1
    frac = k / (extra[seg] + 1)
    return (
        np.r_[x, x[seg] + dx[seg] * frac],
        np.r_[y, y[seg] + dy[seg] * frac],
        np.r_[t, t[seg] + (dt[seg] * frac).astype(np.int64)],
    )


def _coverage(
    samples: tuple[np.ndarray, np.ndarray, str] | None,
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    session: np.ndarray,
    window: tuple[int, int],
    rule: PatrolRule,
) -> tuple[float | None, float | None, str | None]:
    """Coverage share and longest unvisited minutes of one grid by one day's fixes."""
    if samples is None:
        return None, None, None
    xy, weight, basis = samples
    w0, w1 = window
    span = (w1 - w0) / _MINUTE_US
    inside = (t >= w0) & (t < w1)
    if not inside.any() or len(xy) == 0:
        return 0.0, span, basis
    px, py, pt = _densify(x[inside], y[inside], t[inside], session[inside], rule.coverage_m / 3.0)
    keep = (pt >= w0) & (pt < w1)
    pairs = cKDTree(xy).sparse_distance_matrix(
        cKDTree(np.c_[px[keep], py[keep]]), rule.coverage_m, output_type="ndarray"
    )
    if len(pairs) == 0:
        return 0.0, span, basis
    si, tj = pairs["i"].astype(np.int64), pt[keep][pairs["j"]]
    order = np.lexsort((tj, si))
    si, tj = si[order], tj[order]
    seen = np.zeros(len(xy), dtype=bool)
    seen[si] = True
    share = float(weight[seen].sum() / weight.sum())
    if not seen.all():
        return share, span, basis
    first = np.r_[True, si[1:] != si[:-1]]
    last = np.r_[si[1:] != si[:-1], True]
    inner = np.where(~first, np.diff(np.r_[tj[0], tj]), 0)
    longest = max(int(inner.max()), int((tj[first] - w0).max()), int((w1 - tj[last]).max()))
    return share, longest / _MINUTE_US, basis


def analyse(
    fixes: pd.DataFrame,
    grids: gpd.GeoDataFrame,
    *,
    timezone: str,
    crs: Any,
    rule: PatrolRule | None = None,
    streets: gpd.GeoSeries | None = None,
    days: list[date] | None = None,
) -> Analysis:
    """Patrols, stops, visits, coverage and compliance of workers' days.

    Parameters
    ----------
    fixes
        Cleaned fixes: ``worker_id``, ``recorded_at``, ``lon``, ``lat``. Not changed.
    grids
        One row per worker to judge: ``worker_id``, ``grid_code`` and the grid polygon
        (EPSG:4326; missing for a worker without a grid, whose days are never compliant).
    timezone
        The district's zone; days are its local dates.
    crs
        The district's projected working CRS, for distances.
    rule
        Thresholds (:class:`~gis.patrols.rule.PatrolRule`); the defaults when ``None``.
    streets
        Street lines (EPSG:4326) for coverage; cells are used when ``None`` or empty.
    days
        The days to judge every worker in ``grids`` on (a worker without fixes that day
        gets a row of zeros); by default the days each worker has fixes on.

    Returns
    -------
    Analysis
    """
    rule = rule or PatrolRule()
    known = set(grids[WORKER_ID])
    fixes = fixes[fixes[WORKER_ID].isin(known)]
    split = split_patrols(fixes, timezone=timezone, crs=crs, rule=rule)
    if days is not None:
        keep = np.isin(split[DAY].to_numpy(), np.array(days, dtype="datetime64[D]"))
        split = split.loc[keep].reset_index(drop=True)
    tracks = _track_table(split)
    stops = _stop_table(split)
    stays = visits(split, grids, crs=crs, rule=rule)
    compliance = _compliance(
        split, grids, tracks, stops, stays, timezone=timezone, crs=crs, rule=rule, streets=streets, days=days
    )
    for frame in (tracks, stops, stays):
        frame[DAY] = _dates(frame[DAY])
    return Analysis(tracks=tracks, stops=stops, visits=stays, compliance=compliance)


def _dates(values: Any) -> list[date]:
    return [d.astype("datetime64[D]").item() if isinstance(d, np.datetime64) else d for d in np.asarray(values)]


def _compliance(
    split: pd.DataFrame,
    grids: gpd.GeoDataFrame,
    tracks: gpd.GeoDataFrame,
    stops: pd.DataFrame,
    stays: pd.DataFrame,
    *,
    timezone: str,
    crs: Any,
    rule: PatrolRule,
    streets: gpd.GeoSeries | None,
    days: list[date] | None,
) -> pd.DataFrame:
    if days is not None:
        pairs = pd.MultiIndex.from_product(
            [list(grids[WORKER_ID]), np.array(days, dtype="datetime64[D]")], names=[WORKER_ID, DAY]
        )
    else:
        pairs = pd.MultiIndex.from_frame(split[[WORKER_ID, DAY]].drop_duplicates())
    rows = pd.DataFrame(index=pairs)
    long_enough = stays["minutes"] >= rule.min_visit_minutes
    per = {
        "patrols": tracks.groupby([WORKER_ID, DAY]).size(),
        "distance_m": tracks.groupby([WORKER_ID, DAY])["length_m"].sum(),
        "stops": stops.groupby([WORKER_ID, DAY]).size(),
        "visits": stays.groupby([WORKER_ID, DAY]).size(),
        "long_visits": stays[long_enough].groupby([WORKER_ID, DAY]).size(),
        "visit_minutes": stays.groupby([WORKER_ID, DAY])["minutes"].sum(),
    }
    for name, values in per.items():
        rows[name] = values.reindex(rows.index).fillna(0).to_numpy() if len(values) else 0
    for name in ("patrols", "stops", "visits", "long_visits"):
        rows[name] = rows[name].astype(np.int64)
    rows = rows.reset_index()
    codes = dict(zip(grids[WORKER_ID], grids["grid_code"], strict=False))
    rows.insert(2, "grid_code", [codes.get(w) for w in rows[WORKER_ID]])
    cover, longest, basis = _coverage_rows(split, grids, rows, timezone=timezone, crs=crs, rule=rule, streets=streets)
    rows["coverage"], rows["coverage_basis"], rows["longest_unvisited_minutes"] = cover, basis, longest
    has_grid = rows["grid_code"].notna().to_numpy() & np.isin(rows[WORKER_ID], list(_with_geometry(grids)))
    rows["compliant"] = has_grid & (rows["long_visits"].to_numpy() >= rule.min_visits)
    rows[DAY] = _dates(rows[DAY])
    return rows[COMPLIANCE_COLUMNS]


def _with_geometry(grids: gpd.GeoDataFrame) -> set:
    present = grids.geometry.notna() & ~grids.geometry.is_empty
    return set(grids.loc[present, WORKER_ID])


def _coverage_rows(
    split: pd.DataFrame,
    grids: gpd.GeoDataFrame,
    rows: pd.DataFrame,
    *,
    timezone: str,
    crs: Any,
    rule: PatrolRule,
    streets: gpd.GeoSeries | None,
) -> tuple[list, list, list]:
    present = grids[grids.geometry.notna() & ~grids.geometry.is_empty]
    metric = dict(zip(present[WORKER_ID], present.geometry.to_crs(crs).to_numpy(), strict=True))
    street_lines = streets.to_crs(crs).to_numpy() if streets is not None and len(streets) else None
    tree = shapely.STRtree(street_lines) if street_lines is not None else None
    by_grid: dict[bytes, tuple] = {}
    samples: dict[Any, tuple] = {}
    for worker, grid in metric.items():
        key = shapely.to_wkb(grid)  # workers sharing a grid share its samples
        if key not in by_grid:
            near = None if tree is None else street_lines[tree.query(shapely.buffer(grid, rule.boundary_m))]
            by_grid[key] = coverage_samples(grid, streets=near, rule=rule)
        samples[worker] = by_grid[key]
    worker = split[WORKER_ID].to_numpy()
    day = split[DAY].to_numpy()
    n = len(split)
    bounds = {(worker[s], day[s]): (s, e) for s, e in zip(*_groups(worker, day), strict=True)}
    t = epoch_us(split[TIME]) if n else np.zeros(0, dtype=np.int64)
    x, y, session = split[X].to_numpy(), split[Y].to_numpy(), split[SESSION].to_numpy()
    cover, longest, basis = [], [], []
    for w, d in zip(rows[WORKER_ID], np.asarray(rows[DAY]).astype("datetime64[D]"), strict=True):
        window = (
            _day_start_us(d, timezone, rule.day_start_hour),
            _day_start_us(d, timezone, rule.day_end_hour),
        )
        s, e = bounds.get((w, d), (0, 0))
        c, g, b = _coverage(samples.get(w), x[s:e], y[s:e], t[s:e], session[s:e], window, rule)
        cover.append(c)
        longest.append(g)
        basis.append(b)
    return cover, longest, basis


def to_trajectories(split: pd.DataFrame):
    """The patrols of :func:`split_patrols` output as a movingpandas ``TrajectoryCollection``.

    For exploring a few workers with movingpandas' tools (its plots, stop detector,
    generalisers); the analysis itself does not go through it.

    Returns
    -------
    movingpandas.TrajectoryCollection
        One trajectory per patrol, ids ``"<worker_id>-<patrol>"``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # it warns about optional smoothing extras
        import movingpandas as mpd

    on = split[split[PATROL] >= 0]
    frame = gpd.GeoDataFrame(
        {
            "traj_id": on[WORKER_ID].astype(str) + "-" + on[PATROL].astype(str),
            "t": on[TIME].dt.tz_convert("UTC").dt.tz_localize(None),
            WORKER_ID: on[WORKER_ID].to_numpy(),
        },
        geometry=gpd.points_from_xy(on[LON], on[LAT]),
        crs=4326,
    ).set_index("t")
    return mpd.TrajectoryCollection(frame, traj_id_col="traj_id", obj_id_col=WORKER_ID)
