"""Column names of GPS fix frames, shared by the readers, cleaning, analysis and the store.

Fix frames are plain :class:`pandas.DataFrame` objects with ``lon``/``lat`` columns
rather than GeoDataFrames: a day of a district's fixes is millions of rows, and shapely
point objects for each would cost seconds and gigabytes for nothing the analysis needs.
"""

from __future__ import annotations

__all__ = [
    "DAY",
    "DEVICE",
    "DISTRICT_ID",
    "LAT",
    "LON",
    "OUTSIDE",
    "PATROL",
    "ROW",
    "SESSION",
    "STOP",
    "TIME",
    "WORKER",
    "WORKER_ID",
    "X",
    "Y",
]

WORKER = "worker"  # the worker as the file names them (a grid_worker id, as text)
WORKER_ID = "worker_id"  # grid_worker.id, once resolved
DISTRICT_ID = "district_id"
DEVICE = "device"
TIME = "recorded_at"  # time-zone-aware, UTC
LON = "lon"
LAT = "lat"
ROW = "row"  # 0-based position of the fix in its file, for messages
OUTSIDE = "outside"  # flagged: far outside the worker's district
DAY = "day"  # local date in the district's patrol time zone
X = "x"  # metres in the district's working CRS
Y = "y"
SESSION = "session"  # fixes between two time gaps
STOP = "stop"  # the fix belongs to a long stop
PATROL = "patrol"  # moving stretch between gaps and stops; -1 for fixes in a stop
