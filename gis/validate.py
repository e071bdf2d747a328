"""Checks on frames, pure: each takes a frame and returns a new one, a count or raises.

They work on whole columns (no row-wise ``apply``) and on in-memory frames as well as on
what ``gis.io`` read; ``file`` only names the source in messages. Every error names the
file, the offending features (0-based positions and ids, the first ten shown) and the field,
states how many there are, the values, what was expected and the fix.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.crs import is_metric, pick_metric_crs
from gis.errors import CountError, DuplicateIdError, GeometryError, InputError, OutsideBoundaryError, feature_positions

__all__ = [
    "MAX_COUNT",
    "MAX_VERTICES",
    "POINT_TYPES",
    "POLYGON_TYPES",
    "drop_z",
    "refuse_invalid_geometries",
    "validate_admin_codes",
    "validate_counts",
    "validate_geometries",
    "validate_geometry_types",
    "validate_unique_ids",
    "validate_vertex_counts",
    "validate_within",
    "warn_population_below_households",
]

POLYGON_TYPES = frozenset({"Polygon", "MultiPolygon"})
POINT_TYPES = frozenset({"Point", "MultiPoint"})
LINE_TYPES = frozenset({"LineString", "MultiLineString"})

_SHOWN = 10  # offending values quoted in a message

# Vertices one feature may have. Real units, communities and district outlines have a
# few hundred to a few thousand (Taipei's largest district: 2,323); a million is far
# beyond any of them yet still validated and partitioned in seconds. Above it, repair
# and the grid engine's geometry work would run for minutes on one shape.
MAX_VERTICES = 1_000_000
# Counts are stored as 32-bit integers; anything larger is a unit error, not a count.
MAX_COUNT = 2**31 - 1


def _values(series: pd.Series, mask: np.ndarray) -> str:
    """The first few offending values, quoted, for a message."""
    shown = series[mask].iloc[:_SHOWN].tolist()
    more = f" and {int(mask.sum()) - _SHOWN} more" if mask.sum() > _SHOWN else ""
    return "[" + ", ".join(repr(v) for v in shown) + more + "]"


def _either(names: Collection[str]) -> str:
    """``"A, B or C"``."""
    names = sorted(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def validate_unique_ids(frame: pd.DataFrame, *, id_field: str, file: str | Path = "<frame>") -> None:
    """Refuse blank or repeated ids.

    Parameters
    ----------
    frame
        Any frame with an id column.
    id_field
        The id column.
    file
        Named in errors.

    Raises
    ------
    InputError
        When ids are blank.
    DuplicateIdError
        When an id occurs on more than one feature; all its features are listed.

    Examples
    --------
    >>> validate_unique_ids(pd.DataFrame({"id": ["a", "b"]}), id_field="id")
    """
    ids = frame[id_field]
    blank = ids.isna().to_numpy() | ids.astype("string").str.strip().eq("").fillna(False).to_numpy(bool)
    if blank.any():
        raise InputError.of_features(
            frame,
            blank,
            "a blank id; every feature needs its own id. Fill them in or pick another id field",
            file=file,
            field=id_field,
        )
    repeated = ids.duplicated(keep=False).to_numpy()
    if repeated.any():
        positions, found = feature_positions(frame, repeated, id_field)
        n_ids = ids[repeated].nunique()
        raise DuplicateIdError(
            f"{n_ids} {'id occurs' if n_ids == 1 else 'ids occur'} on more than one feature "
            f"({len(positions)} features); ids must be unique. "
            "Merge or renumber the duplicates, or pick another id field",
            file=file,
            index=positions,
            feature_id=found,
            field=id_field,
        )


def drop_z(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Drop Z coordinates: grids are planar.

    Returns
    -------
    frame : GeoDataFrame
        A new frame with 2D geometries.
    n_dropped : int
        How many features had a Z coordinate.

    Examples
    --------
    >>> frame = gpd.GeoDataFrame(geometry=[shapely.Point(1, 2, 3)])
    >>> out, n = drop_z(frame)
    >>> out.geometry[0].has_z, n
    (False, 1)
    """
    geoms = frame.geometry.values
    has_z = shapely.has_z(geoms)
    frame = frame.copy()
    if has_z.any():
        frame[frame.geometry.name] = gpd.GeoSeries(shapely.force_2d(geoms), index=frame.index, crs=frame.crs)
    return frame, int(has_z.sum())


