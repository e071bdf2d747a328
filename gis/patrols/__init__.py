"""Patrol GPS tracks: reading, cleaning, and analysis into patrols, visits, coverage and compliance.

Modules: the track fields (:mod:`~gis.patrols.columns`), readers of GPX, CSV, GeoJSON and
JSON (:mod:`~gis.patrols.readers`), cleaning (:mod:`~gis.patrols.cleaning`), the patrol
rule (:mod:`~gis.patrols.rule`), analysis (:mod:`~gis.patrols.analysis`), all pure
functions on frames; the store side (:mod:`~gis.patrols.store`) and the reports read
from it (:mod:`~gis.patrols.reports`).
"""

from gis.patrols.analysis import (
    COMPLIANCE_COLUMNS,
    Analysis,
    analyse,
    coverage_samples,
    local_days,
    split_patrols,
    to_trajectories,
    visits,
)
from gis.patrols.cleaning import CleaningReport, clean, haversine_m
from gis.patrols.readers import read_csv, read_geojson, read_gpx, read_json, read_tracks
from gis.patrols.rule import PatrolRule

__all__ = [
    "COMPLIANCE_COLUMNS",
    "Analysis",
    "CleaningReport",
    "PatrolRule",
    "analyse",
    "clean",
    "coverage_samples",
    "haversine_m",
    "local_days",
    "read_csv",
    "read_geojson",
    "read_gpx",
    "read_json",
    "read_tracks",
    "split_patrols",
    "to_trajectories",
    "visits",
]
