"""The MapLibre style document of the web map, built for the caller's role.

It draws from the multi-layer tiles (one request per tile for every layer), colours
grids by status and labels them with their codes. The incident density (hexagon bins
from ``/collections/incident-density/tiles``) is a graduated layer, hidden until turned
on; its tiles answer each caller by role, so the public gets the public aggregate
(public categories, bins of at least k, after the delay) from the same URL. There is no
``glyphs`` URL on purpose: MapLibre GL JS (≥ 5.11) then renders labels with the
browser's own fonts, so the map needs nothing from the internet.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from gis import columns as C

__all__ = ["DENSITY_COLOURS", "STATUS_COLOURS", "map_style"]

STATUS_COLOURS = {C.STATUS_OK: "#7fc97f", C.STATUS_OUT_OF_RANGE: "#fdc086", C.STATUS_OVERSIZED: "#f0027f"}
# incidents per km² of ground → colour: decades, so one scale serves a village and a city
DENSITY_COLOURS = ((1, "#ffffb2"), (10, "#fed976"), (100, "#feb24c"), (1000, "#fd8d3c"), (10000, "#e31a1c"))
SOURCE_MAX_ZOOM = 16  # deeper zooms reuse z16 tiles: 4,096 units across a z16 tile is ~15 mm


def _status_colour() -> list:
    expr: list = ["match", ["get", "status"]]
    for status, colour in STATUS_COLOURS.items():
        expr += [status, colour]
    return [*expr, "#bbbbbb"]


def _density_colour() -> list:
    expr: list = ["interpolate", ["linear"], ["get", "per_km2"]]
    for stop, colour in DENSITY_COLOURS:
        expr += [stop, colour]
    return expr


def _layer(layer_id: str, kind: str, source_layer: str, group: str, *, source: str = "commgrid", **rest: Any) -> dict:
    """One layer drawn from a vector source; ``metadata`` names the legend group it is toggled with."""
    layer = {"id": layer_id, "type": kind, "source": source, "source-layer": source_layer, **rest}
    return {**layer, "metadata": {"commgrid:group": group}}


def _density_layers() -> list[dict]:
    hidden = {"visibility": "none"}
    fill = {"fill-color": _density_colour(), "fill-opacity": 0.6}
    return [
        _layer("density-fill", "fill", "incident_density", "density", source="density", layout=hidden, paint=fill),
        _layer(
            "density-line",
            "line",
            "incident_density",
            "density",
            source="density",
            layout=hidden,
            paint={"line-color": "#ffffff", "line-width": 0.3},
        ),
    ]


def _street_layers() -> list[dict]:
    """Rivers as blue bands, railways dashed, streets white over a grey casing (major ones wider)."""
    group = {"commgrid:group": "streets"}

    def width(low: float, high: float, extra: float = 0.0) -> list:
        # zoom may only drive a top-level interpolate; the class scales each stop (minor streets 60 %)
        def stop(w: float) -> list:
            return ["+", extra, ["*", w, ["match", ["get", "class"], "major", 1.0, 0.6]]]

        return ["interpolate", ["exponential", 1.6], ["zoom"], 12, stop(low), 17, stop(high)]

    roads = ["!", ["in", ["get", "class"], ["literal", ["river", "railway", "rail"]]]]
    return [
        {
            "id": "streets-river",
            "type": "line",
            "source": "commgrid",
            "source-layer": "streets",
            "filter": ["==", ["get", "class"], "river"],
            "paint": {"line-color": "#9cc3e6", "line-width": ["interpolate", ["linear"], ["zoom"], 12, 2.5, 17, 14]},
            "metadata": group,
        },
        {
            "id": "streets-rail",
            "type": "line",
            "source": "commgrid",
            "source-layer": "streets",
            "filter": ["in", ["get", "class"], ["literal", ["railway", "rail"]]],
            "paint": {"line-color": "#6b6b6b", "line-width": 1.5, "line-dasharray": [3, 2]},
            "metadata": group,
        },
        {
            "id": "streets-casing",
            "type": "line",
            "source": "commgrid",
            "source-layer": "streets",
            "filter": roads,
            "layout": {"line-cap": "round", "line-join": "round"},
            "paint": {"line-color": "#b9b3a6", "line-width": width(2.0, 12.0, extra=1.5)},
            "metadata": group,
        },
        {
            "id": "streets-line",
            "type": "line",
            "source": "commgrid",
            "source-layer": "streets",
            "filter": roads,
            "layout": {"line-cap": "round", "line-join": "round"},
            "paint": {"line-color": "#ffffff", "line-width": width(2.0, 12.0)},
            "metadata": group,
        },
    ]


def map_style(
    base_url: str,
    collections: list[str],
    *,
    plan: str | None = None,
    district: str | None = None,
    basemap_url: str | None = None,
    basemap_attribution: str = "",
    center: tuple[float, float] | None = None,
) -> dict:
    """A MapLibre style (v8) showing ``collections`` from the service at ``base_url``.

    Parameters
    ----------
    base_url
        The service's root URL, no trailing slash.
    collections
        The collections the caller may read, in drawing order from the bottom.
    plan
        A plan name to show instead of the published plans.
    district
        Only this district (name or id) instead of the whole city.
    basemap_url
        An XYZ raster template drawn under everything, for deployments that have one.
    center
        Initial (lon, lat) of the view.
    """
    wanted = {k: v for k, v in (("plan", plan), ("district", district)) if v is not None}
    query = "?" + urlencode(wanted) if wanted else ""
    tiles = f"{base_url}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}{query}"
    sources: dict = {
        "commgrid": {
            "type": "vector",
            "tiles": [tiles],
            "minzoom": 0,
            "maxzoom": SOURCE_MAX_ZOOM,
            "attribution": "commgrid",
        },
        "density": {
            "type": "vector",
            "tiles": [f"{base_url}/collections/incident-density/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"],
            "minzoom": 0,
            "maxzoom": SOURCE_MAX_ZOOM,
        },
    }
    layers: list[dict] = [{"id": "background", "type": "background", "paint": {"background-color": "#f4f1ea"}}]
    if basemap_url:
        sources["basemap"] = {
            "type": "raster",
            "tiles": [basemap_url],
            "tileSize": 256,
            "attribution": basemap_attribution,
        }
        layers.append({"id": "basemap", "type": "raster", "source": "basemap"})
    if "communities" in collections:
        layers.append(
            _layer(
                "communities-fill",
                "fill",
                "communities",
                "communities",
                paint={"fill-color": "#ffffff", "fill-opacity": 0.4},
            )
        )
    if "grids" in collections:
        layers += [
            _layer("grids-fill", "fill", "grids", "grids", paint={"fill-color": _status_colour(), "fill-opacity": 0.7}),
            _layer(
                "grids-line",
                "line",
                "grids",
                "grids",
                paint={
                    "line-color": "#444444",
                    "line-width": ["interpolate", ["linear"], ["zoom"], 11, 0.3, 16, 1.5],
                },
            ),
        ]
    if "streets" in collections:
        layers += _street_layers()
    if "units" in collections:
        layers.append(
            _layer(
                "units-line",
                "line",
                "units",
                "units",
                minzoom=14,
                paint={"line-color": "#6a51a3", "line-width": 0.5, "line-dasharray": [2, 2]},
            )
        )
    if "communities" in collections:
        layers.append(
            _layer(
                "communities-line",
                "line",
                "communities",
                "communities",
                paint={"line-color": "#222222", "line-width": ["interpolate", ["linear"], ["zoom"], 11, 1, 16, 3]},
            )
        )
    layers += _density_layers()  # over the areas, under the points and labels
    if "incidents" in collections:
        layers.append(
            _layer(
                "incidents-circle",
                "circle",
                "incidents",
                "incidents",
                minzoom=12,
                paint={
                    "circle-radius": ["interpolate", ["linear"], ["zoom"], 12, 1.5, 16, 4],
                    "circle-color": "#d7301f",
                    "circle-stroke-color": "#ffffff",
                    "circle-stroke-width": 0.5,
                },
            )
        )
    if "grids" in collections:
        layers.append(
            _layer(
                "grids-label",
                "symbol",
                "grid_labels",
                "grids",
                minzoom=13,
                layout={
                    # the grid's number within its community; the whole code once there is room
                    "text-field": ["step", ["zoom"], ["slice", ["get", "code"], -3], 16, ["get", "code"]],
                    "text-size": ["interpolate", ["linear"], ["zoom"], 13, 10, 17, 16],
                    "text-font": ["sans-serif"],
                },
                paint={"text-color": "#1a1a1a", "text-halo-color": "#ffffff", "text-halo-width": 1.2},
            )
        )
    if "streets" in collections:
        layers.append(
            {
                "id": "streets-label",
                "type": "symbol",
                "source": "commgrid",
                "source-layer": "streets",
                "minzoom": 14,
                "filter": ["has", "name"],
                "layout": {
                    "symbol-placement": "line",
                    "text-field": ["get", "name"],
                    "text-size": ["interpolate", ["linear"], ["zoom"], 14, 11, 17, 14],
                    "text-font": ["sans-serif"],
                },
                "paint": {"text-color": "#3d3d3d", "text-halo-color": "#ffffff", "text-halo-width": 1.5},
                "metadata": {"commgrid:group": "streets"},
            }
        )
    if "communities" in collections:
        layers.append(
            _layer(
                "communities-label",
                "symbol",
                "community_labels",
                "communities",
                maxzoom=14,
                layout={"text-field": ["get", "name"], "text-size": 13, "text-font": ["sans-serif"]},
                paint={"text-color": "#000000", "text-halo-color": "#ffffff", "text-halo-width": 1.5},
            )
        )
    style: dict = {"version": 8, "name": "commgrid", "sources": sources, "layers": layers}
    if center is not None:
        style["center"] = list(center)
        style["zoom"] = 13
    return style
