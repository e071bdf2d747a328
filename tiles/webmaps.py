"""folium maps: plans, plan differences and incident heat maps, for notebooks and e-mail.

Every map here works without internet: :func:`offline` puts Leaflet (from the npm
vendor folder, ``api/static/vendor``) and folium's own heat-map plugin into the HTML as
``data:`` addresses instead of CDN links, and leaves out the libraries these maps do not
use (jQuery, Bootstrap, Font Awesome, awesome-markers). Only the basemap's tiles need a
network; without one the grids still draw on a blank background.
"""

from __future__ import annotations

import base64
import html
import json
import re
from functools import cache
from importlib import resources
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from folium.utilities import JsCode

from gis.columns import GRID_CODE, HOUSEHOLDS, POLSBY_POPPER, POPULATION, REASON, STATUS
from gis.errors import InputError

__all__ = ["CHANGE_COLORS", "STATUS_COLORS", "WebAssetsMissingError", "diff_map", "heat_map", "offline", "plan_map"]

# the npm packages `bash scripts/setup.sh` installs for the web maps
NODE_MODULES = Path(__file__).resolve().parents[1] / "api" / "static" / "vendor" / "node_modules"
# folium's resource names, and the installed file each is read from
_SCRIPTS = {
    "leaflet": ("leaflet", "dist/leaflet.js"),
    "leaflet-heat.js": ("folium", "templates/leaflet_heat.min.js"),
}
_STYLES = {"leaflet_css": ("leaflet", "dist/leaflet.css")}
# folium's defaults for features these maps do not use (markers with icons, popovers)
_UNUSED = {
    "jquery",
    "bootstrap",
    "bootstrap_css",
    "glyphicons_css",
    "awesome_markers",
    "awesome_markers_css",
    "awesome_markers_font_css",
    "awesome_rotate_css",
}


class WebAssetsMissingError(RuntimeError):
    """Leaflet is not installed in the vendor folder (``bash scripts/setup.sh`` installs it)."""


def _asset(package: str, path: str) -> bytes:
    if package == "folium":
        return resources.files("folium").joinpath(path).read_bytes()
    file = NODE_MODULES / package / path
    if not file.is_file():
        raise WebAssetsMissingError(
            f"{file} is missing; run `bash scripts/setup.sh` (it runs `npm ci` in api/static/vendor)"
        )
    return file.read_bytes()


def _data_uri(body: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(body).decode()}"


@cache
def _script(name: str) -> str:
    return _data_uri(_asset(*_SCRIPTS[name]), "text/javascript")


@cache
def _style(name: str) -> str:
    package, path = _STYLES[name]
    css = _asset(package, path).decode()
    folder = path.rsplit("/", 1)[0]

    # images the stylesheet names (Leaflet's layer and marker icons) go in with it
    def inline(found: re.Match) -> str:
        image = found.group(1)
        mime = "image/svg+xml" if image.endswith(".svg") else "image/png"
        return f"url({_data_uri(_asset(package, f'{folder}/{image}'), mime)})"

    css = re.sub(r"url\((images/[\w.-]+)\)", inline, css)
    return _data_uri(css.encode(), "text/css")


def _elements(root: Element):
    yield root
    for child in root._children.values():
        yield from _elements(child)


def offline(m: folium.Map) -> folium.Map:
    """``m`` with every script and stylesheet it links inlined from installed packages (changed in place).

    Raises
    ------
    WebAssetsMissingError
        When Leaflet is not installed in the vendor folder.
    RuntimeError
        When ``m`` uses a folium feature whose resources have no installed copy here.
    """
    for element in _elements(m.get_root()):
        for attr, local, make in (("default_js", _SCRIPTS, _script), ("default_css", _STYLES, _style)):
            links = getattr(element, attr, None)
            if not links:
                continue
            unknown = [name for name, _ in links if name not in local and name not in _UNUSED]
            if unknown:
                raise RuntimeError(f"no installed copy of {', '.join(unknown)} for an offline folium map")
            setattr(element, attr, [(name, make(name)) for name, _ in links if name in local])
    return m


_SWATCH = "display:inline-block;width:12px;height:12px;margin-right:4px;"
STATUS_COLORS = {"ok": "#7fc97f", "out_of_range": "#fdc086", "oversized_unit": "#f0027f"}
CHANGE_COLORS = {"kept": "#d9d9d9", "changed": "#fd8d3c", "added": "#e31a1c"}


def _legend(m: folium.Map, colours: dict[str, str]) -> None:
    legend = "".join(f'<div><span style="{_SWATCH}background:{c}"></span>{s}</div>' for s, c in colours.items())
    m.get_root().html.add_child(
        folium.Element(
            '<div style="position:fixed;bottom:20px;left:20px;z-index:9999;background:white;padding:6px 8px;'
            f'border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px sans-serif">{legend}</div>'
        )
    )


def diff_map(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, *, changed: set[str], added: set[str]) -> folium.Map:
    """A folium map of a plan change: the new grids coloured kept / changed / added, the old outlines dashed.

    Parameters
    ----------
    old, new
        Grids of the two plans (any CRS), with ``code``.
    changed, added
        Codes of the new plan's grids that changed or are new (see ``gis.plans.edits.diff_plans``).
    """
    g = new.to_crs(4326).copy()
    g["change"] = ["added" if c in added else "changed" if c in changed else "kept" for c in g[GRID_CODE]]
    fields = [c for c in (GRID_CODE, "change", HOUSEHOLDS, POPULATION, STATUS) if c in g]
    minx, miny, maxx, maxy = g.total_bounds
    m = folium.Map(tiles="OpenStreetMap", control_scale=True)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.GeoJson(
        _as_text(g[[*fields, "geometry"]]),
        name="new plan",
        style_function=lambda f: {
            "fillColor": CHANGE_COLORS[f["properties"]["change"]],
            "color": "#333333",
            "weight": 1,
            "fillOpacity": 0.6,
        },
        tooltip=folium.GeoJsonTooltip(fields=fields, sticky=True),
    ).add_to(m)
    folium.GeoJson(
        old.to_crs(4326)[[GRID_CODE, "geometry"]],
        name="old plan",
        style_function=lambda f: {"fill": False, "color": "#08519c", "weight": 2, "dashArray": "6 4"},
    ).add_to(m)
    _legend(m, {**CHANGE_COLORS, "old outline": "#08519c"})
    folium.LayerControl().add_to(m)
    return offline(m)


