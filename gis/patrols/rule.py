"""The patrol rule and the settings of track analysis, with their defaults.

Grid workers patrol their grid at least twice a day, at least an hour each time. How
that is judged (how long a visit must last, what ends a patrol, how near a street
must be passed to count as covered) is the practice's choice, so every threshold is a
field of :class:`PatrolRule`, stored per district and overridable per call.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from gis.errors import InputError

__all__ = ["PatrolRule"]

_ZERO_ALLOWED = ("min_visits", "min_visit_minutes", "exit_minutes", "day_start_hour")


@dataclass(frozen=True)
class PatrolRule:
    """Thresholds of cleaning, patrol splitting, visits, compliance and coverage.

    Attributes
    ----------
    min_visits
        Visits to the own grid a compliant day needs.
    min_visit_minutes
        Shortest visit that counts towards ``min_visits``.
    gap_minutes
        A pause between two fixes longer than this ends a patrol.
    max_speed_kmh
        Fixes implying a faster move from the previous kept fix are dropped as impossible.
    outside_m
        Fixes farther than this outside the district are flagged in the import report.
    stop_minutes
        Staying within ``stop_radius_m`` this long is a stop, not patrol time: it ends a
        patrol, and its time counts towards no visit (a worker at home or in a meeting).
    stop_radius_m
        Size of the area a stop stays within.
    boundary_m
        Fixes this close outside the grid count as inside it (its border streets, GPS noise).
    exit_minutes
        Leaving the grid for at most this long does not end a visit.
    coverage_m
        A street (or 50 m cell centre) passed within this distance counts as covered.
    cell_m
        Side of the cells that measure coverage when the district has no streets.
    day_start_hour, day_end_hour
        The part of the local day coverage and the longest unvisited time are measured
        in (0 and 24: the whole day).
    """

    min_visits: int = 2
    min_visit_minutes: float = 60.0
    gap_minutes: float = 10.0
    max_speed_kmh: float = 50.0
    outside_m: float = 2000.0
    stop_minutes: float = 30.0
    stop_radius_m: float = 50.0
    boundary_m: float = 30.0
    exit_minutes: float = 5.0
    coverage_m: float = 30.0
    cell_m: float = 50.0
    day_start_hour: float = 0.0
    day_end_hour: float = 24.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"{f.name}={value!r} is not a number; expected e.g. {f.default}", field=f.name)
            if value < 0 or (value == 0 and f.name not in _ZERO_ALLOWED):
                raise InputError(
                    f"{f.name}={value!r} must be {'0 or more' if f.name == 'min_visits' else 'above 0'}; "
                    f"the default is {f.default}",
                    field=f.name,
                )
        if not self.day_start_hour < self.day_end_hour <= 24:
            raise InputError(
                f"day_start_hour={self.day_start_hour!r} and day_end_hour={self.day_end_hour!r}: expected "
                "0 <= start < end <= 24",
                field="day_end_hour",
            )
        if self.min_visits != int(self.min_visits):
            raise InputError(f"min_visits={self.min_visits!r} must be a whole number, e.g. 2", field="min_visits")

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-ready data (as stored with each compliance result)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None, *, base: PatrolRule | None = None) -> PatrolRule:
        """A rule from stored or requested values; fields left out keep ``base``'s (or the defaults).

        Parameters
        ----------
        values
            Field names to values; ``None`` values are ignored.
        base
            The rule to start from.

        Raises
        ------
        InputError
            For an unknown field or a value out of range.

        Examples
        --------
        >>> PatrolRule.from_dict({"min_visits": 3}).min_visits
        3
        """
        known = {f.name for f in fields(cls)}
        given = {k: v for k, v in (values or {}).items() if v is not None}
        unknown = sorted(set(given) - known)
        if unknown:
            raise InputError(
                f"unknown patrol rule setting(s) {unknown}; known are {sorted(known)}", field=", ".join(unknown)
            )
        return replace(base or cls(), **given)
