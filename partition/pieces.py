"""Solving one connected piece of a container: shared by fresh partitions and re-division.

The heuristic (:func:`partition.solver.solve`) runs first. When it leaves grids off range
although the totals allow every grid in range, the exact search
(:func:`partition.exact.exact_search`) decides the piece within the container's budget
(pieces of up to :data:`partition.exact.MAX_ATOMS` atoms, such as villages):
its plan replaces the heuristic's when it has every grid in range, and a proof that no
such plan exists is recorded on the solution.
"""

from __future__ import annotations

import math

import numpy as np

from partition.exact import MAX_ATOMS, SOLVED, ExactBudget, exact_search
from partition.solver import Instance, Solution, settled, solve
from partition.targets import Feasibility, Targets, assess, half_max_units

__all__ = ["exact_entry", "oversized_note", "solve_piece"]


def oversized_note(households: int, population: int, t: Targets) -> str:
    """Why a unit forms a grid on its own."""
    return (
        f"one indivisible unit holds {households:,} households and "
        f"{population:,} residents, over the maximum of {t.h_max:,} / {t.p_max:,}"
    )


def exact_entry(sol: Solution) -> dict:
    """What the exact search said about a piece, for the report (nothing when it did not run)."""
    if not sol.exact:
        return {}
    return {"exact": sol.exact, "exact_work": sol.exact_work}


def solve_piece(
    task,
    members: np.ndarray,
    edges: np.ndarray,
    rng: np.random.Generator,
    *,
    budget: ExactBudget | None = None,
    previous: np.ndarray | None = None,
) -> tuple[Instance, Feasibility, Solution]:
    """Judge and solve the atoms ``members`` of ``task`` joined by the edges where ``edges`` is true.

    Parameters
    ----------
    task
        The container's :class:`~partition.container.ContainerTask`.
    members
        Atoms of the piece (connected by the edges chosen).
    edges
        Which of the task's neighbour pairs the piece may use.
    rng
        Randomness of the heuristic.
    budget
        The container's exact-search budget; ``None`` runs the heuristic only.
    previous
        Re-division: each member's previous grid (``-1`` for a new unit); the exact
        search then moves as few households as it can.

    Returns
    -------
    Instance, Feasibility, Solution
        The piece's solver instance, what its totals allow, and the plan. The
        solution's ``exact`` says what the exact search concluded, when it ran.
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
    seconds = math.inf if task.time_budget is None else task.time_budget * len(members) / max(1, n)
    sol = solve(inst, feas.k, t, rng=rng, time_budget=seconds, k_choices=k_choices, max_restarts=restarts)
    if feas.feasible and sol.off_range and budget is not None and budget.left > 0 and len(members) <= MAX_ATOMS:
        sol = _exact(task, members, inst, feas, sol, budget, previous)
    return inst, feas, sol


def _exact(
    task,
    members: np.ndarray,
    inst: Instance,
    feas: Feasibility,
    sol: Solution,
    budget: ExactBudget,
    previous: np.ndarray | None,
) -> Solution:
    """The exact search's plan if it found one with every grid in range, else ``sol`` with its verdict."""
    key = frozenset(int(m) for m in members)
    known = budget.unsolved.get(key)
    work = 0.0  # a verdict remembered from an earlier ring cost nothing now
    if known is None:
        result = exact_search(
            inst,
            feas.k_feasible,  # type: ignore[arg-type]
            task.targets,
            previous=None if previous is None else [int(v) for v in previous],
            limit=budget.left,
            seed=task.seed,
        )
        budget.spend(result.work)
        work = result.work
        if result.status != SOLVED:
            budget.unsolved[key] = result
    else:
        result = known  # the same atoms again (a re-division ring that did not grow): already decided
    # a re-division keeps the plan that moves fewest households; a fresh one is polished for shape
    out = settled(inst, result.assignment, task.targets, polish=previous is None) if result.status == SOLVED else sol
    out.exact, out.exact_work = result.status, round(work, 6)
    return out