def plan_map(grids: gpd.GeoDataFrame, *, title: str | None = None) -> folium.Map:
    """A folium map of grids coloured by status, with a tooltip of the numbers.

    Parameters
    ----------
    grids
        Grids with ``code``, ``households``, ``population``, ``status`` (any CRS).
    title
        Shown as the layer name.
    """
    g = grids.to_crs(4326)
    fields = [c for c in (GRID_CODE, "community", HOUSEHOLDS, POPULATION, STATUS, POLSBY_POPPER, REASON) if c in g]
    m = folium.Map(tiles="OpenStreetMap", control_scale=True)
    if g.geometry.notna().any():  # an empty plan has no bounds to fit (NaN would stop the page's script)
        minx, miny, maxx, maxy = g.total_bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    layer = _Layer(
        _features(g, fields),
        name=title or "grids",
        style=JsCode(
            f"function (feature) {{ const fill = {json.dumps(STATUS_COLORS)}[feature.properties.{STATUS}];"
            ' return {fillColor: fill || "#cccccc", color: "#333333", weight: 1, fillOpacity: 0.6}; }'
        ),
        tooltip=folium.GeoJsonTooltip(fields=fields, sticky=True) if len(g) else None,
    )
    layer.on_each_feature = JsCode(
        "function (feature, layer) { layer.on({"
        " mouseover: function (e) { e.target.setStyle({weight: 3, fillOpacity: 0.85}); },"
        f" mouseout: function (e) {{ {layer.get_name()}.resetStyle(e.target); }} }}); }}"
    )
    layer.add_to(m)
    _legend(m, STATUS_COLORS)
    folium.LayerControl().add_to(m)
    return offline(m)


class _Layer(folium.GeoJson):
    """folium's GeoJson layer given its features as ready GeoJSON texts.

    folium puts a layer's data into its script, and branca then compiles that script as a
    template: a city's 2,400 grids (4 MB) took half a second of lexing. This layer starts
    with the first feature (the tooltip checks its fields against it) and adds the rest in a
    script of its own, written as it is, right after the layer's.
    """

    def __init__(self, features: list[str], **kwargs) -> None:
        super().__init__({"type": "FeatureCollection", "features": [json.loads(f) for f in features[:1]]}, **kwargs)
        self.rest = features[1:]

    def render(self, **kwargs) -> None:
        super().render(**kwargs)
        if self.rest:
            text = f"{self.get_name()}.addData([{','.join(self.rest)}]);"
            self.get_root().script.add_child(_Verbatim(text), name=f"{self.get_name()}_rest")


class _Verbatim(Element):
    """Text that goes into the page as it is, not compiled as a template first."""

    def __init__(self, text: str) -> None:
        super().__init__("")
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


# characters that could end a <script> early or open markup; JSON text may carry them only inside strings
_HTML_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"})


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text columns escaped as HTML: folium's tooltip puts each value into the page as
    markup, and codes and names come from files people hand in."""
    out = frame.copy()
    for col in out.columns:
        if col != getattr(out, "_geometry_column_name", None) and not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(lambda v: None if pd.isna(v) else html.escape(str(v)))
    return out


def _features(g: gpd.GeoDataFrame, fields: list[str]) -> list[str]:
    """Each row as a GeoJSON feature's text, safe inside a ``<script>`` (a city's grids in a tenth of a second)."""
    if len(g) == 0:
        return []
    values = _as_text(g[fields])
    # one record a line; U+2028 and its kind stay raw in the text, so no splitlines()
    props = values.to_json(orient="records", lines=True, force_ascii=False).rstrip("\n").split("\n")
    shapes = shapely.to_geojson(np.asarray(g.geometry.values))
    return [
        f'{{"type":"Feature","properties":{p},"geometry":{"null" if s is None else s}}}'.translate(_HTML_UNSAFE)
        for p, s in zip(props, shapes, strict=True)
    ]


def heat_map(lon: np.ndarray, lat: np.ndarray, *, radius: int = 12, cell_deg: float = 0.0005) -> folium.Map:
    """A folium heat map of points, for export as one HTML file (``.save(path)``).

    Points are first summed in cells of ``cell_deg`` degrees (about 50 m), so a million
    incidents make a file of at most a few megabytes; each cell weighs its count.

    Raises
    ------
    InputError
        When there are no points.
    """
    from folium.plugins import HeatMap

    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if lon.size == 0:
        raise InputError("no incidents match: there is nothing to draw; widen the time window or the category")
    cells = np.round(np.c_[lat, lon] / cell_deg).astype(np.int64)
    unique, counts = np.unique(cells, axis=0, return_counts=True)
    centres = unique * cell_deg
    weights = counts / counts.max()
    heat = folium.Map(location=[float(np.median(lat)), float(np.median(lon))], zoom_start=12, tiles="OpenStreetMap")
    HeatMap(np.c_[centres, weights].tolist(), radius=radius, min_opacity=0.3).add_to(heat)
    heat.fit_bounds([[float(lat.min()), float(lon.min())], [float(lat.max()), float(lon.max())]])
    return offline(heat)
