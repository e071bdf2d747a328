"""The one clock of commgrid: every calendar decision asks :func:`now`.

"Yesterday's patrols", the public delay of incidents, deadlines, plan validity, the date
printed on a poster and the purge of old tracks all depend on the date. They read it
here, so that a test suite, a demo or a replay can set the instant once and get the same
answers at any hour and in any time zone (settings ``COMMGRID_NOW`` and
``COMMGRID_NOW_SINCE``, or :func:`set_clock`).

A set clock either stands still at its instant, or runs on from it at the real rate when
it is given the real moment it was set (``since``). The running form keeps every process
of one run (a test worker and the servers it starts) on one timeline, so records written
one after another keep their order. Elapsed times (timings, timeouts) are not dates and
use ``time.monotonic``.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, tzinfo

__all__ = ["FIRST_YEAR", "LAST_YEAR", "now", "set_clock", "today"]

# Years commgrid takes in dates it is sent: deadlines, delays and calendars add days and hours
# to them, and year 9999 overflows every one of those sums.
FIRST_YEAR, LAST_YEAR = 1900, 2200

_start: datetime | None = None
_since: float | None = None


def set_clock(instant: datetime | None, *, since: float | None = None) -> None:
    """Set :func:`now` to ``instant`` (timezone-aware); ``None`` gives back the real clock.

    With ``since`` (the real Unix time at which ``instant`` was now) the clock runs on
    from ``instant``; without it, it stands still.
    """
    global _start, _since
    if instant is not None and instant.tzinfo is None:
        raise ValueError(f"a set clock needs a time zone: {instant.isoformat()} has none")
    _start = None if instant is None else instant.astimezone(UTC)
    _since = since if instant is not None else None


def now() -> datetime:
    """The current instant in UTC (timezone-aware), on the set clock if there is one."""
    if _start is None:
        return datetime.now(UTC)
    if _since is None:
        return _start
    return _start + timedelta(seconds=max(0.0, time.time() - _since))


def today(zone: tzinfo | None = None) -> date:
    """Today's date in ``zone`` (UTC when not given)."""
    return now().astimezone(zone or UTC).date()
