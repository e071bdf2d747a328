"""Incidents: what residents and grid workers report, and how it is handled.

Modules: the category taxonomy (:mod:`~gis.incidents.taxonomy`), the handling workflow
(:mod:`~gis.incidents.workflow`), deadlines by handling class
(:mod:`~gis.incidents.deadlines`), file imports (:mod:`~gis.incidents.imports`), placing
an incident in its grid (:mod:`~gis.incidents.placement`), the store side
(:mod:`~gis.incidents.store`) and Gi* hot spots over the stored bins
(:mod:`~gis.incidents.hotspots`).
"""

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
