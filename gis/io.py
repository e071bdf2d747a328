"""Read input files into validated frames with commgrid's column names.

Vector formats go through pyogrio (GeoPackage, GeoJSON, Shapefile, FlatGeobuf and anything
else GDAL reads); CSV (lon/lat or WKT columns) through pandas; GeoParquet through geopandas.
Readers map the user's field names onto `gis.columns`, check the data with `gis.validate`
and report what they changed (repairs, dropped Z, zeroed counts) instead of printing it.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from shapely.geometry.base import BaseGeometry

from gis import columns as col
from gis.crs import OFFSET_DATUMS, CRSLike, area_of_use_notes, ensure_crs, from_offset_datum, offset_datum, parse_crs
from gis.errors import FormatError, GeometryError, InputError, MissingCRSError
from gis.validate import (
    LINE_TYPES,
    POINT_TYPES,
    POLYGON_TYPES,
    drop_z,
    validate_admin_codes,
    validate_counts,
    validate_geometries,
    validate_geometry_types,
    validate_unique_ids,
    validate_vertex_counts,
    validate_within,
    warn_population_below_households,
)

__all__ = [
    "LoadReport",
    "LoadedUnits",
    "read_barriers",
    "read_boundary",
    "read_communities",
    "read_units",
    "read_vector",
]

logger = logging.getLogger(__name__)

SUPPORTED_FORMATS = (
    "GeoPackage (.gpkg), GeoJSON (.geojson, .json), Shapefile (.shp with its .shx and .dbf), "
    "FlatGeobuf (.fgb), GeoParquet (.parquet), CSV (.csv, .tsv) with lon/lat or WKT columns, "
    "or another vector format GDAL reads"
)
_OGR_NAMES = {
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "Shapefile",
    ".fgb": "FlatGeobuf",
    ".gml": "GML",
    ".kml": "KML",
}
_CSV_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_PARQUET_SUFFIXES = frozenset({".parquet", ".geoparquet", ".pq"})
_POINT_COLUMNS = (("lon", "lat"), ("lng", "lat"), ("longitude", "latitude"), ("x", "y"))
_WKT_COLUMNS = ("wkt", "geometry", "geom")
_OGR_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
)


@dataclass(frozen=True)
class LoadReport:
    """What a reader did to the data, for the user to see.

    Attributes
    ----------
    file
        The file read.
    n_features
        Features loaded.
    n_repaired
        Invalid geometries repaired with ``shapely.make_valid``.
    n_dropped_z
        Features whose Z coordinates were dropped.
    n_blank_counts_zeroed
        Features whose blank counts were set to 0 (``missing_counts="zero"``).
    crs
        The data's CRS, e.g. ``"EPSG:4326"``.
    warnings
        Things worth checking that did not stop loading.
    """

    file: str
    n_features: int
    n_repaired: int = 0
    n_dropped_z: int = 0
    n_blank_counts_zeroed: int = 0
    crs: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LoadedUnits:
    """Units with normalised columns and the report of how they were loaded.

    Attributes
    ----------
    frame
        ``unit_id``, ``households``, ``population`` (``int64``), the optional ``compound``,
        ``building``, ``community`` and ``geometry``, in the file's CRS.
    report
        See `LoadReport`.
    """

    frame: gpd.GeoDataFrame
    report: LoadReport


def read_vector(
    path: str | Path,
    *,
    layer: str | int | None = None,
    crs: CRSLike | None = None,
    lon: str | None = None,
    lat: str | None = None,
    wkt: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector file of any supported format into a GeoDataFrame with a CRS.

    The format follows the extension (and the content for Parquet); CSV needs coordinate
    columns, found among common names (lon/lat, lng/lat, longitude/latitude, x/y, wkt,
    geometry) when not given.

    Parameters
    ----------
    path
        The file.
    layer
        Layer name or index, for files with several layers (GeoPackage).
    crs
        The CRS the coordinates are in: required when the file has none (CSV, a shapefile
        without .prj); replaces the file's own otherwise (relabels, does not transform).
        ``"GCJ02"`` (Amap/Gaode, Tencent) or ``"BD09"`` (Baidu) name the offset
        longitude/latitude of Chinese web maps and geocoders: the coordinates are
        converted to WGS 84 (EPSG:4326) to within a centimetre, and the notes say so.
    lon, lat
        CSV columns holding x/longitude and y/latitude.
    wkt
        CSV column holding WKT geometries.

    Returns
    -------
    GeoDataFrame
        Indexed 0..n-1 in file order, geometry column ``geometry``.

    Raises
    ------
    FormatError
        Missing, empty, truncated or unreadable files, shapefiles without .shx/.dbf,
        unknown formats, ambiguous layers, CSV without coordinate columns.
    MissingCRSError
        No CRS, or coordinates impossible for a geographic CRS.
    GeometryError
        CSV coordinates or WKT that do not parse.
    InputError
        Named columns that do not exist.

    See Also
    --------
    read_units, read_communities, read_barriers, read_boundary : readers that also validate.

    Examples
    --------
    >>> frame = read_vector("districts.gpkg", layer="taipei")  # doctest: +SKIP
    """
    return _read(_Source(Path(path), layer, crs, lon, lat, wkt))[0]


