"""Coordinate reference systems: refuse data without one, pick a metric one to measure in.

Nothing here guesses a CRS: data without one is refused unless the user names it, and
coordinates that cannot be degrees are refused even when the file says they are.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from gis.errors import GeometryError, MissingCRSError, feature_positions

__all__ = [
    "OFFSET_DATUMS",
    "area_of_use_notes",
    "ensure_crs",
    "from_offset_datum",
    "is_metric",
    "offset_datum",
    "parse_crs",
    "pick_metric_crs",
    "to_metric",
]

CRSLike = pyproj.CRS | str | int

_FIX = "name the CRS the coordinates are in, e.g. EPSG:4326 for longitude/latitude degrees"
# Degrees of slack around a CRS's area of use: data near a zone's edge is often kept in
# the neighbouring zone, and areas of use are drawn around land, not around every pier.
AREA_MARGIN_DEGREES = 2.0


# The obfuscated longitude/latitude of Chinese web maps, which no EPSG code describes:
# GCJ-02 (Amap/Gaode, Tencent, Google and Apple maps in mainland China) and BD-09 (Baidu).
OFFSET_DATUMS = {"GCJ02": "GCJ-02", "BD09": "BD-09"}
# Decimals of the converted degrees: 1e-7° is about 1 cm, the inverse's accuracy; finer
# digits are noise (geocoders give 6 decimals), and the plan should not depend on them.
OFFSET_DECIMALS = 7


def offset_datum(crs: CRSLike | None) -> str | None:
    """``"GCJ02"`` or ``"BD09"`` when ``crs`` names one of China's offset datums, else ``None``.

    Spelling is free: ``GCJ02``, ``gcj-02``, ``BD09``, ``bd_09`` all count.

    Examples
    --------
    >>> offset_datum("gcj-02"), offset_datum("BD09"), offset_datum("EPSG:4326")
    ('GCJ02', 'BD09', None)
    """
    if not isinstance(crs, str):
        return None
    key = "".join(ch for ch in crs.upper() if ch.isalnum())
    return key if key in OFFSET_DATUMS else None


def from_offset_datum(geoms: np.ndarray, datum: str) -> tuple[np.ndarray, int]:
    """Geometries in GCJ-02 or BD-09 longitude/latitude, converted to WGS 84 (EPSG:4326).

    Both datums are a published forward formula from WGS 84 with no closed inverse; the
    inverse is the fixed-point iteration of ``prcoords`` (``gcj_wgs_bored``, and
    ``bd_gcj_bored`` before it for BD-09), which lands within 5 mm of the WGS 84 point
    whose forward transform gives the input; the result is rounded to 7 decimals (about
    1 cm), so 6-decimal WGS 84 coordinates sent through a geocoder's offset come back
    exactly. Coordinates outside the box where the
    offsets apply (``prcoords.sanity_in_china_p``; the geocoders leave them unshifted
    there) are kept as they are.

    Parameters
    ----------
    geoms
        Geometries whose x is longitude and y latitude in ``datum``.
    datum
        ``"GCJ02"`` or ``"BD09"`` (see :func:`offset_datum`).

    Returns
    -------
    (numpy.ndarray, int)
        The converted geometries and how many coordinates lay outside the box and were kept.

    Examples
    --------
    >>> import prcoords
    >>> lat, lon = prcoords.wgs_gcj((25.0330, 121.5654))  # Taipei 101, as Amap gives it
    >>> (back,), _ = from_offset_datum(np.array([shapely.Point(lon, lat)]), "GCJ02")
    >>> round(back.x, 6), round(back.y, 6)
    (121.5654, 25.033)
    """
    import prcoords

    if datum not in OFFSET_DATUMS:
        raise ValueError(f"unknown offset datum {datum!r}; expected one of {sorted(OFFSET_DATUMS)}")
    kept = 0

    def convert(xy: np.ndarray) -> np.ndarray:
        nonlocal kept
        out = np.array(xy, dtype=float, copy=True)
        for row, (lon, lat) in enumerate(out):
            if not (np.isfinite(lon) and np.isfinite(lat)) or not prcoords.sanity_in_china_p(prcoords.Coords(lat, lon)):
                kept += 1
                continue
            gcj = (lat, lon) if datum == "GCJ02" else prcoords.bd_gcj_bored((lat, lon), False)
            wgs = prcoords.gcj_wgs_bored(gcj, False)
            out[row] = (round(wgs.lon, OFFSET_DECIMALS), round(wgs.lat, OFFSET_DECIMALS))
        return out

    converted = shapely.transform(np.asarray(geoms, dtype=object), convert)
    return converted, kept


def parse_crs(crs: CRSLike, *, file: str | Path | None = None) -> pyproj.CRS:
    """Turn a user's CRS (``"EPSG:3826"``, ``3826``, WKT, a ``pyproj.CRS``) into a ``pyproj.CRS``.

    Parameters
    ----------
    crs
        Anything ``pyproj.CRS.from_user_input`` accepts.
    file
        The file the CRS is meant for, named in the error.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    MissingCRSError
        When pyproj does not know the CRS.

    Examples
    --------
    >>> parse_crs("EPSG:3826").to_epsg()
    3826
    """
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise MissingCRSError(
            f"CRS {crs!r} is not one pyproj knows ({exc}); give e.g. EPSG:4326 for longitude/latitude "
            "degrees or EPSG:3826 for TWD97 / TM2 metres",
            file=file,
        ) from None


def is_metric(crs: pyproj.CRS) -> bool:
    """Whether ``crs`` is projected with both axes in metres.

    Examples
    --------
    >>> is_metric(pyproj.CRS("EPSG:32651")), is_metric(pyproj.CRS("EPSG:4326"))
    (True, False)
    """
    return bool(crs.is_projected) and all(
        axis.unit_conversion_factor == 1.0 and axis.unit_name in {"metre", "meter"} for axis in crs.axis_info
    )


def ensure_crs(
    frame: gpd.GeoDataFrame,
    *,
    file: str | Path = "<frame>",
    crs: CRSLike | None = None,
    id_field: str | None = None,
) -> gpd.GeoDataFrame:
    """Return ``frame`` with a CRS that can be right, refusing data without one.

    Parameters
    ----------
    frame
        The data as read.
    file
        Named in errors.
    crs
        The CRS the coordinates are in. Assigned when the data has none, and replaces
        (relabels, without transforming) the one the file declares.
    id_field
        Column whose values name offending features in errors.

    Returns
    -------
    GeoDataFrame
        A new frame with ``crs`` set.

    Raises
    ------
    MissingCRSError
        When neither the data nor ``crs`` gives a CRS; when a geographic CRS labels
        coordinates beyond ±180° longitude / ±90° latitude, or labels coordinates that
        fit its area of use only with longitude and latitude swapped; when a projected
        CRS labels coordinates that all lie within ±180/±90 (degrees, not metres).

    See Also
    --------
    area_of_use_notes : the softer check, data outside the area its CRS is meant for.

    Examples
    --------
    >>> frame = gpd.GeoDataFrame(geometry=[shapely.Point(121.5, 25.0)])
    >>> ensure_crs(frame, crs="EPSG:4326").crs.to_epsg()
    4326
    """
    if crs is not None:
        frame = frame.set_crs(parse_crs(crs, file=file), allow_override=True)
    elif frame.crs is None:
        raise MissingCRSError(
            f"the data has no coordinate reference system (CRS); {_FIX}", file=file, option="input_crs"
        )
    else:
        frame = frame.copy()
    if frame.crs.is_geographic:
        _check_degrees(frame, file=file, id_field=id_field)
        _check_swapped_in_area(frame, file=file, id_field=id_field)
    elif frame.crs.is_projected:
        _check_projected_not_degrees(frame, file=file, id_field=id_field)
    return frame


def area_of_use_notes(frame: gpd.GeoDataFrame, *, file: str | Path = "<frame>") -> list[str]:
    """Notes (not errors) when the data lies outside the area its CRS is meant for.

    A CRS's area of use (from the EPSG database) says where it is accurate; data far from
    it usually carries the wrong CRS label (TWD97 metres labelled UTM, Web Mercator
    labelled as a national grid). Such data is still readable, so this only warns;
    :func:`ensure_crs` refuses the cases that cannot be right.

    Parameters
    ----------
    frame
        Data with a CRS.
    file
        Named in the note.

    Returns
    -------
    list of str
        One note, or none.

    Examples
    --------
    >>> taipei = gpd.GeoDataFrame(geometry=[shapely.Point(121.5, 25.0)], crs="EPSG:4326")
    >>> area_of_use_notes(taipei.to_crs(3826))
    []
    >>> area_of_use_notes(taipei.to_crs(3857).set_crs(3826, allow_override=True))  # doctest: +ELLIPSIS
    ["file '<frame>': the data lies outside the area of use of EPSG:3826 ..."]
    """
    crs = frame.crs
    area = None if crs is None else crs.area_of_use
    if area is None or _is_world(area.bounds) or len(frame) == 0:
        return []
    box = _lonlat_bounds(frame)
    if box is not None and _inside(box, area.bounds):
        return []
    seen = (
        "cannot be placed on the globe"
        if box is None
        else f"spans longitude {box[0]:.4g}..{box[2]:.4g}, latitude {box[1]:.4g}..{box[3]:.4g}"
    )
    return [
        f"file {str(file)!r}: the data lies outside the area of use of {crs.to_string()} ({_area_name(area)}; "
        f"longitude {area.west:.4g}..{area.east:.4g}, latitude {area.south:.4g}..{area.north:.4g}): read in that "
        f"CRS it {seen}. Check the CRS the file declares; {_FIX}"
    ]


def _area_name(area: pyproj.aoi.AreaOfUse) -> str:
    """The area's name without the list of countries some carry after a colon."""
    name = area.name.split(":")[0].strip().rstrip(".")
    return name if len(name) <= 90 else name[:89] + "…"


