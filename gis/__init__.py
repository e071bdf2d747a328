"""Everything between files or the database and the engine.

Modules: loading and validation (:mod:`gis.io`, :mod:`gis.validate`), CRS choice
(:mod:`gis.crs`), the error hierarchy (:mod:`gis.errors`), normalised column names
(:mod:`gis.columns`), the calendar clock (:mod:`gis.clock`), hexagon bins
(:mod:`gis.hexagons`), whole-or-nothing file writes (:mod:`gis.atomic`), a partition run
from files (:mod:`gis.partition_inputs`, the one module that drives :mod:`partition`,
imported when a run starts) and the embedded PostGIS cluster (:mod:`gis.cluster`).

Subpackages, one per domain with its logic and its persistence side by side:
:mod:`gis.plans` (districts, units, communities, plans and plan files),
:mod:`gis.incidents` (taxonomy, workflow, deadlines, imports, placement, store, hot spots),
:mod:`gis.patrols` (GPS tracks: reading, cleaning, analysis, rule, store, reports),
:mod:`gis.workers` (the roster and its records); the database machinery
(:mod:`gis.store`) and its migrations (:mod:`gis.migrations`).
Imports nothing else of commgrid at import time.
"""
