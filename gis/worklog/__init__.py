"""The grid workers' work log (网格员工作日志): entries, the station master's daily review, weekly sums.

"Fill in the grid staff's work log carefully ... the station master checks the inspection
log every day": a worker linked to a worker record writes entries for their local day
(:mod:`gis.worklog.entries` holds the rules, :mod:`gis.worklog.store` the reads and
writes); a station master of the worker's community reviews them. An entry can be
changed by its worker until it is reviewed, never after.
"""

from gis.worklog import entries, store
from gis.worklog.entries import *  # noqa: F403 - the package answers for both modules
from gis.worklog.store import *  # noqa: F403

__all__ = [*entries.__all__, *store.__all__]
