"""What the service draws from the store: vector tiles and the paper that is printed.

Modules: the collection catalogue (:mod:`tiles.catalogue`: each collection's features,
tile layer and reader role), the tile layers and their SQL (:mod:`tiles.layers`, cut
into Mapbox Vector Tiles by PostGIS ``ST_AsMVT``), the tile matrix set
(:mod:`tiles.matrix`), the data versions the store's triggers move on every change
(:mod:`tiles.freshness`), the tile cache keyed by them (:mod:`tiles.cache`), and
:class:`tiles.service.TileService`, which puts them together with the one envelope every
tile shares (ETag, ``If-None-Match``, cache, lost connections). Tiles of their own
statement: incident density (:mod:`tiles.density`) and patrol tracks
(:mod:`tiles.tracks`). Folium maps for files: :mod:`tiles.webmaps`.

Subpackage: :mod:`tiles.paper` (posters, contact cards, map SVG, patrol sheets, printing).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiles.catalogue import CATALOGUE, Collection
    from tiles.layers import Layer
    from tiles.matrix import TMS, check_tile
    from tiles.service import Tile, TileService

__all__ = ["CATALOGUE", "TMS", "Collection", "Layer", "Tile", "TileService", "check_tile"]
_HOMES = {
    "CATALOGUE": "catalogue",
    "Collection": "catalogue",
    "Layer": "layers",
    "TMS": "matrix",
    "check_tile": "matrix",
    "Tile": "service",
    "TileService": "service",
}


def __getattr__(name: str) -> object:
    # loaded on first use: a folium map or a poster does not need the tile machinery (morecantile,
    # the catalogue's SQL), and `commgrid partition` starts faster without it
    if name in _HOMES:
        return getattr(importlib.import_module(f"tiles.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'tiles' has no attribute {name!r}")
