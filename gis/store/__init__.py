"""commgrid's PostGIS store: tables, engines and query functions.

No global engine: create one with :func:`create_engine`, hand connections to the query
functions, dispose of the engine when done. Schema changes go through
:mod:`gis.migrations`.
"""

from gis.store.engine import begin, connect, create_engine
from gis.store.models import Base, metadata
from gis.store.queries import (
    GRID_COLUMNS,
    PlanSummary,
    list_plans,
    publish_plan,
    read_grids,
    write_communities,
    write_district,
    write_plan,
    write_units,
)

__all__ = [
    "GRID_COLUMNS",
    "Base",
    "PlanSummary",
    "begin",
    "connect",
    "create_engine",
    "list_plans",
    "metadata",
    "publish_plan",
    "read_grids",
    "write_communities",
    "write_district",
    "write_plan",
    "write_units",
]
