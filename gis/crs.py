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

from gis.errors import GeometryError, MissingCRSError

__all__ = ["ensure_crs", "is_metric", "parse_crs", "pick_metric_crs", "to_metric"]

CRSLike = pyproj.CRS | str | int

_FIX = "pass --crs EPSG:xxxx (crs='EPSG:xxxx') naming the CRS the coordinates are in"


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
            f"CRS {crs!r} is not one pyproj knows ({exc}); pass e.g. --crs EPSG:4326 for longitude/latitude "
            "degrees or --crs EPSG:3826 for TWD97 / TM2 metres",
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
        When neither the data nor ``crs`` gives a CRS, or when a geographic CRS labels
        coordinates beyond ±180° longitude / ±90° latitude.

    Examples
    --------
    >>> frame = gpd.GeoDataFrame(geometry=[shapely.Point(121.5, 25.0)])
    >>> ensure_crs(frame, crs="EPSG:4326").crs.to_epsg()
    4326
    """
    if crs is not None:
        frame = frame.set_crs(parse_crs(crs, file=file), allow_override=True)
    elif frame.crs is None:
        raise MissingCRSError(f"the data has no coordinate reference system (CRS); {_FIX}", file=file)
    else:
        frame = frame.copy()
    if frame.crs.is_geographic:
        _check_degrees(frame, file=file, id_field=id_field)
    return frame


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
            "longitude and latitude look swapped: x must be longitude, y latitude; swap the columns "
            "(--lon/--lat) or fix the file"
        )
    else:
        hint = (
            f"coordinates look like metres labelled as degrees; {_FIX} in metres "
            "(e.g. EPSG:3826 for TWD97 / TM2, or the local UTM zone)"
        )
    raise MissingCRSError(
        f"{len(positions)} features lie beyond ±180° longitude / ±90° latitude {seen} although the CRS "
        f"{frame.crs.to_string()} is geographic; {hint}",
        file=file,
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
                "metres; pass e.g. --crs EPSG:3826 (TWD97 / TM2) or a UTM zone such as EPSG:32651, "
                "or leave it out to use the local UTM zone"
            )
        return chosen
    if data.crs is None:
        raise MissingCRSError(f"the data has no coordinate reference system (CRS); {_FIX}")
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
            f"no UTM zone covers longitude {lon:.6g}, latitude {lat:.6g}; {_FIX} in metres"
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