def validate_vertex_counts(
    frame: gpd.GeoDataFrame,
    *,
    file: str | Path = "<frame>",
    id_field: str | None = None,
    limit: int = MAX_VERTICES,
) -> None:
    """Refuse features with more vertices than ``limit`` before any costly geometry work.

    Counting is linear and cheap; repairing, measuring or partitioning a shape of ten
    million vertices is not, so this runs first, right after reading.

    Parameters
    ----------
    frame
        Frame to check.
    file, id_field
        Name the source and the features in errors.
    limit
        Most vertices one feature may have; `MAX_VERTICES` by default.

    Raises
    ------
    GeometryError
        Listing the features over the limit and their vertex counts.

    Examples
    --------
    >>> validate_vertex_counts(gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]), limit=5)
    >>> validate_vertex_counts(gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]), limit=4)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gis.errors.GeometryError: file '<frame>', feature [0]: 1 feature has more than 4 vertices ([5]); ...
    """
    counts = shapely.get_num_coordinates(frame.geometry.values)
    over = counts > limit
    if over.any():
        shown = "[" + ", ".join(f"{n:,}" for n in counts[over][:_SHOWN]) + "]"
        raise GeometryError.of_features(
            frame,
            over,
            f"more than {limit:,} vertices ({shown}); no unit, community or "
            "boundary needs that many, and working on such a shape would take minutes. Simplify these "
            "features to about a metre (QGIS: Vector > Geometry Tools > Simplify; or "
            "`ogr2ogr -simplify 1 OUT IN`) or split them",
            file=file,
            id_field=id_field,
        )


def validate_geometries(
    frame: gpd.GeoDataFrame, *, file: str | Path = "<frame>", id_field: str | None = None
) -> tuple[gpd.GeoDataFrame, int]:
    """Refuse missing or empty geometries and repair invalid ones.

    Invalid geometries are repaired with ``shapely.make_valid``; polygons keep only their
    polygonal parts (``method="structure"``), so a bow-tie stays an area instead of
    turning into a collection with stray lines.

    Parameters
    ----------
    frame
        Frame to check and repair; it is left as it is (the repairs are in the returned copy).
    file, id_field
        Name the source and the features in errors.

    Returns
    -------
    frame : GeoDataFrame
        A new frame with valid geometries.
    n_repaired : int
        How many geometries were invalid and repaired.

    Raises
    ------
    GeometryError
        For missing or empty geometries, and for those that repair leaves empty (e.g. a
        polygon collapsed to a line).

    Examples
    --------
    >>> bowtie = shapely.from_wkt("POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))")
    >>> out, n = validate_geometries(gpd.GeoDataFrame(geometry=[bowtie]))
    >>> out.geom_type[0], n
    ('MultiPolygon', 1)
    """
    geoms = frame.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise GeometryError.of_features(
            frame,
            missing,
            "no geometry (missing or empty); every feature needs a location. Draw them or remove these features",
            file=file,
            id_field=id_field,
        )
    invalid = ~shapely.is_valid(geoms)
    frame = frame.copy()
    if not invalid.any():
        return frame, 0
    fixed = np.array(geoms, dtype=object)
    polygonal = invalid & np.isin(shapely.get_type_id(geoms), [3, 6])  # Polygon, MultiPolygon
    other = invalid & ~polygonal
    fixed[polygonal] = shapely.make_valid(fixed[polygonal], method="structure", keep_collapsed=False)
    fixed[other] = shapely.make_valid(fixed[other])
    collapsed = shapely.is_empty(fixed)
    if collapsed.any():
        raise GeometryError.of_features(
            frame,
            collapsed,
            "an invalid geometry that repair leaves empty (e.g. a polygon with no area); redraw or remove "
            "these features",
            file=file,
            id_field=id_field,
        )
    frame[frame.geometry.name] = gpd.GeoSeries(fixed, index=frame.index, crs=frame.crs)
    return frame, int(invalid.sum())