def _is_world(bounds: tuple[float, float, float, float]) -> bool:
    west, south, east, north = bounds
    return east - west >= 359 and north - south >= 170


def _inside(box: tuple[float, float, float, float], bounds: tuple[float, float, float, float]) -> bool:
    """Whether ``box`` lies within ``bounds`` grown by the margin."""
    west, south, east, north = bounds
    if west > east:  # an area across the antimeridian (Fiji, the Chukchi Sea): not judged
        return True
    m = AREA_MARGIN_DEGREES
    return box[0] >= west - m and box[2] <= east + m and box[1] >= south - m and box[3] <= north + m


def _lonlat_bounds(frame: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """The data's bounds in longitude/latitude of its own datum, or None when they cannot be computed."""
    minx, miny, maxx, maxy = frame.total_bounds
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        return None
    crs = frame.crs
    if crs.is_geographic:
        return float(minx), float(miny), float(maxx), float(maxy)
    try:
        to_lonlat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
        box = to_lonlat.transform_bounds(minx, miny, maxx, maxy, errcheck=True)
    except (pyproj.exceptions.ProjError, pyproj.exceptions.CRSError):
        return None
    return tuple(float(v) for v in box) if np.isfinite(box).all() else None  # type: ignore[return-value]


def _check_swapped_in_area(frame: gpd.GeoDataFrame, *, file: str | Path, id_field: str | None) -> None:
    """Refuse lon/lat swapped where the CRS's area of use shows it (a regional geographic CRS).

    With a world-wide CRS such as EPSG:4326 a swap shows only when a value leaves the
    ±90° latitude range (:func:`_check_degrees`); a regional one (ETRS89, CGCS2000,
    TWD97) also tells where longitude and latitude must lie.
    """
    area = frame.crs.area_of_use
    if area is None or _is_world(area.bounds):
        return
    box = _lonlat_bounds(frame)
    if box is None or _inside(box, area.bounds):
        return
    swapped = (box[1], box[0], box[3], box[2])
    if not _inside(swapped, area.bounds):
        return  # elsewhere altogether: area_of_use_notes says so
    positions, ids = feature_positions(frame, np.ones(len(frame), dtype=bool), id_field)
    raise MissingCRSError(
        f"longitude and latitude look swapped: read as x=longitude, y=latitude the data spans longitude "
        f"{box[0]:.6g}..{box[2]:.6g}, latitude {box[1]:.6g}..{box[3]:.6g}, outside the area of use of "
        f"{frame.crs.to_string()} ({_area_name(area)}), but swapped it falls inside. Swap the longitude and "
        "latitude columns, or fix the file so that x is longitude and y latitude",
        file=file,
        index=positions,
        feature_id=ids,
    )


def _check_projected_not_degrees(frame: gpd.GeoDataFrame, *, file: str | Path, id_field: str | None) -> None:
    """Refuse longitude/latitude degrees labelled with a projected CRS.

    Projected CRSs put their false origin far from the land they cover, so real data
    whose every coordinate lies within ±180/±90 of it is degrees under the wrong label.
    """
    bounds = shapely.bounds(frame.geometry.values)
    finite = np.isfinite(bounds).all(axis=1)
    if not finite.any():
        return
    b = bounds[finite]
    if not ((np.abs(b[:, [0, 2]]) <= 180).all() and (np.abs(b[:, [1, 3]]) <= 90).all()):
        return
    positions, ids = feature_positions(frame, finite, id_field)
    sample = b[0]
    raise MissingCRSError(
        f"all {len(positions)} features have coordinates within ±180/±90 (e.g. x {sample[0]:.6g}, y "
        f"{sample[1]:.6g}) although the CRS {frame.crs.to_string()} is projected "
        f"({frame.crs.axis_info[0].unit_name}s); they look like longitude/latitude degrees labelled as a "
        "projected CRS. Name EPSG:4326 as their CRS if they are degrees, or fix the CRS the file declares",
        file=file,
        option="input_crs",
        index=positions,
        feature_id=ids,
    )


def _check_degrees(frame: gpd.GeoDataFrame, *, file: str | Path, id_field: str | None) -> None:
    """Refuse coordinates that cannot be longitude/latitude degrees."""
    bounds = shapely.bounds(frame.geometry.values)  # NaN rows (empty geometries) compare False
    xs, ys = bounds[:, [0, 2]], bounds[:, [1, 3]]
    with np.errstate(invalid="ignore"):
        bad = (np.abs(xs) > 180).any(axis=1) | (np.abs(ys) > 90).any(axis=1)
    if not bad.any():
        return
    positions = np.flatnonzero(bad)
    ids = frame[id_field].iloc[positions].tolist() if id_field in frame.columns else None
    sample = bounds[positions[0]]
    seen = f"(e.g. x {sample[0]:.6g}, y {sample[1]:.6g})"
    swapped = bool(np.nanmax(np.abs(xs)) <= 90 and np.nanmax(np.abs(ys)) <= 180)
    if swapped:
        hint = (
            "longitude and latitude look swapped: x must be longitude, y latitude; swap the longitude and "
            "latitude columns or fix the file"
        )
    else:
        hint = (
            f"coordinates look like metres labelled as degrees; {_FIX} in metres "
            "(e.g. EPSG:3826 for TWD97 / TM2, or the local UTM zone)"
        )
    lie = "1 feature lies" if len(positions) == 1 else f"{len(positions)} features lie"
    raise MissingCRSError(
        f"{lie} beyond ±180° longitude / ±90° latitude {seen} although the CRS "
        f"{frame.crs.to_string()} is geographic; {hint}",
        file=file,
        option=None if swapped else "input_crs",
        index=positions.tolist(),
        feature_id=ids,
    )


def pick_metric_crs(data: gpd.GeoDataFrame | gpd.GeoSeries, *, crs: CRSLike | None = None) -> pyproj.CRS:
    """The CRS to measure ``data`` in: the user's when given, else the local UTM zone.

    Parameters
    ----------
    data
        Frame or series with a CRS.
    crs
        The user's choice; must be projected with metre axes.

    Returns
    -------
    pyproj.CRS
        ``crs`` when given, else the WGS 84 UTM zone holding the centre of ``data``'s bounds.

    Raises
    ------
    MissingCRSError
        When ``crs`` is not projected in metres, or ``data`` has no CRS.
    GeometryError
        When ``data`` has no non-empty geometry to place a UTM zone.

    See Also
    --------
    to_metric : reproject with the picked CRS.

    Examples
    --------
    >>> taipei = gpd.GeoSeries([shapely.Point(121.5, 25.0)], crs="EPSG:4326")
    >>> pick_metric_crs(taipei).to_epsg()
    32651
    >>> pick_metric_crs(taipei, crs="EPSG:3826").to_epsg()
    3826
    """
    if crs is not None:
        chosen = parse_crs(crs)
        if not is_metric(chosen):
            kind = "geographic (degrees)" if chosen.is_geographic else "not in metres"
            raise MissingCRSError(
                f"CRS {chosen.to_string()} is {kind}, but distances and areas need a projected CRS in "
                "metres; give e.g. EPSG:3826 (TWD97 / TM2) or a UTM zone such as EPSG:32651, "
                "or leave it out to use the local UTM zone",
                option="working_crs",
            )
        return chosen
    if data.crs is None:
        raise MissingCRSError(f"the data has no coordinate reference system (CRS); {_FIX}", option="input_crs")
    lon, lat = _centre_lonlat(data)
    # the zone holding the centre of the bounds, as geopandas' estimate_utm_crs, without
    # reprojecting every geometry when the data is already projected
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(
            west_lon_degree=lon, south_lat_degree=lat, east_lon_degree=lon, north_lat_degree=lat
        ),
    )
    if not infos:
        raise MissingCRSError(
            f"no UTM zone covers longitude {lon:.6g}, latitude {lat:.6g}; name a projected CRS in metres",
            option="working_crs",
        )  # pragma: no cover - UTM covers the globe between 84°N and 80°S
    return pyproj.CRS.from_authority(infos[0].auth_name, infos[0].code)


def _centre_lonlat(data: gpd.GeoDataFrame | gpd.GeoSeries) -> tuple[float, float]:
    """Longitude and latitude of the centre of the data's bounds."""
    minx, miny, maxx, maxy = data.total_bounds
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        raise GeometryError("the data has no non-empty geometry to pick a UTM zone from; check the input")
    if not data.crs.is_geographic:
        to_lonlat = pyproj.Transformer.from_crs(data.crs, "EPSG:4326", always_xy=True)
        minx, miny, maxx, maxy = to_lonlat.transform_bounds(minx, miny, maxx, maxy)
    return (minx + maxx) / 2, (miny + maxy) / 2


def to_metric(frame: gpd.GeoDataFrame, crs: CRSLike | None = None) -> gpd.GeoDataFrame:
    """Reproject ``frame`` into ``crs`` or, without one, its local UTM zone (see `pick_metric_crs`).

    Examples
    --------
    >>> taipei = gpd.GeoDataFrame(geometry=[shapely.Point(121.5, 25.0)], crs="EPSG:4326")
    >>> to_metric(taipei).crs.to_epsg()
    32651
    """
    return frame.to_crs(pick_metric_crs(frame, crs=crs))
