"""Patrol GPS tracks: reading, cleaning, and analysis into patrols, visits, coverage and compliance.

Pure functions on frames; the store side is :mod:`gis.patrols.store`.
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
