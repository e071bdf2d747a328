"""The grid workers' work log (网格员工作日志): entries, the station master's daily review, weekly sums.

"Fill in the grid staff's work log carefully ... the station master checks the inspection
log every day": a worker linked to a worker record writes entries for their local day
(:mod:`gis.worklog.entries` holds the rules, :mod:`gis.worklog.store` the reads and
writes); a station master of the worker's community reviews them. An entry can be
changed by its worker until it is reviewed, never after.
"""

from gis.worklog.entries import KIND_LABELS, KINDS, TEXT_CHARS, EntryIn, check_day
from gis.worklog.store import (
    SUMMARY_FIELDS,
    OutOfScopeError,
    WorkerHome,
    add_entry,
    add_log_summary,
    change_entry,
    day_entries,
    local_today,
    read_entry,
    review_entry,
    weekly_summary,
    worker_entries,
    worker_home,
)

__all__ = [
    "KINDS",
    "KIND_LABELS",
    "SUMMARY_FIELDS",
    "TEXT_CHARS",
    "EntryIn",
    "OutOfScopeError",
    "WorkerHome",
    "add_entry",
    "add_log_summary",
    "change_entry",
    "check_day",
    "day_entries",
    "local_today",
    "read_entry",
    "review_entry",
    "weekly_summary",
    "worker_entries",
    "worker_home",
]
