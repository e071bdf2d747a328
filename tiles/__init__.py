"""Vector tiles and aggregation for the map service.

Reserved for the map-service issue: MVT built in PostGIS, the layer registry, binned
incident density and a tile cache keyed by data versions. Nothing lives here yet.
"""
