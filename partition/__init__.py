"""The partition engine: districts into grids of 300–500 households and 1,000–1,500 residents.

Pure computation on GeoDataFrames and graphs: no files, database, printing or global state.

Modules: targets and feasibility (:mod:`~partition.targets`), units and tessellation
(:mod:`~partition.units`), adjacency and barriers (:mod:`~partition.graph`), one community's
container (:mod:`~partition.container`) and each connected piece of it
(:mod:`~partition.pieces`), the heuristic search (:mod:`~partition.solver`) and the exact one (:mod:`~partition.exact`,
:mod:`~partition.cover`),
explanations (:mod:`~partition.explain`), grid codes (:mod:`~partition.codes`), checks
(:mod:`~partition.constraints`), metrics (:mod:`~partition.metrics`), re-division
(:mod:`~partition.redivide`), Dask runs (:mod:`~partition.distributed`) and
:func:`~partition.plan.partition` itself (:mod:`~partition.plan`).
"""

from partition.constraints import check_plan
from partition.metrics import polsby_popper
from partition.plan import PartitionResult, partition, solve_container
from partition.targets import Feasibility, Targets, assess, parse_range

__all__ = [
    "Feasibility",
    "PartitionResult",
    "Targets",
    "assess",
    "check_plan",
    "parse_range",
    "partition",
    "polsby_popper",
    "solve_container",
]