def refuse_invalid_geometries(
    frame: gpd.GeoDataFrame, *, file: str | Path = "<frame>", id_field: str | None = None
) -> None:
    """Refuse invalid geometries (self-intersections, rings that cross) instead of repairing them.

    For layers commgrid wrote itself (a plan's grids): an invalid shape there was edited by
    hand, and repairing it would store a grid other than the one drawn.

    Raises
    ------
    GeometryError
        Naming the features and why the first is invalid.
    """
    geoms = frame.geometry.values
    invalid = ~shapely.is_valid(geoms) & ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if invalid.any():
        reason = shapely.is_valid_reason(geoms[invalid][0])
        raise GeometryError.of_features(
            frame,
            invalid,
            f"an invalid geometry ({reason}); redraw it, or partition again",
            file=file,
            id_field=id_field,
            field="geometry",
        )


def validate_geometry_types(
    frame: gpd.GeoDataFrame,
    *,
    allowed: Collection[str],
    file: str | Path = "<frame>",
    id_field: str | None = None,
    what: str = "features",
    one_of: Sequence[Collection[str]] = (),
) -> None:
    """Refuse geometry types outside ``allowed`` (e.g. lines in a layer of units), or a mix of kinds.

    Parameters
    ----------
    frame
        Frame to check.
    allowed
        Geometry type names, e.g. `POLYGON_TYPES`.
    file, id_field
        Name the source and the features in errors.
    what
        What the features are, for the message ("units", "communities").
    one_of
        Groups of type names, e.g. ``[POLYGON_TYPES, POINT_TYPES]``: when given, all
        features must fall in one group (no address points among unit polygons).

    Raises
    ------
    GeometryError
        Listing the offending features and their types; for a mix, the features of the
        less common kind.

    Examples
    --------
    >>> validate_geometry_types(gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)]), allowed=POINT_TYPES)
    >>> frame = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1), shapely.Point(0, 0)])
    >>> validate_geometry_types(frame, allowed=POLYGON_TYPES | POINT_TYPES, one_of=[POLYGON_TYPES, POINT_TYPES])
    Traceback (most recent call last):
    ...
    gis.errors.GeometryError: file '<frame>', feature [1]: 1 feature has geometry type Point, while the rest (1) ...
    """
    types = frame.geom_type
    wrong = ~types.isin(list(allowed)).to_numpy()
    if wrong.any():
        found = ", ".join(sorted(types[wrong].unique()))
        raise GeometryError.of_features(
            frame,
            wrong,
            f"geometry type {found}, but {what} must be {_either(allowed)}; pass the right file or layer",
            file=file,
            id_field=id_field,
        )
    members = [types.isin(list(kind)).to_numpy() for kind in one_of]
    present = [m for m in members if m.any()]
    if len(present) < 2:
        return
    majority = max(present, key=lambda m: int(m.sum()))
    minority = ~majority
    found = ", ".join(sorted(types[minority].unique()))
    main = ", ".join(sorted(types[majority].unique()))
    raise GeometryError.of_features(
        frame,
        minority,
        f"geometry type {found}, while the rest ({int(majority.sum())}) are {main}; {what} must all be "
        "polygons or all points. Split the file, or remove these features",
        file=file,
        id_field=id_field,
    )


