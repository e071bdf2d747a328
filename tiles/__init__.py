"""Vector tiles for the map service.

Layers are declared once (:mod:`tiles.layers`), cut into Mapbox Vector Tiles by
PostGIS (:mod:`tiles.mvt`), and kept in a cache (:mod:`tiles.cache`) keyed by the
data versions that the store's triggers move on every change (:mod:`tiles.freshness`).
:class:`tiles.service.TileService` puts the four together for the API.
"""

from tiles.catalogue import CATALOGUE, Collection
from tiles.layers import Layer
from tiles.matrix import TMS, check_tile
from tiles.service import Tile, TileService

__all__ = ["CATALOGUE", "TMS", "Collection", "Layer", "Tile", "TileService", "check_tile"]
