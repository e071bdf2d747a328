"""The instant the whole suite starts at.

Every test and every service the suite starts reads the date from a clock set to this
instant when the run starts (``gis.clock`` in-process, ``COMMGRID_NOW`` and
``COMMGRID_NOW_SINCE`` for servers and commands run as subprocesses), so results never
depend on the hour or the time zone of the run. The instant is an evening in UTC on
purpose: it is already the next day in China, the case that once failed every evening;
a run of the suite is far shorter than the 3 h 30 min left of that day in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 11, 18, 20, 30, tzinfo=UTC)