def validate_counts(
    frame: pd.DataFrame,
    *,
    fields: Sequence[str],
    file: str | Path = "<frame>",
    id_field: str | None = None,
    missing: Literal["error", "zero"] = "error",
) -> tuple[pd.DataFrame, int]:
    """Check count columns hold whole numbers ≥ 0 and return them as ``int64``.

    Counts may arrive as numbers or text (CSV); blank means null, NaN or empty text.

    Parameters
    ----------
    frame
        Frame holding the count columns.
    fields
        The count columns, e.g. households and residents.
    file, id_field
        Name the source and the features in errors.
    missing
        ``"error"`` refuses blank counts; ``"zero"`` counts them as 0 (unpopulated areas).

    Returns
    -------
    frame : DataFrame
        A new frame with ``fields`` as ``int64``.
    n_zeroed : int
        Features with at least one blank count set to 0.

    Raises
    ------
    CountError
        For blank (unless ``missing="zero"``), non-numeric, infinite, fractional, negative
        or too large (above `MAX_COUNT`) counts, naming the first field with a problem.

    Examples
    --------
    >>> out, n = validate_counts(pd.DataFrame({"h": ["3", None]}), fields=["h"], missing="zero")
    >>> out["h"].tolist(), n
    ([3, 0], 1)
    """
    if missing not in ("error", "zero"):
        raise InputError(f"missing_counts must be 'error' or 'zero', got {missing!r}")
    out = frame.copy()
    any_blank = np.zeros(len(frame), dtype=bool)
    for field in fields:
        series = frame[field]
        numbers, blank, text = _parse_counts(series)
        finite = np.isfinite(numbers)
        problems = [
            (blank if missing == "error" else np.zeros_like(blank), "a blank value (null, empty or NaN)"),
            (text, "text that is not a number"),
            (~blank & ~text & ~finite, "a value that is not a finite number"),
            (finite & (numbers != np.floor(numbers)), "a fractional value"),
            (finite & (numbers < 0), "a negative value"),
            (finite & (numbers > MAX_COUNT), f"a value too large to be a count (above {MAX_COUNT:,})"),
        ]
        for mask, what in problems:
            if mask.any():
                _raise_count_error(frame, series, mask, what, field=field, file=file, id_field=id_field)
        out[field] = np.where(blank, 0, numbers).astype(np.int64)
        any_blank |= blank
    return out, int(any_blank.sum())


