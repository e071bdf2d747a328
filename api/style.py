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


def _density_layers() -> list[dict]:
    group = {"commgrid:group": "density"}
    return [
        {
            "id": "density-fill",
            "type": "fill",
            "source": "density",
            "source-layer": "incident_density",
            "layout": {"visibility": "none"},
            "paint": {"fill-color": _density_colour(), "fill-opacity": 0.6},
            "metadata": group,
        },
        {
            "id": "density-line",
            "type": "line",
            "source": "density",
            "source-layer": "incident_density",
            "layout": {"visibility": "none"},
            "paint": {"line-color": "#ffffff", "line-width": 0.3},
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
            {
                "id": "communities-fill",
                "type": "fill",
                "source": "commgrid",
                "source-layer": "communities",
                "paint": {"fill-color": "#ffffff", "fill-opacity": 0.4},
                "metadata": {"commgrid:group": "communities"},
            }
        )
    if "grids" in collections:
        layers += [
            {
                "id": "grids-fill",
                "type": "fill",
                "source": "commgrid",
                "source-layer": "grids",
                "paint": {"fill-color": _status_colour(), "fill-opacity": 0.7},
                "metadata": {"commgrid:group": "grids"},
            },
            {
                "id": "grids-line",
                "type": "line",
                "source": "commgrid",
                "source-layer": "grids",
                "paint": {
                    "line-color": "#444444",
                    "line-width": ["interpolate", ["linear"], ["zoom"], 11, 0.3, 16, 1.5],
                },
                "metadata": {"commgrid:group": "grids"},
            },
        ]
    if "units" in collections:
        layers.append(
            {
                "id": "units-line",
                "type": "line",
                "source": "commgrid",
                "source-layer": "units",
                "minzoom": 14,
                "paint": {"line-color": "#6a51a3", "line-width": 0.5, "line-dasharray": [2, 2]},
                "metadata": {"commgrid:group": "units"},
            }
        )
    if "communities" in collections:
        layers.append(
            {
                "id": "communities-line",
                "type": "line",
                "source": "commgrid",
                "source-layer": "communities",
                "paint": {"line-color": "#222222", "line-width": ["interpolate", ["linear"], ["zoom"], 11, 1, 16, 3]},
                "metadata": {"commgrid:group": "communities"},
            }
        )
    layers += _density_layers()  # over the areas, under the points and labels
    if "incidents" in collections:
        layers.append(
            {
                "id": "incidents-circle",
                "type": "circle",
                "source": "commgrid",
                "source-layer": "incidents",
                "minzoom": 12,
                "paint": {
                    "circle-radius": ["interpolate", ["linear"], ["zoom"], 12, 1.5, 16, 4],
                    "circle-color": "#d7301f",
                    "circle-stroke-color": "#ffffff",
                    "circle-stroke-width": 0.5,
                },
                "metadata": {"commgrid:group": "incidents"},
            }
        )
    if "grids" in collections:
        layers.append(
            {
                "id": "grids-label",
                "type": "symbol",
                "source": "commgrid",
                "source-layer": "grid_labels",
                "minzoom": 13,
                "layout": {
                    # the grid's number within its community; the whole code once there is room
                    "text-field": ["step", ["zoom"], ["slice", ["get", "code"], -3], 16, ["get", "code"]],
                    "text-size": ["interpolate", ["linear"], ["zoom"], 13, 10, 17, 16],
                    "text-font": ["sans-serif"],
                },
                "paint": {"text-color": "#1a1a1a", "text-halo-color": "#ffffff", "text-halo-width": 1.2},
                "metadata": {"commgrid:group": "grids"},
            }
        )
    if "communities" in collections:
        layers.append(
            {
                "id": "communities-label",
                "type": "symbol",
                "source": "commgrid",
                "source-layer": "community_labels",
                "maxzoom": 14,
                "layout": {"text-field": ["get", "name"], "text-size": 13, "text-font": ["sans-serif"]},
                "paint": {"text-color": "#000000", "text-halo-color": "#ffffff", "text-halo-width": 1.5},
                "metadata": {"commgrid:group": "communities"},
            }
        )
    style: dict = {"version": 8, "name": "commgrid", "sources": sources, "layers": layers}
    if center is not None:
        style["center"] = list(center)
        style["zoom"] = 13
    return style