def read_units(
    path: str | Path,
    *,
    id_field: str,
    households_field: str,
    population_field: str,
    compound_field: str | None = None,
    building_field: str | None = None,
    community_field: str | None = None,
    crs: CRSLike | None = None,
    missing_counts: Literal["error", "zero"] = "error",
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | str | Path | None = None,
    layer: str | int | None = None,
    lon: str | None = None,
    lat: str | None = None,
    wkt: str | None = None,
) -> LoadedUnits:
    """Read and validate units (small areas or address points) with household and resident counts.

    Parameters
    ----------
    path
        The file; any format `read_vector` reads.
    id_field, households_field, population_field
        Fields holding the unit id, households and residents.
    compound_field, building_field, community_field
        Optional fields: residential compound id (units never split), building id, and the
        id of the community the unit belongs to.
    crs
        See `read_vector`; ``"GCJ02"`` or ``"BD09"`` converts address points from Chinese
        geocoders to WGS 84.
    missing_counts
        ``"error"`` (default) refuses blank counts; ``"zero"`` counts them as 0, for
        unpopulated areas, and reports how many.
    boundary
        District boundary (frame, series, geometry or file); units whose representative
        point lies outside it (grown by 5 m) are refused.
    layer, lon, lat, wkt
        See `read_vector`.

    Returns
    -------
    LoadedUnits
        Frame with columns from `gis.columns` (counts ``int64``) and a `LoadReport`.

    Raises
    ------
    InputError
        Missing fields (listing those available and a close match) or blank ids, and the
        subclasses: `FormatError`, `MissingCRSError`, `DuplicateIdError`, `GeometryError`
        (missing, empty or line geometries), `CountError` (blank, text, fractional,
        negative), `OutsideBoundaryError`.

    Examples
    --------
    >>> loaded = read_units(
    ...     "taipei_min_stat_areas_2017.geojson", id_field="CODEBASE",
    ...     households_field="H_CNT", population_field="P_CNT", missing_counts="zero",
    ... )  # doctest: +SKIP
    >>> loaded.report.n_blank_counts_zeroed  # doctest: +SKIP
    630
    """
    file = str(path)
    frame, notes = _read(_Source(Path(path), layer, crs, lon, lat, wkt), id_field=id_field)
    roles = {
        col.UNIT_ID: id_field,
        col.HOUSEHOLDS: households_field,
        col.POPULATION: population_field,
        col.COMPOUND: compound_field,
        col.BUILDING: building_field,
        col.COMMUNITY: community_field,
    }
    roles = _check_fields(frame, roles, file=file)
    validate_unique_ids(frame, id_field=id_field, file=file)
    frame, n_dropped_z = drop_z(frame)
    read, (frame, n_repaired) = frame, validate_geometries(frame, file=file, id_field=id_field)
    if n_repaired:
        notes = [*notes, _repair_note(read, file=file, id_field=id_field)]
    kinds = [POLYGON_TYPES, POINT_TYPES]
    validate_geometry_types(
        frame, allowed=kinds[0] | kinds[1], one_of=kinds, file=file, id_field=id_field, what="units"
    )
    frame, n_zeroed = validate_counts(
        frame,
        fields=[households_field, population_field],
        file=file,
        id_field=id_field,
        missing=missing_counts,
    )
    if boundary is not None:
        if isinstance(boundary, str | Path):
            boundary = read_boundary(boundary)
        validate_within(frame, boundary, file=file, id_field=id_field)
    warnings = notes + warn_population_below_households(
        frame, households=households_field, population=population_field, file=file, id_field=id_field
    )
    units = _normalised(frame, roles)
    report = LoadReport(
        file=file,
        n_features=len(units),
        n_repaired=n_repaired,
        n_dropped_z=n_dropped_z,
        n_blank_counts_zeroed=n_zeroed,
        crs=units.crs.to_string(),
        warnings=warnings,
    )
    return LoadedUnits(frame=units, report=report)


