"""Everything between files or the database and the engine.

Loading and validation (:mod:`gis.io`, :mod:`gis.validate`), CRS choice (:mod:`gis.crs`),
the error hierarchy (:mod:`gis.errors`), normalised column names (:mod:`gis.columns`), plan
files (:mod:`gis.plans.files`), the embedded PostGIS cluster (:mod:`gis.cluster`), the store
(:mod:`gis.store`) and its migrations (:mod:`gis.migrations`). Imports nothing else of commgrid.
"""
