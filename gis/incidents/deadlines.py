"""Time limits of incidents: due times in continuous hours, working hours or working days, and flags.

A limit belongs to a category (``limit`` in the taxonomy, inherited by sub-categories),
e.g. ``{"hours": 2}``, ``{"working_hours": 8}`` or ``{"working_days": 3}``. Working time
follows a :class:`WorkingCalendar`: working weekdays and hours in a time zone, holidays
off, and make-up working days (调休) on. A working day counts as the calendar's hours
of one day, so three working days from Friday 17:00 end on Wednesday 17:00.

An incident that is not finished is flagged ``yellow`` once its limit has passed and
``red`` once twice its limit (``red_factor``) has passed.

Emergencies run on a continuous timer: for incidents of a class in
:data:`CONTINUOUS_CLASSES` working time is read as clock time (a working hour is an
hour, a working day 24 hours), so nights, weekends and holidays do not pause them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gis.errors import FormatError, InputError

__all__ = [
    "CONTINUOUS_CLASSES",
    "LIMIT_KINDS",
    "WorkingCalendar",
    "add_working_hours",
    "due_at",
    "flag",
    "is_continuous",
    "read_calendar",
]

LIMIT_KINDS = ("hours", "working_hours", "working_days")
CONTINUOUS_CLASSES = frozenset({"emergency"})
_SEARCH_DAYS = 3660  # a limit that needs more than ten years of working time is a mistake


@dataclass(frozen=True)
class WorkingCalendar:
    """Working weekdays (0 = Monday) and hours in ``timezone``, with holidays and make-up working days."""

    timezone: str = "Asia/Shanghai"
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    start: time = time(9, 0)
    end: time = time(18, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(
                f"unknown time zone {self.timezone!r}; expected an IANA name such as Asia/Shanghai"
            ) from None
        if self.end <= self.start:
            raise InputError(f"working hours end ({self.end}) before they start ({self.start})")

    @property
    def hours_per_day(self) -> float:
        return (datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)).total_seconds() / 3600

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays


def add_working_hours(start: datetime, hours: float, calendar: WorkingCalendar) -> datetime:
    """The moment ``hours`` of working time after ``start`` (timezone-aware), in the calendar's zone.

    Examples
    --------
    >>> cal = WorkingCalendar()
    >>> friday = datetime(2026, 11, 20, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> add_working_hours(friday, 2, cal).isoformat()
    '2026-11-23T10:00:00+08:00'
    """
    zone = ZoneInfo(calendar.timezone)
    cursor = start.astimezone(zone)
    left = timedelta(hours=hours)
    day = cursor.date()
    for _ in range(_SEARCH_DAYS):
        if calendar.is_workday(day):
            opens = datetime.combine(day, calendar.start, tzinfo=zone)
            closes = datetime.combine(day, calendar.end, tzinfo=zone)
            begin = max(cursor, opens)
            if begin < closes:
                if begin + left <= closes:
                    return begin + left
                left -= closes - begin
        day += timedelta(days=1)
    raise InputError(f"{hours} working hours do not fit in ten years of this calendar; check its working days")


def is_continuous(handling_class: str | None) -> bool:
    """Whether incidents of ``handling_class`` run on the clock without working-hours pauses."""
    return handling_class in CONTINUOUS_CLASSES


def due_at(
    reported_at: datetime, limit: Mapping[str, float], calendar: WorkingCalendar, *, continuous: bool = False
) -> datetime:
    """When an incident reported at ``reported_at`` is due under ``limit`` (one of :data:`LIMIT_KINDS`).

    With ``continuous`` (emergencies), working hours count as hours and working days as 24 hours.

    Examples
    --------
    >>> friday = datetime(2026, 11, 20, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> due_at(friday, {"working_hours": 2}, WorkingCalendar(), continuous=True).isoformat()
    '2026-11-20T19:00:00+08:00'

    Raises
    ------
    InputError
        For a limit that is not one positive number of one known kind.
    """
    check_limit(limit)
    (kind, amount), *_ = limit.items()
    if kind == "hours" or continuous:
        return reported_at + timedelta(hours=amount * (24 if kind == "working_days" else 1))
    hours = amount if kind == "working_hours" else amount * calendar.hours_per_day
    return add_working_hours(reported_at, hours, calendar)


def check_limit(limit: Mapping[str, Any], *, where: str = "the limit") -> None:
    """Raise unless ``limit`` is ``{kind: positive number}`` with a kind of :data:`LIMIT_KINDS`."""
    if len(limit) != 1 or next(iter(limit)) not in LIMIT_KINDS:
        raise InputError(f"{where} {dict(limit)!r}: expected one of {list(LIMIT_KINDS)}, e.g. {{'working_days': 3}}")
    amount = next(iter(limit.values()))
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
        raise InputError(f"{where} {dict(limit)!r}: the amount must be a positive number")


def flag(
    reported_at: datetime,
    limit: Mapping[str, float] | None,
    *,
    now: datetime,
    calendar: WorkingCalendar,
    finished: bool = False,
    red_factor: float = 2.0,
    continuous: bool = False,
) -> str:
    """``none``, ``yellow`` (past its limit) or ``red`` (past ``red_factor`` times its limit).

    Finished incidents and those without a limit are never flagged; ``continuous`` as in :func:`due_at`.
    """
    if finished or not limit:
        return "none"
    (kind, amount), *_ = limit.items()
    if now >= due_at(reported_at, {kind: amount * red_factor}, calendar, continuous=continuous):
        return "red"
    if now >= due_at(reported_at, limit, calendar, continuous=continuous):
        return "yellow"
    return "none"


def read_calendar(path: str | Path) -> WorkingCalendar:
    """Read a working calendar from JSON.

    ``{"timezone": "Asia/Shanghai", "weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00",
    "holidays": ["2026-10-01"], "extra_workdays": ["2026-10-10"]}``; every key is optional.

    Raises
    ------
    FormatError
        For a file that is not JSON holding an object, or values that do not parse.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError(f"it holds a {type(raw).__name__}")
        values: dict[str, Any] = {}
        if "timezone" in raw:
            values["timezone"] = str(raw["timezone"])
        if "weekdays" in raw:
            values["weekdays"] = frozenset(int(d) for d in raw["weekdays"])
        for key in ("start", "end"):
            if key in raw:
                values[key] = time.fromisoformat(raw[key])
        for key in ("holidays", "extra_workdays"):
            if key in raw:
                values[key] = frozenset(date.fromisoformat(d) for d in raw[key])
    except (OSError, ValueError, TypeError) as exc:
        raise FormatError(
            f"cannot read the working calendar {path}: {exc}; expected a JSON object such as "
            '{"timezone": "Asia/Shanghai", "start": "09:00", "end": "18:00", "holidays": ["2026-10-01"]}',
            file=str(path),
        ) from None
    return WorkingCalendar(**values)
