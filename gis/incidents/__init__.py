"""Incidents: the category taxonomy, the handling workflow and file imports (pure; storage is in gis.store)."""

from gis.incidents.taxonomy import DEFAULT, HANDLING_CLASSES, Category, Taxonomy, read_taxonomy, taxonomy_from_dict
from gis.incidents.workflow import FINAL, ON_SITE_STEPS, STATES, allowed, check_transition

__all__ = [
    "DEFAULT",
    "FINAL",
    "HANDLING_CLASSES",
    "ON_SITE_STEPS",
    "STATES",
    "Category",
    "Taxonomy",
    "allowed",
    "check_transition",
    "read_taxonomy",
    "taxonomy_from_dict",
]
