"""Solving one connected piece of a container: shared by fresh partitions and re-division."""

from __future__ import annotations

import math

import numpy as np

from partition.solver import Instance, Solution, solve
from partition.targets import Feasibility, Targets, assess, half_max_units

__all__ = ["oversized_note", "solve_piece"]


def oversized_note(households: int, population: int, t: Targets) -> str:
    """Why a unit forms a grid on its own."""
    return (
        f"one indivisible unit holds {households:,} households and "
        f"{population:,} residents, over the maximum of {t.h_max:,} / {t.p_max:,}"
    )


def solve_piece(
    task, members: np.ndarray, edges: np.ndarray, rng: np.random.Generator
) -> tuple[Instance, Feasibility, Solution]:
    """Judge and solve the atoms ``members`` of ``task`` joined by the edges where ``edges`` is true.

    Returns the piece's solver instance, what its totals allow, and the solution.
    """
    t = task.targets
    local = {int(g): j for j, g in enumerate(members)}
    hh, pp = task.households[members], task.population[members]
    inst = Instance.from_arrays(
        hh,
        pp,
        task.area[members],
        task.perimeter[members],
        [local[int(x)] for x in task.left[edges]],
        [local[int(x)] for x in task.right[edges]],
        task.shared[edges],
        task.soft[edges],
    )
    feas = assess(int(hh.sum()), int(pp.sum()), t, min_grids=half_max_units(hh.tolist(), pp.tolist(), t))
    if feas.feasible:
        lo, hi = feas.k_feasible  # type: ignore[misc]
        k_choices = sorted(range(lo, hi + 1), key=lambda x: (abs(x - feas.k), x))[:4]
        # a restart re-solves the whole piece: cheap for a village, not for a whole district
        restarts = 6 if len(members) <= 150 else 3 if len(members) <= 400 else 1
    else:
        k_choices, restarts = [], 1
    n = len(task.households)
    budget = math.inf if task.time_budget is None else task.time_budget * len(members) / max(1, n)
    sol = solve(inst, feas.k, t, rng=rng, time_budget=budget, k_choices=k_choices, max_restarts=restarts)
    return inst, feas, sol
