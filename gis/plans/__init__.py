"""Plans: districts, their units and communities, and the grid plans made of them.

Modules: plan files written by ``commgrid partition`` (:mod:`~gis.plans.files`), loading
them into the store (:mod:`~gis.plans.load`), the store's writers and readers of
districts, communities, units and plans (:mod:`~gis.plans.store`), a district's stored
inputs for a partition job (:mod:`~gis.plans.districts`), edits and diffs of stored
plans (:mod:`~gis.plans.edits`), re-division of one community of a draft
(:mod:`~gis.plans.redivide`) and what the planner's workbench reads and copies
(:mod:`~gis.plans.workbench`). Which district or plan a request means is
:mod:`gis.store.lookup`'s.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gis.plans.store import (
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
    "PlanSummary",
    "list_plans",
    "publish_plan",
    "read_grids",
    "write_communities",
    "write_district",
    "write_plan",
    "write_units",
]


def __getattr__(name: str) -> object:
    # the store's names load SQLAlchemy and the models: `commgrid partition`, which only
    # writes plan files, does not pay for them (about half a second of its start)
    if name in __all__:
        return getattr(importlib.import_module("gis.plans.store"), name)
    raise AttributeError(f"module 'gis.plans' has no attribute {name!r}")