def _parse_counts(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numbers (float, NaN where unparsable), blank mask and non-numeric-text mask."""
    blank = series.isna().to_numpy(bool)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        return numbers, blank, np.zeros_like(blank)
    text = series.astype("string").str.strip()
    blank = blank | text.eq("").fillna(True).to_numpy(bool)
    parsed = pd.to_numeric(text.mask(pd.Series(blank, index=series.index)), errors="coerce")
    numbers = pd.Series(parsed).to_numpy(dtype="float64", na_value=np.nan)
    # "nan"/"inf" parse to non-finite numbers: reported as not finite rather than as text
    is_nan_text = text.str.lower().isin(["nan", "-nan", "+nan"]).fillna(False).to_numpy(bool)
    unparsed = ~blank & np.isnan(numbers) & ~is_nan_text
    return numbers, blank, unparsed


def _raise_count_error(
    frame: pd.DataFrame,
    series: pd.Series,
    mask: np.ndarray,
    what: str,
    *,
    field: str,
    file: str | Path,
    id_field: str | None,
) -> None:
    if what.startswith("a blank"):
        shown = ""
        fix = "fill them in, or have blank counts read as zero for unpopulated areas"
    else:
        shown = " " + _values(series, mask)
        fix = "correct these values in the file"
    raise CountError.of_features(
        frame,
        mask,
        f"{what}{shown}; expected a whole number ≥ 0. Fix: {fix}",
        file=file,
        id_field=id_field,
        field=field,
        option="missing_counts" if what.startswith("a blank") else None,
    )


def validate_within(
    frame: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry,
    *,
    file: str | Path = "<frame>",
    id_field: str | None = None,
    tolerance: float = 5.0,
) -> None:
    """Refuse features whose representative point lies outside the boundary.

    Parameters
    ----------
    frame
        Units (polygons or points) with a CRS.
    boundary
        The district; a bare geometry is taken to be in ``frame``'s CRS, a frame or series
        with a CRS is reprojected to it.
    file, id_field
        Name the source and the features in errors.
    tolerance
        Metres the boundary is grown by before testing, so points on or just across a
        boundary digitised from another source still count as inside.

    Raises
    ------
    OutsideBoundaryError
        Listing the features outside.

    Examples
    --------
    >>> square = shapely.box(121.5, 25.0, 121.6, 25.1)
    >>> units = gpd.GeoDataFrame(geometry=[shapely.Point(121.55, 25.05)], crs="EPSG:4326")
    >>> validate_within(units, square)
    """
    area = _boundary_geometry(boundary, frame.crs)
    points = shapely.point_on_surface(frame.geometry.values)
    work_crs = frame.crs if frame.crs is not None and is_metric(frame.crs) else None
    if frame.crs is not None and work_crs is None:
        # buffer in metres, not degrees
        work_crs = pick_metric_crs(frame)
        points = gpd.GeoSeries(points, crs=frame.crs).to_crs(work_crs).values
        area = gpd.GeoSeries([area], crs=frame.crs).to_crs(work_crs).iloc[0]
    grown = shapely.buffer(area, tolerance)
    shapely.prepare(grown)
    outside = ~shapely.covers(grown, points)
    if outside.any():
        raise OutsideBoundaryError.of_features(
            frame,
            outside,
            f"a representative point more than {tolerance:g} m outside the boundary; check that the boundary "
            "and the units are the same district and CRS, or remove these units",
            file=file,
            id_field=id_field,
            option="input_crs",
        )


def _boundary_geometry(boundary: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry, crs: Any) -> BaseGeometry:
    """One geometry in ``crs`` from a frame, a series or a geometry."""
    if isinstance(boundary, BaseGeometry):
        return boundary
    series = boundary.geometry if isinstance(boundary, gpd.GeoDataFrame) else boundary
    if series.crs is not None and crs is not None and series.crs != crs:
        series = series.to_crs(crs)
    return series.union_all()


def validate_admin_codes(
    frame: pd.DataFrame, *, field: str, file: str | Path = "<frame>", id_field: str | None = None
) -> pd.Series:
    """Administrative codes as 12-digit text (6 county + 3 street + 3 community), ``None`` where blank.

    Parameters
    ----------
    frame
        Frame holding the code column (text or integers).
    field
        The code column.
    file, id_field
        Name the source and the features in errors.

    Returns
    -------
    Series
        Object series of 12-digit strings or ``None``.

    Raises
    ------
    InputError
        For codes that are not 12 digits.

    Examples
    --------
    >>> validate_admin_codes(pd.DataFrame({"c": [110101001001, None]}), field="c").tolist()
    ['110101001001', None]
    """
    series = frame[field]
    blank = series.isna().to_numpy(bool)
    text = series.astype("string").str.strip()
    if pd.api.types.is_float_dtype(series):
        # integer codes read with nulls arrive as floats: 110101001001.0
        whole = (series == np.floor(series)).to_numpy(bool)
        text[whole] = series[whole].astype("int64").astype("string")
    blank = blank | text.eq("").fillna(True).to_numpy(bool)
    good = text.str.fullmatch(r"\d{12}").fillna(False).to_numpy(bool)
    wrong = ~blank & ~good
    if wrong.any():
        raise InputError.of_features(
            frame,
            wrong,
            f"an admin code that is not 12 digits {_values(series, wrong)}; expected 6 county + 3 street + "
            "3 community digits. Name the field holding such codes, or leave it out",
            file=file,
            id_field=id_field,
            option="community_code",
            field=field,
        )
    return pd.Series(np.where(blank, None, text.to_numpy(object, na_value=None)), index=frame.index, dtype=object)


def warn_population_below_households(
    frame: pd.DataFrame,
    *,
    households: str,
    population: str,
    file: str | Path = "<frame>",
    id_field: str | None = None,
) -> list[str]:
    """Warnings (not errors) for features with fewer residents than households.

    Such rows are possible (registered but empty dwellings) but often mean swapped fields.

    Returns
    -------
    list of str
        One message, or none.

    Examples
    --------
    >>> warn_population_below_households(
    ...     pd.DataFrame({"h": [3, 5], "p": [7, 2]}), households="h", population="p"
    ... )  # doctest: +ELLIPSIS
    ["file '<frame>', feature [1]: 1 feature has population below households..."]
    """
    below = (frame[population] < frame[households]).to_numpy(bool)
    if not below.any():
        return []
    # built as an error to reuse its where-prefix, never raised
    note = InputError.of_features(
        frame,
        below,
        f"population below households ({population!r} < {households!r}); check the two fields are not swapped",
        file=file,
        id_field=id_field,
    )
    return [str(note)]
