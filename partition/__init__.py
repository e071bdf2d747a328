"""The partition engine: districts into grids of 300–500 households and 1,000–1,500 residents.

Pure computation on GeoDataFrames and graphs: no files, database, printing or global state.
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
