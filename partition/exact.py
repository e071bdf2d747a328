"""Exact search for one connected piece: a plan with every grid in range, or a proof that none exists.

The heuristic (:mod:`partition.solver`) can miss an in-range plan on a village of a few
coarse units, where moving one unit fixes one grid and breaks the next. Such villages
are small (tens of atoms, a handful of grids), so they can be decided exactly. First by
listing every grid the piece allows and covering the piece with them
(:mod:`partition.cover`, for :data:`COVER_WORK`); what that leaves undecided, CP-SAT
(OR-Tools) decides on this model:

- each atom (a unit, or a whole compound) goes to one of ``hi`` grid slots, of which any
  number the totals allow (``lo..hi``) is used, and each used grid's households and
  residents lie in both ranges;
- each grid is contiguous over the piece's neighbour pairs (none across a hard barrier,
  exactly the pairs the heuristic may use): every atom but the grid's lowest-numbered one
  points to a neighbour in the same grid at a smaller depth, so following the pointers
  always ends at that root;
- used grids come first, in the order of their roots, so each division has one encoding;
  atoms are numbered in a breadth-first sweep, so grids are too;
- two atoms whose lightest connecting path already holds more than a maximum never share
  a grid (implied by the rest, but it lets the search see it at once).

``INFEASIBLE`` is a proof: no division of these atoms into contiguous grids meets both
ranges, whatever the grid count (counts outside ``lo..hi`` are excluded by the totals).
One search covers every count: measured on Taipei's villages, it decided pieces allowing
two counts several times sooner than searching each count in turn.

In a re-division a division found is then changed to move as few households as possible
(then to keep boundaries between grids short), by the same model with each previous grid
as a slot of its own, starting from the division found.

CP-SAT runs on one worker with a fixed seed and *deterministic* time limits (counts of
work, not seconds); the cover search counts its work too, in units of about the same
size, and budgets are charged in them, so the same input gives the same answer on every
runner and machine.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from partition import cover
from partition.cover import cover_search
from partition.solver import Instance
from partition.targets import Targets

__all__ = [
    "EXACT_SECONDS",
    "INFEASIBLE",
    "MAX_ATOMS",
    "SOLVED",
    "UNDECIDED",
    "ExactBudget",
    "ExactResult",
    "exact_search",
]

# Deterministic time (CP-SAT work units, close to seconds on the 2-core bench machine) the
# exact search may spend on one container: all its pieces and re-division rings together.
# Measured on Taipei's villages (the re-division bench's numbers before and after its change):
# all 137 pieces the heuristic left off range were decided, the slowest in 3.6 units; on all
# of Taiwan (73 pieces searched) the slowest decided piece took 2.98 units, while the one left
# undecided (a 92-unit township) used all it was given: 10 units, 44 % of the run's exact work.
# 5 leaves room above every piece decided and halves what an undecidable piece wastes.
EXACT_SECONDS = 5.0
# Largest piece (in atoms) the exact search takes on. Villages are far smaller (Taipei's largest
# piece left off range had 47); a whole district of a thousand units would make a model
# of millions of clauses that no budget here decides.
MAX_ATOMS = 100
# Work the cover search (:mod:`partition.cover`) may spend on a piece before CP-SAT takes it over.
# Measured on Taipei's villages: it decided 66 of the 67 pieces the heuristic left off range in at
# most 0.05 units each (0.12 in all, 0.08 s; CP-SAT took up to 2.85 units on them, 12.5 in all); the
# one left, a 47-atom village the cover needs 0.93 units (0.66 s) to disprove, CP-SAT proves
# impossible in 0.09.
COVER_WORK = 0.25
# Work a re-division may spend moving fewer households once a division is found (kept out of
# the budget for finding one). The search rarely proves its plan optimal, so it uses whatever
# it is given; measured on the re-division bench, 1 unit a piece moved 2,582 fewer households
# than none (10.1 % of all against 10.3 %), and 3 units none fewer than 1, at 2 s more.
IMPROVE_SECONDS = 1.0

SOLVED = "solved"
INFEASIBLE = "proved_infeasible"
UNDECIDED = "undecided"


@dataclass(frozen=True)
class ExactResult:
    """What the exact search found for one piece.

    ``status`` is :data:`SOLVED` (``assignment`` holds a grid index per atom, every grid
    in range and contiguous), :data:`INFEASIBLE` (proved: no contiguous division meets
    both ranges for any grid count in ``k_range``) or :data:`UNDECIDED` (the budget ran
    out first). ``work`` is the deterministic time spent (reproducible); ``seconds`` the
    wall time (for reports only).
    """

    status: str
    assignment: list[int] | None
    k_range: tuple[int, int]
    work: float
    seconds: float
    households_moved: int | None = None


class ExactBudget:
    """Deterministic time left for the exact search in one container, and what it could not solve.

    Shared by the container's pieces (and a re-division's rings). Pieces it could not
    solve are remembered by their atoms, so a ring that re-solves the same atoms does
    not search again.
    """

    def __init__(self, seconds: float) -> None:
        self.left = float(seconds)
        self.spent = 0.0
        self.unsolved: dict[frozenset[int], ExactResult] = {}

    def spend(self, work: float) -> None:
        self.left = max(0.0, self.left - work)
        self.spent += work


def exact_search(
    inst: Instance,
    k_range: tuple[int, int],
    t: Targets,
    *,
    previous: Sequence[int] | None = None,
    limit: float = EXACT_SECONDS,
    seed: int = 0,
) -> ExactResult:
    """Find a contiguous division of ``inst`` with every grid in range, or prove there is none.

    Parameters
    ----------
    inst
        The piece's atoms and their usable neighbour pairs.
    k_range
        Grid counts the totals allow, ``(lo, hi)``; any of them may be used.
    t
        The household and resident ranges.
    previous
        Re-division: each atom's previous grid (any integer label, ``-1`` for a new
        unit). A division found is then changed to move as few households as it can.
    limit
        Deterministic time budget (CP-SAT work units, about seconds).
    seed
        CP-SAT's random seed.

    Returns
    -------
    ExactResult

    Examples
    --------
    >>> inst = Instance.from_arrays([200, 200, 200], [400, 400, 400], [1, 1, 1], [4, 4, 4],
    ...                             [0, 1], [1, 2], [1.0, 1.0], [0, 0])
    >>> exact_search(inst, (1, 1), Targets()).status  # 600 households make no grid of at most 500
    'proved_infeasible'
    >>> exact_search(inst, (1, 1), Targets(households_range=(300, 600))).assignment
    [0, 0, 0]
    """
    start = time.perf_counter()
    perm = _sweep_order(inst)
    swept = _renumbered(inst, perm)
    budget = limit - min(IMPROVE_SECONDS, limit / 4) if previous is not None else limit
    status, assignment, work = _decide(swept, k_range, t, budget, seed)
    if status != SOLVED:
        return ExactResult(status, None, k_range, work, time.perf_counter() - start)
    found = [assignment[new] for new in _inverse(perm)]
    moved = None
    if previous is not None:
        left = min(IMPROVE_SECONDS, limit - work)
        found, spent, moved = _fewer_moves(swept, perm, found, k_range, t, previous, left, seed)
        work += spent
    return ExactResult(SOLVED, _ordered(found), k_range, work, time.perf_counter() - start, moved)


def _decide(
    inst: Instance, k_range: tuple[int, int], t: Targets, limit: float, seed: int
) -> tuple[str, list[int] | None, float]:
    """Whether ``inst`` splits into contiguous grids in range, any count in ``k_range`` (and one such split)."""
    found, labels, work = cover_search(
        inst.households,
        inst.population,
        inst.nbrs,
        t.households_range,
        t.population_range,
        max_work=min(limit, COVER_WORK),
    )
    if found == cover.INFEASIBLE:
        return INFEASIBLE, None, work  # no division at all, so none of any count in k_range
    # a cover's grid count is one the totals allow, and k_range is what they allow; should a caller
    # narrow it, a cover of another count is no answer, and CP-SAT decides
    if found == cover.SOLVED and k_range[0] <= labels.max() + 1 <= k_range[1]:
        return SOLVED, labels.tolist(), work
    from ortools.sat.python import cp_model  # only when the cover leaves the piece undecided

    m = cp_model.CpModel()
    x, _ = _model(m, inst, t, slots=k_range[1], k_range=k_range, alike=0)
    solver = _solver(limit - work, seed)
    status = solver.solve(m)
    work += solver.deterministic_time
    if status == cp_model.INFEASIBLE:
        return INFEASIBLE, None, work
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return UNDECIDED, None, work
    return SOLVED, _read(solver, x), work


def _model(m, inst: Instance, t: Targets, *, slots: int, k_range: tuple[int, int], alike: int):
    """Add the model to ``m``: ``x[i][g]`` (atom ``i`` in grid slot ``g``) and whether each pair shares a grid.

    Slots from ``alike`` on are interchangeable (all of them in a fresh division, the new
    ones in a re-division): they are used in order, and in the order of their roots. Any
    number of slots in ``k_range`` is used.
    """
    n = inst.n
    h, p = inst.households, inst.population
    x = [[m.new_bool_var(f"x{i}_{g}") for g in range(slots)] for i in range(n)]
    used = [m.new_bool_var(f"u{g}") for g in range(slots)]
    for i in range(n):
        m.add_exactly_one(x[i])
        for g in range(slots):
            m.add_implication(x[i][g], used[g])
    m.add_linear_constraint(sum(used), k_range[0], k_range[1])
    for g in range(slots):
        m.add_linear_constraint(sum(h[i] * x[i][g] for i in range(n)), t.h_min, t.h_max).only_enforce_if(used[g])
        m.add_linear_constraint(sum(p[i] * x[i][g] for i in range(n)), t.p_min, t.p_max).only_enforce_if(used[g])
    root = [[m.new_bool_var(f"r{i}_{g}") for g in range(slots)] for i in range(n)]
    depth = [m.new_int_var(0, max(0, n - 1), f"d{i}") for i in range(n)]
    pairs = sorted((i, j) for i in range(n) for j in inst.nbrs[i] if i < j)
    same = {e: m.new_bool_var(f"s{e[0]}_{e[1]}") for e in pairs}
    # the root is the grid's lowest atom: ``first[g]`` is no higher than any of its atoms
    first = [m.new_int_var(0, max(0, n - 1), f"f{g}") for g in range(slots)]
    for g in range(slots):
        m.add(sum(root[i][g] for i in range(n)) == used[g])
        for i in range(n):
            m.add_implication(root[i][g], x[i][g])
            m.add(first[g] <= i).only_enforce_if(x[i][g])
            m.add(first[g] == i).only_enforce_if(root[i][g])
    for (i, j), s in same.items():
        for g in range(slots):
            m.add_bool_or([s.Not(), x[i][g].Not(), x[j][g]])
            m.add_bool_or([s.Not(), x[j][g].Not(), x[i][g]])
    for i in range(n):
        arcs = []
        for j in sorted(inst.nbrs[i]):
            arc = m.new_bool_var(f"a{i}_{j}")
            m.add_implication(arc, same[(min(i, j), max(i, j))])
            m.add(depth[i] >= depth[j] + 1).only_enforce_if(arc)
            arcs.append(arc)
        m.add(sum(arcs) + sum(root[i]) == 1)
    for i, j in _apart(inst, t):
        for g in range(slots):
            m.add_bool_or([x[i][g].Not(), x[j][g].Not()])
    for g in range(alike, slots):
        for i in range(min(n, g - alike)):
            m.add(x[i][g] == 0)  # the g-th interchangeable grid's root is at least its g-th atom
    for g in range(alike, slots - 1):
        m.add_implication(used[g + 1], used[g])
        m.add(first[g + 1] >= first[g] + 1).only_enforce_if(used[g + 1])
    return x, same


def _fewer_moves(
    swept: Instance,
    perm: list[int],
    found: list[int],
    k_range: tuple[int, int],
    t: Targets,
    previous: Sequence[int],
    limit: float,
    seed: int,
) -> tuple[list[int], float, int]:
    """Change a division found so that as few households as possible leave their previous grid.

    Every previous grid of the piece is a slot of its own (it may end up empty: retired),
    plus new slots up to the most grids the totals allow. Starts from ``found``, so the
    result is never worse than it; ties go to shorter boundaries between grids.
    """
    from ortools.sat.python import cp_model
    from scipy.optimize import linear_sum_assignment

    n = swept.n
    h = swept.households
    prev = [int(previous[v]) for v in perm]
    labels = sorted({v for v in prev if v >= 0})
    slot_of = {lab: s for s, lab in enumerate(labels)}
    prev_slot = [slot_of.get(v, -1) for v in prev]
    slots = max(k_range[1], len(labels))
    here = [found[v] for v in perm]
    k_found = max(here) + 1
    # the division found, with each grid in the slot of the previous grid it shares most households with
    overlap = np.zeros((k_found, slots))
    for i in range(n):
        if prev_slot[i] >= 0:
            overlap[here[i], prev_slot[i]] += max(1, h[i])
    rows, cols = linear_sum_assignment(-overlap)
    start_slot = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    start = [start_slot[g] for g in here]
    moved_before = sum(h[i] for i in range(n) if prev_slot[i] >= 0 and start[i] != prev_slot[i])
    if limit <= 0 or moved_before == 0:
        return found, 0.0, moved_before
    m = cp_model.CpModel()
    x, same = _model(m, swept, t, slots=slots, k_range=k_range, alike=len(labels))
    moved = sum(h[i] * (1 - x[i][prev_slot[i]]) for i in range(n) if prev_slot[i] >= 0)
    length = {e: max(1, round(swept.nbrs[e[0]][e[1]][0])) for e in same}
    boundary = sum(length[e] * (1 - s) for e, s in same.items())
    m.minimize((sum(length.values()) + 1) * moved + boundary)
    # the new slots' order constraints would reject the start unless its new grids come in root order
    fresh_slots = sorted({s for s in start if s >= len(labels)}, key=lambda s: start.index(s))
    rename = {s: len(labels) + r for r, s in enumerate(fresh_slots)}
    start = [rename.get(s, s) for s in start]
    for i in range(n):
        for g in range(slots):
            m.add_hint(x[i][g], start[i] == g)
    solver = _solver(limit, seed)
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return found, solver.deterministic_time, moved_before
    better = _read(solver, x)
    after = sum(h[i] for i in range(n) if prev_slot[i] >= 0 and better[i] != prev_slot[i])
    if after >= moved_before:
        return found, solver.deterministic_time, moved_before
    out = [0] * n
    for i, v in enumerate(perm):
        out[v] = better[i]
    return out, solver.deterministic_time, after


# ---------------------------------------------------------------- helpers


def _apart(inst: Instance, t: Targets) -> list[tuple[int, int]]:
    """Pairs of atoms that no grid in range can hold together.

    A grid holding atoms ``i`` and ``j`` holds a path between them; when the lightest
    such path (counting the households, or the residents, of every atom on it) is over
    a maximum, they can never share a grid.
    """
    n = inst.n
    out = []
    for weights, cap in ((inst.households, t.h_max), (inst.population, t.p_max)):
        for s in range(n):
            best = {s: weights[s]}
            heap = [(weights[s], s)]
            while heap:
                d, v = heapq.heappop(heap)
                if d > best.get(v, d) or d > cap:
                    continue
                for w in inst.nbrs[v]:
                    nd = d + weights[w]
                    if nd <= cap and nd < best.get(w, cap + 1):
                        best[w] = nd
                        heapq.heappush(heap, (nd, w))
            out.extend((s, j) for j in range(s + 1, n) if j not in best)
    return sorted(set(out))


def _solver(limit: float, seed: int):
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    # the model's linear relaxation is weak (every range is a conditional constraint): measured
    # on Taipei's villages, searching without it decided them about four times sooner
    solver.parameters.linearization_level = 0
    # and without presolve: on these small models it cost more than it saved (a fifth of the time)
    solver.parameters.cp_model_presolve = False
    # one worker and a deterministic limit: the same answer on every machine and runner
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = int(seed) % 2**31
    solver.parameters.max_deterministic_time = max(0.0, float(limit))
    return solver


def _read(solver, x) -> list[int]:
    return [next(g for g, var in enumerate(row) if solver.boolean_value(var)) for row in x]


def _ordered(assignment: list[int]) -> list[int]:
    """Labels 0..k-1 in order of first appearance."""
    order: dict[int, int] = {}
    return [order.setdefault(g, len(order)) for g in assignment]


def _inverse(perm: list[int]) -> list[int]:
    inv = [0] * len(perm)
    for new, old in enumerate(perm):
        inv[old] = new
    return inv


def _sweep_order(inst: Instance) -> list[int]:
    """Atoms in breadth-first order from a far end of the piece (old index at each new position)."""

    def bfs(s: int) -> list[int]:
        seen, order = {s}, [s]
        for v in order:
            for w in sorted(inst.nbrs[v]):
                if w not in seen:
                    seen.add(w)
                    order.append(w)
        return order + [v for v in range(inst.n) if v not in seen]

    return bfs(bfs(0)[-1]) if inst.n else []


def _renumbered(inst: Instance, perm: list[int]) -> Instance:
    new = _inverse(perm)
    return Instance(
        [inst.households[v] for v in perm],
        [inst.population[v] for v in perm],
        [inst.area[v] for v in perm],
        [inst.perimeter[v] for v in perm],
        [{new[w]: val for w, val in inst.nbrs[v].items()} for v in perm],
    )
