"""folium exports of plans, for notebooks and e-mail.

These HTML files load Leaflet from a CDN when opened, as folium does; the served web
map at ``/map`` needs no internet.
"""

from __future__ import annotations

import folium
import geopandas as gpd

from gis.columns import GRID_CODE, HOUSEHOLDS, POLSBY_POPPER, POPULATION, REASON, STATUS

__all__ = ["STATUS_COLORS", "plan_map"]

_SWATCH = "display:inline-block;width:12px;height:12px;margin-right:4px;"
STATUS_COLORS = {"ok": "#7fc97f", "out_of_range": "#fdc086", "oversized_unit": "#f0027f"}


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
    minx, miny, maxx, maxy = g.total_bounds
    m = folium.Map(tiles="OpenStreetMap", control_scale=True)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.GeoJson(
        g[[*fields, "geometry"]],
        name=title or "grids",
        style_function=lambda f: {
            "fillColor": STATUS_COLORS.get(f["properties"].get(STATUS), "#cccccc"),
            "color": "#333333",
            "weight": 1,
            "fillOpacity": 0.6,
        },
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.85},
        tooltip=folium.GeoJsonTooltip(fields=fields, sticky=True),
    ).add_to(m)
    legend = "".join(f'<div><span style="{_SWATCH}background:{c}"></span>{s}</div>' for s, c in STATUS_COLORS.items())
    m.get_root().html.add_child(
        folium.Element(
            '<div style="position:fixed;bottom:20px;left:20px;z-index:9999;background:white;padding:6px 8px;'
            f'border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px sans-serif">{legend}</div>'
        )
    )
    folium.LayerControl().add_to(m)
    return m
