"""Grid size targets and what a container's totals allow.

A container (community, or a connected piece of one) with ``H`` households and ``P``
residents can be cut into ``k`` grids, all in range, only if ``k`` lies in both
``[ceil(H / h_max), floor(H / h_min)]`` and ``[ceil(P / p_max), floor(P / p_min)]``.
That necessary condition is what planners can check by hand, so it is what the
engine explains with; unit sizes and contiguity can still make a feasible ``k`` fail,
and the solver reports that separately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Feasibility", "Targets", "assess", "parse_range"]


@dataclass(frozen=True)
class Targets:
    """Households and residents every grid should hold (inclusive ranges).

    Examples
    --------
    >>> Targets().households_range
    (300, 500)
    """

    households_range: tuple[int, int] = (300, 500)
    population_range: tuple[int, int] = (1000, 1500)

    def __post_init__(self) -> None:
        for name, (lo, hi) in (
            ("households_range", self.households_range),
            ("population_range", self.population_range),
        ):
            if not (0 < lo <= hi):
                raise ValueError(f"{name} must be two positive numbers MIN:MAX with MIN <= MAX, got {lo}:{hi}")

    @property
    def h_min(self) -> int:
        return self.households_range[0]

    @property
    def h_max(self) -> int:
        return self.households_range[1]

    @property
    def p_min(self) -> int:
        return self.population_range[0]

    @property
    def p_max(self) -> int:
        return self.population_range[1]

    def in_range(self, households: int, population: int) -> bool:
        """Whether a grid with these totals meets both ranges."""
        return self.h_min <= households <= self.h_max and self.p_min <= population <= self.p_max

    def oversized(self, households: int, population: int) -> bool:
        """Whether a single indivisible unit alone exceeds a maximum."""
        return households > self.h_max or population > self.p_max


def parse_range(text: str, *, option: str = "range") -> tuple[int, int]:
    """Parse ``"300:500"`` into ``(300, 500)``.

    Raises
    ------
    ValueError
        With the option name and the expected form.

    Examples
    --------
    >>> parse_range("1000:1500")
    (1000, 1500)
    """
    parts = str(text).replace("-", ":").split(":")
    try:
        lo, hi = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{option} must look like MIN:MAX, e.g. 300:500; got {text!r}") from None
    if not (0 < lo <= hi):
        raise ValueError(f"{option} must have 0 < MIN <= MAX; got {text!r}")
    return lo, hi


@dataclass(frozen=True)
class Feasibility:
    """What a container's totals allow.

    ``k_households`` and ``k_population`` are the grid counts each range allows on its
    own (``lo > hi`` when none does); ``k_feasible`` is their overlap or ``None``;
    ``k`` is the count the engine will aim for.
    """

    households: int
    population: int
    k_households: tuple[int, int]
    k_population: tuple[int, int]
    k_feasible: tuple[int, int] | None
    k: int
    reason: str
    min_grids: int = 1

    @property
    def feasible(self) -> bool:
        return self.k_feasible is not None

    def to_dict(self) -> dict:
        return {
            "households": self.households,
            "population": self.population,
            "k_households": list(self.k_households),
            "k_population": list(self.k_population),
            "k_feasible": None if self.k_feasible is None else list(self.k_feasible),
            "k": self.k,
            "min_grids_by_units": self.min_grids,
            "feasible_by_counts": self.feasible,
            "reason": self.reason,
        }


def _k_bounds(total: int, lo: int, hi: int) -> tuple[int, int]:
    return max(1, math.ceil(total / hi)), total // lo


def _shortfall(total: int, k: int, lo: int, hi: int) -> int:
    """Least total deviation from [lo, hi] when ``total`` is spread over ``k`` grids."""
    return max(0, lo * k - total) + max(0, total - hi * k)


def assess(households: int, population: int, targets: Targets, *, min_grids: int = 1) -> Feasibility:
    """Decide the grid count for a container and explain it with numbers.

    Among counts allowed by both ranges the one whose mean grid sits nearest the middle
    of both ranges is chosen. Otherwise households come first: the count with the
    least household deviation, then the least population deviation.

    Parameters
    ----------
    households, population
        The container's totals.
    targets
        The ranges.
    min_grids
        A lower bound from the units themselves: units (or compounds) that each hold
        more than half a grid's maximum can never share a grid, so there must be at
        least as many grids as such units.

    Examples
    --------
    >>> f = assess(1050, 2966, Targets())
    >>> f.k, f.feasible
    (3, False)
    >>> assess(4380, 11605, Targets(), min_grids=10).k
    10
    """
    kh = _k_bounds(households, targets.h_min, targets.h_max)
    kp = _k_bounds(population, targets.p_min, targets.p_max)
    lo, hi = max(kh[0], kp[0], min_grids), min(kh[1], kp[1])
    h_mid = (targets.h_min + targets.h_max) / 2
    p_mid = (targets.p_min + targets.p_max) / 2
    h_span = targets.h_max - targets.h_min
    p_span = targets.p_max - targets.p_min

    def centrality(k: int) -> float:
        return max(abs(households / k - h_mid) / h_span, abs(population / k - p_mid) / p_span)

    if lo <= hi:
        k = min(range(lo, hi + 1), key=lambda k: (centrality(k), k))
        return Feasibility(households, population, kh, kp, (lo, hi), k, "", min_grids)

    candidates = range(max(1, min_grids), max(min_grids + 1, math.ceil(households / targets.h_min) + 2))
    k = min(
        candidates,
        key=lambda k: (
            _shortfall(households, k, targets.h_min, targets.h_max),
            _shortfall(population, k, targets.p_min, targets.p_max),
            -k,
        ),
    )
    if max(kh[0], kp[0]) <= hi:  # the totals alone would allow it: the units are the obstacle
        reason = (
            f"{min_grids} units or compounds each hold more than half a grid's maximum, so no two can share a "
            f"grid: at least {min_grids} grids are needed, but {households:,} households and {population:,} "
            f"residents allow at most {hi} grids in range; chose {k} grids"
        )
        h_dev = _shortfall(households, k, targets.h_min, targets.h_max)
        p_dev = _shortfall(population, k, targets.p_min, targets.p_max)
        if h_dev:
            reason += f"; households off range by at least {h_dev:,} in total"
        if p_dev:
            reason += f"; residents off range by at least {p_dev:,} in total"
        return Feasibility(households, population, kh, kp, None, k, reason, min_grids)
    return Feasibility(
        households, population, kh, kp, None, k, _why(households, population, kh, kp, k, targets), min_grids
    )


def half_max_units(households: list[int] | tuple[int, ...], population: list[int] | tuple[int, ...], t: Targets) -> int:
    """How many units can share a grid with no other such unit (each over half a maximum).

    Examples
    --------
    >>> half_max_units([401, 397, 120], [1061, 1091, 300], Targets())
    2
    """
    by_h = sum(1 for h in households if 2 * h > t.h_max)
    by_p = sum(1 for p in population if 2 * p > t.p_max)
    return max(by_h, by_p, 1)


def _why(households: int, population: int, kh: tuple[int, int], kp: tuple[int, int], k: int, t: Targets) -> str:
    def need(total: int, bounds: tuple[int, int], lo: int, hi: int, what: str) -> str:
        if bounds[0] > bounds[1]:
            if total < lo:
                noun = what[:-1] if total == 1 else what
                verb = "is" if total == 1 else "are"
                return f"{total:,} {noun} {verb} fewer than one grid's minimum of {lo:,}"
            return (
                f"{total:,} {what} need at least {bounds[0]} grids of at most {hi:,} "
                f"but allow at most {bounds[1]} of at least {lo:,}"
            )
        return f"{what} allow {bounds[0]}–{bounds[1]} grids"

    h_text = need(households, kh, t.h_min, t.h_max, "households")
    p_text = need(population, kp, t.p_min, t.p_max, "residents")
    h_dev = _shortfall(households, k, t.h_min, t.h_max)
    p_dev = _shortfall(population, k, t.p_min, t.p_max)
    if kh[0] <= kh[1] and kp[0] <= kp[1]:
        clash = (
            f"{households:,} households allow {kh[0]}–{kh[1]} grids but {population:,} residents "
            f"allow {kp[0]}–{kp[1]}: no grid count meets both ranges"
        )
    else:
        clash = f"{h_text}; {p_text}"
    outcome = f"chose {k} grid{'s' if k != 1 else ''} (households first)"
    if h_dev:
        outcome += f"; households off range by at least {h_dev:,} in total"
    if p_dev:
        side = "short of" if population < t.p_min * k else "over"
        outcome += f"; residents {side} range by at least {p_dev:,} in total"
    return f"{clash}; {outcome}"