def read_communities(
    path: str | Path,
    *,
    id_field: str,
    name_field: str | None = None,
    code_field: str | None = None,
    crs: CRSLike | None = None,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read and validate communities, the polygons grids nest in.

    Parameters
    ----------
    path
        The file; any format `read_vector` reads.
    id_field
        Field holding the community id.
    name_field
        Field holding the name; ``name`` is ``None`` without it.
    code_field
        Field holding 12-digit administrative codes (6 county + 3 street + 3 community);
        ``admin_code`` is ``None`` without it or where blank.
    crs, layer
        See `read_vector`.

    Returns
    -------
    GeoDataFrame
        Columns ``community_id``, ``name``, ``admin_code``, ``geometry`` (polygons, repaired).

    Raises
    ------
    InputError
        Missing fields, blank ids, codes that are not 12 digits; and `FormatError`,
        `MissingCRSError`, `DuplicateIdError`, `GeometryError` (missing, empty or
        non-polygon geometries).

    Examples
    --------
    >>> villages = read_communities(
    ...     "taipei_villages.geojson", id_field="CPTVID", name_field="VNAME"
    ... )  # doctest: +SKIP
    """
    file = str(path)
    frame, _ = _read(_Source(Path(path), layer, crs), id_field=id_field)
    roles = {col.COMMUNITY_ID: id_field, col.COMMUNITY_NAME: name_field, col.ADMIN_CODE: code_field}
    roles = _check_fields(frame, roles, file=file)
    validate_unique_ids(frame, id_field=id_field, file=file)
    frame, _ = drop_z(frame)
    frame, _ = validate_geometries(frame, file=file, id_field=id_field)
    validate_geometry_types(frame, allowed=POLYGON_TYPES, file=file, id_field=id_field, what="communities")
    if code_field is not None:
        frame = frame.assign(
            **{code_field: validate_admin_codes(frame, field=code_field, file=file, id_field=id_field)}
        )
    communities = _normalised(frame, roles)
    for name in (col.COMMUNITY_NAME, col.ADMIN_CODE):
        if name not in communities.columns:
            communities.insert(len(communities.columns) - 1, name, np.full(len(communities), None, dtype=object))
    return communities


def read_barriers(
    path: str | Path,
    *,
    class_field: str | None = None,
    hard_classes: Collection[str] = col.HARD_BARRIER_CLASSES,
    crs: CRSLike | None = None,
    layer: str | int | None = None,
    name_field: str | None = None,
) -> gpd.GeoDataFrame:
    """Read barriers (roads, rivers, railways) as lines, marking those grids never cross.

    Polygons (rivers or lakes drawn as areas) become their boundary lines.

    Parameters
    ----------
    path
        The file; any format `read_vector` reads.
    class_field
        Field holding the barrier class (``"river"``, ``"motorway"``...). Without it every
        line is soft (a street: grids may cross it, and the crossings are counted and
        avoided): a road file cut into hard pieces at every street leaves grids nothing
        to grow across. Hard barriers are named classes only.
    hard_classes
        Classes that are hard barriers (never crossed), matched ignoring case and
        surrounding spaces.
    crs, layer
        See `read_vector`.
    name_field
        Field holding street or river names, kept as ``name`` for maps and posters.

    Returns
    -------
    GeoDataFrame
        Columns ``barrier_class`` (lower-case text or ``None``), ``hard`` (bool), ``geometry``
        (LineString or MultiLineString), and ``name`` with ``name_field``.

    Raises
    ------
    InputError
        A missing class field; and `FormatError`, `MissingCRSError`, `GeometryError`
        (missing, empty or point geometries).

    Examples
    --------
    >>> roads = read_barriers("roads.gpkg", class_field="highway")  # doctest: +SKIP
    """
    file = str(path)
    frame, _ = _read(_Source(Path(path), layer, crs))
    _check_fields(frame, {col.BARRIER_CLASS: class_field, "name": name_field}, file=file)
    frame, _ = drop_z(frame)
    frame, _ = validate_geometries(frame, file=file)
    geoms = np.array(frame.geometry.values, dtype=object)
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    geoms[polygonal] = shapely.boundary(geoms[polygonal])
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))
    validate_geometry_types(frame, allowed=LINE_TYPES, file=file, what="barriers")
    if class_field is None:
        classes = pd.Series(None, index=frame.index, dtype=object)
        hard = np.zeros(len(frame), dtype=bool)
    else:
        text = frame[class_field].astype("string").str.strip().str.lower()
        text = text.mask(text.eq(""))
        hard = text.isin({c.strip().lower() for c in hard_classes}).fillna(False).to_numpy(bool)
        classes = pd.Series(text.to_numpy(object, na_value=None), index=frame.index, dtype=object)
    columns = {col.BARRIER_CLASS: classes, col.HARD: hard}
    if name_field is not None:
        columns["name"] = frame[name_field].astype(object).where(frame[name_field].notna(), None).to_numpy()
    return gpd.GeoDataFrame(columns, geometry=frame.geometry.values, crs=frame.crs)


def read_boundary(
    path: str | Path,
    *,
    crs: CRSLike | None = None,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read a district boundary as one dissolved (multi)polygon.

    Every feature of the file is part of the district: pieces drawn apart (islands, exclaves)
    become parts of the one multipolygon.

    Parameters
    ----------
    path
        The file; any format `read_vector` reads, polygons only.
    crs, layer
        See `read_vector`.

    Returns
    -------
    GeoDataFrame
        One row, column ``geometry``.

    Raises
    ------
    FormatError, MissingCRSError, GeometryError
        As `read_vector`, and for missing, empty or non-polygon geometries.

    Examples
    --------
    >>> district = read_boundary("taipei_districts.geojson")  # doctest: +SKIP
    """
    file = str(path)
    frame, _ = _read(_Source(Path(path), layer, crs))
    frame, _ = drop_z(frame)
    frame, _ = validate_geometries(frame, file=file)
    validate_geometry_types(frame, allowed=POLYGON_TYPES, file=file, what="boundaries")
    return gpd.GeoDataFrame(geometry=[frame.geometry.union_all()], crs=frame.crs)


# reading


@dataclass(frozen=True)
class _Source:
    """A file and how to read its features: what every reader hands to `_read`.

    ``layer`` picks a layer of a GeoPackage; ``lon``/``lat`` or ``wkt`` name a CSV's
    coordinate columns; ``crs`` is the user's CRS for the coordinates (see `read_vector`).
    """

    path: Path
    layer: str | int | None = None
    crs: CRSLike | None = None
    lon: str | None = None
    lat: str | None = None
    wkt: str | None = None


def _read(source: _Source, *, id_field: str | None = None) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The file as a GeoDataFrame with a checked CRS, and notes for the report."""
    path, layer, crs = source.path, source.layer, source.crs
    _check_file(path)
    datum = offset_datum(crs)
    if datum is not None:
        crs = "EPSG:4326"  # read as degrees, then converted below
    suffix = path.suffix.lower()
    notes: list[str] = []
    is_csv = suffix in _CSV_SEPARATORS
    if not is_csv and (source.lon or source.lat or source.wkt):
        raise InputError(
            "lon=, lat= and wkt= name CSV columns, but this is not a CSV file (.csv, .tsv); leave them out",
            file=path,
        )
    if is_csv:
        _refuse_layer(path, layer, "CSV")
        frame, note = _read_csv(source, sep=_CSV_SEPARATORS[suffix], crs=crs)
        if note:
            notes.append(note)
    elif suffix in _PARQUET_SUFFIXES or _is_parquet(path):
        _refuse_layer(path, layer, "GeoParquet")
        frame = _read_parquet(path)
    else:
        frame = _read_ogr(path, layer=layer)
    if len(frame) == 0:
        raise FormatError(
            "the file has no features; give a file (or a layer of it) that has some", file=path, option="layer"
        )
    # before anything else looks at the shapes: a ten-million-vertex polygon must fail here, fast
    validate_vertex_counts(frame, file=path, id_field=id_field)
    if datum is not None and frame.crs is not None and not frame.crs.is_geographic:
        raise MissingCRSError(
            f"{OFFSET_DATUMS[datum]} coordinates are longitude/latitude degrees, but the file declares the "
            f"projected CRS {frame.crs.to_string()}; export the {OFFSET_DATUMS[datum]} longitude/latitude "
            "(e.g. as CSV), or leave out the CRS option if the file's own CRS is right",
            file=path,
        )
    if datum is None and crs is not None and frame.crs is not None and parse_crs(crs, file=path) != frame.crs:
        notes.append(
            f"file {str(path)!r} declares CRS {frame.crs.to_string()}; using {parse_crs(crs).to_string()} "
            "as given (coordinates relabelled, not transformed)"
        )
    if frame.crs is None and crs is None and suffix == ".shp":
        raise MissingCRSError(
            "the shapefile has no CRS (its .prj file is missing); copy the .prj next to it or name the CRS "
            "the coordinates are in",
            file=path,
            option="input_crs",
        )
    frame = ensure_crs(frame, file=path, crs=crs, id_field=id_field)
    if datum is not None:
        frame, note = _from_offset_datum(frame, datum, path)
        notes.append(note)
    notes += area_of_use_notes(frame, file=path)
    if frame.geometry.name != "geometry" and "geometry" not in frame.columns:
        frame = frame.rename_geometry("geometry")
    for note in notes:
        logger.info(note)
    return frame.reset_index(drop=True), notes


def _from_offset_datum(frame: gpd.GeoDataFrame, datum: str, path: Path) -> tuple[gpd.GeoDataFrame, str]:
    """The frame converted from GCJ-02 or BD-09 to WGS 84, and the note saying so."""
    geoms, kept = from_offset_datum(frame.geometry.values, datum)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs="EPSG:4326"))
    note = f"file {str(path)!r}: coordinates converted from {OFFSET_DATUMS[datum]} to WGS 84 (EPSG:4326)"
    if kept:
        note += f"; {kept} coordinate(s) outside mainland China's offset area were kept as they are"
    return frame, note


def _check_file(path: Path) -> None:
    """Refuse paths that cannot hold data before a driver gives a vaguer message."""
    if not path.exists():
        raise FormatError(f"no such file (looked in {path.resolve().parent}); check the path", file=path)
    if path.is_file() and path.stat().st_size == 0:
        raise FormatError("the file is empty (0 bytes); export or copy it again", file=path)
    if path.suffix.lower() == ".shp":
        for part, role in ((".shx", "index"), (".dbf", "attribute table")):
            if not any(path.with_suffix(s).exists() for s in (part, part.upper())):
                raise FormatError(
                    f"the shapefile is missing its {role} {path.with_suffix(part).name!r}; copy all its "
                    "files (.shp, .shx, .dbf, .prj) into the same folder, or send a GeoPackage instead",
                    file=path,
                )


def _is_parquet(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


def _refuse_layer(path: Path, layer: str | int | None, kind: str) -> None:
    if layer is not None:
        raise InputError(
            f"a {kind} file has a single layer, but layer {layer!r} was named; name none", file=path, option="layer"
        )


def _unreadable(path: Path, exc: Exception) -> FormatError:
    text = str(exc)
    if "too complex/large" in text:
        # GDAL refuses GeoJSON objects over 200 MB of text (OGR_GEOJSON_MAX_OBJ_SIZE) rather than run out of memory
        where = text.split(";")[1].split(":")[0].strip() if ";" in text else "somewhere"
        return FormatError(
            f"a feature is too large to read ({where}: over 200 MB of GeoJSON text, e.g. a polygon with "
            "millions of vertices); simplify it to about a metre (QGIS: Vector > Geometry Tools > Simplify; or "
            "`ogr2ogr -simplify 1 OUT IN`), or send a GeoPackage",
            file=path,
        )
    # GDAL's advice to prefix a driver name is for GDAL users, not ours
    text = text.split("; It might help")[0].replace(f"'{path}' ", "").rstrip(".")
    kind = _OGR_NAMES.get(path.suffix.lower())
    if kind is None:
        return FormatError(f"not in a format commgrid can read ({text}); supported: {SUPPORTED_FORMATS}", file=path)
    return FormatError(
        f"could not be read as {kind} ({text}); the file may be truncated or damaged: export or copy it "
        "again, or check it opens in QGIS",
        file=path,
    )


def _read_ogr(path: Path, *, layer: str | int | None) -> gpd.GeoDataFrame:
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except _OGR_ERRORS as exc:
        raise _unreadable(path, exc) from None
    if layer is None and len(layers) > 1:
        raise FormatError(
            f"the file has {len(layers)} layers {layers}; name the one to read",
            file=path,
            option="layer",
        )
    if isinstance(layer, str) and layer not in layers:
        close = difflib.get_close_matches(layer, layers, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise FormatError(f"no layer {layer!r}; the file's layers are {layers}{hint}", file=path)
    if isinstance(layer, int) and not 0 <= layer < len(layers):
        raise FormatError(f"no layer number {layer}; the file has layers 0..{len(layers) - 1}", file=path)
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, use_arrow=True)
    except _OGR_ERRORS as exc:
        raise _unreadable(path, exc) from None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise FormatError(
            "the layer has no geometry; pass a spatial layer, or a CSV with lon/lat or WKT columns", file=path
        )
    return frame


def _read_parquet(path: Path) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(path)
    except (ValueError, OSError) as exc:  # pyarrow's errors subclass these
        raise FormatError(
            f"could not be read as GeoParquet ({exc}); write it with GeoDataFrame.to_parquet (GeoParquet "
            "metadata), or send a CSV or GeoPackage",
            file=path,
        ) from None


def _read_csv(source: _Source, *, sep: str, crs: CRSLike | None) -> tuple[gpd.GeoDataFrame, str | None]:
    path = source.path
    try:
        # all text: ids keep leading zeros, counts are checked by validate_counts
        table = pd.read_csv(path, sep=sep, dtype=str, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError("the CSV is not UTF-8 text; save it again as UTF-8", file=path) from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise FormatError(f"could not be read as CSV ({exc}); check the file", file=path) from None
    names, note = _geometry_columns(list(table.columns), source)
    if crs is None:
        shown = "/".join(repr(n) for n in names)
        raise MissingCRSError(
            f"CSV files carry no coordinate reference system (CRS); name EPSG:4326 as their CRS "
            f"if {shown} hold longitude/latitude degrees, or the projected CRS they are in (e.g. EPSG:3826)",
            file=path,
            option="input_crs",
        )
    if len(names) == 1:
        geometry = _parse_wkt(table, names[0], file=path)
        table = table.drop(columns=names[0])
    else:
        geometry = _parse_points(table, *names, file=path)
    return gpd.GeoDataFrame(table, geometry=geometry), note


def _geometry_columns(columns: list[str], source: _Source) -> tuple[tuple[str, ...], str | None]:
    """The CSV's coordinate columns: given, or found among common names (with a note saying so)."""
    lon, lat, wkt, file = source.lon, source.lat, source.wkt, source.path
    if wkt is not None and (lon is not None or lat is not None):
        raise InputError("name either longitude/latitude columns or a WKT column, not both", file=file)
    if (lon is None) != (lat is None):
        raise InputError("name both the longitude and the latitude column, or a WKT column", file=file)
    given = (wkt,) if wkt is not None else (lon, lat) if lon is not None else None
    if given is not None:
        for name in given:
            if name not in columns:
                raise _missing_field(name, columns, role="coordinates", file=file)
        return given, None
    lowered = {c.strip().lower(): c for c in columns}
    found: list[tuple[str, ...]] = [
        tuple(lowered[n] for n in pair) for pair in _POINT_COLUMNS if all(n in lowered for n in pair)
    ]
    found += [(lowered[n],) for n in _WKT_COLUMNS if n in lowered]
    looked = ", ".join("/".join(p) for p in _POINT_COLUMNS) + ", " + ", ".join(_WKT_COLUMNS)
    if not found:
        raise FormatError(
            f"no coordinate columns found in the CSV (looked for {looked}; columns are {columns}); name "
            "the longitude and latitude columns, or a WKT column",
            file=file,
        )
    if len(found) > 1:
        shown = ", ".join("/".join(names) for names in found)
        raise FormatError(
            f"several sets of coordinate columns found ({shown}); pass lon= and lat= or wkt= to choose",
            file=file,
        )
    names = found[0]
    note = (
        f"file {str(file)!r}: geometry from CSV column(s) {'/'.join(repr(n) for n in names)} "
        "(found by name; pass lon=/lat= or wkt= to choose others)"
    )
    return names, note


def _parse_points(table: pd.DataFrame, lon: str, lat: str, *, file: Path) -> gpd.GeoSeries:
    """Points from text coordinates; blank coordinates give missing geometries."""
    xy = []
    for name in (lon, lat):
        text = table[name].str.strip()
        number = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        unparsed = np.isnan(number) & text.notna().to_numpy(bool) & text.ne("").fillna(False).to_numpy(bool)
        unparsed |= np.isinf(number)  # "inf" parses, but is no place
        if unparsed.any():
            positions = np.flatnonzero(unparsed).tolist()
            raise GeometryError(
                f"{len(positions)} rows have coordinates that are not numbers "
                f"{table[name].iloc[positions[:10]].tolist()}; correct them in the file",
                file=file,
                index=positions,
                field=name,
            )
        xy.append(number)
    missing = np.isnan(xy[0]) | np.isnan(xy[1])
    points = shapely.points(xy[0], xy[1])
    points[missing] = None
    return gpd.GeoSeries(points, index=table.index)


def _parse_wkt(table: pd.DataFrame, name: str, *, file: Path) -> gpd.GeoSeries:
    """Geometries from WKT text; blank cells give missing geometries."""
    text = table[name].str.strip()
    text = text.mask(text.eq(""))
    geoms = shapely.from_wkt(text.to_numpy(object, na_value=None), on_invalid="ignore")
    unparsed = shapely.is_missing(geoms) & text.notna().to_numpy(bool)
    if unparsed.any():
        positions = np.flatnonzero(unparsed).tolist()
        shown = [str(v)[:40] for v in table[name].iloc[positions[:3]]]
        raise GeometryError(
            f"{len(positions)} rows hold text that is not WKT {shown}; expected e.g. 'POINT (121.5 25.0)'. "
            "Correct them in the file",
            file=file,
            index=positions,
            field=name,
        )
    return gpd.GeoSeries(geoms, index=table.index)


# field mapping


def _check_fields(frame: gpd.GeoDataFrame, roles: Mapping[str, str | None], *, file: str) -> dict[str, str]:
    """The roles given a field, after checking each field exists."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    chosen = {role: name for role, name in roles.items() if name is not None}
    for role, name in chosen.items():
        if name not in columns:
            raise _missing_field(name, columns, role=role, file=file)
    return chosen


def _missing_field(name: str, columns: list[str], *, role: str, file: str | Path) -> InputError:
    lowered = {str(c).lower(): c for c in columns}
    close = difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.6)
    hint = f"; did you mean {lowered[close[0]]!r}?" if close else ""
    available = ", ".join(repr(c) for c in columns) or "none"
    return InputError(f"no such field (wanted for {role}); available fields: {available}{hint}", file=file, field=name)


def _repair_note(read: gpd.GeoDataFrame, *, file: str, id_field: str | None) -> str:
    """Which features were invalid (self-intersecting, badly nested rings) and were repaired."""
    invalid = ~shapely.is_valid(read.geometry.values)
    positions = np.flatnonzero(invalid).tolist()
    ids = read[id_field].iloc[positions].tolist() if id_field in read.columns else None
    n = len(positions)
    # built as an error to reuse its where-prefix, never raised
    note = GeometryError(
        f"{'1 feature has' if n == 1 else f'{n} features have'} an invalid geometry (e.g. a self-intersecting "
        "ring), repaired with make_valid keeping its polygonal parts; check these features on the map",
        file=file,
        index=positions,
        feature_id=ids,
    )
    return str(note)


def _normalised(frame: gpd.GeoDataFrame, roles: Mapping[str, str]) -> gpd.GeoDataFrame:
    """A new frame holding only the mapped fields under commgrid's names, and the geometry."""
    data = {role: frame[name] for role, name in roles.items()}
    return gpd.GeoDataFrame(data, geometry=frame.geometry.values, crs=frame.crs)
