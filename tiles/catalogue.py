"""The one catalogue of served collections: each owns its features, its tile layer and its reader role.

As in tipg, a collection is one thing: the OGC API – Features items come from its
:class:`~gis.store.features.FeatureSource`, its vector tiles from its
:class:`~tiles.layers.Layer`, and the least role that may read either is its ``role``
(one of :data:`gis.store.users.ROLES`). The API builds its routes and access rules from
:data:`CATALOGUE`; nothing else lists the collections.
"""

from __future__ import annotations

from dataclasses import dataclass

from gis.store.features import (
    COMMUNITY_SOURCE,
    GRID_SOURCE,
    INCIDENT_SOURCE,
    STREET_SOURCE,
    UNIT_SOURCE,
    FeatureSource,
)
from gis.store.users import ROLES
from tiles.layers import COMMUNITIES, GRIDS, INCIDENTS, STREETS, UNITS, Layer

__all__ = ["CATALOGUE", "Collection"]


@dataclass(frozen=True)
class Collection:
    """A served collection: its description, how its features are read, its tile layer, who may read it."""

    id: str
    title: str
    description: str
    source: FeatureSource
    layer: Layer
    role: str  # the least role that may read its features and tiles, from gis.store.users.ROLES

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"collection {self.id!r}: unknown role {self.role!r}; roles are {ROLES}")


CATALOGUE: dict[str, Collection] = {
    c.id: c
    for c in (
        Collection(
            "grids",
            "Grids",
            "Grid polygons of every district's published plan (?district= to narrow, ?plan=NAME for another, "
            "?datetime= for the plans published then): code, community, households, residents, status and the "
            "grid worker's posted name and work phone.",
            GRID_SOURCE,
            GRIDS,
            "public",
        ),
        Collection(
            "communities",
            "Communities",
            "Communities (社区) of the districts with a published plan (?district= to narrow): id, name and "
            "admin code.",
            COMMUNITY_SOURCE,
            COMMUNITIES,
            "public",
        ),
        Collection(
            "incidents",
            "Incidents",
            "Reported incidents as points, without reporter data (analyst role).",
            INCIDENT_SOURCE,
            INCIDENTS,
            "analyst",
        ),
        Collection(
            "streets",
            "Streets",
            "Streets, rivers and railways of the published plans' districts: name and class (major, minor, "
            "river, railway).",
            STREET_SOURCE,
            STREETS,
            "public",
        ),
        Collection(
            "units",
            "Units",
            "Small areas or address cells with households, residents, compound and grid (planner role).",
            UNIT_SOURCE,
            UNITS,
            "planner",
        ),
    )
}
