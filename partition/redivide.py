"""Re-division: adjust a previous plan after population change, moving as few households as possible.

Grids still in range and away from any trouble are kept as they are, with their codes.
Trouble is a grid off range (with the new counts), a grid that holds new units, or a
unit now over a maximum on its own. The region re-solved is the trouble grids and the
unlocked grids around them; when the solver cannot bring that region back in range it
grows by one more ring of neighbouring grids, up to :data:`MAX_RINGS`, and then to the
whole container (locked grids always excepted). Each attempt runs the exact search on
pieces the heuristic leaves off range (one budget for the whole container), which moves
as few households as it can; its proof that a piece cannot be all in range counts for
the community only when the piece is a whole connected piece of it, not a region.

New grids of a re-solved region inherit the code of the previous grid they share most
households with (an optimal one-to-one matching), so residents keep their grid and its
worker wherever the grid survives; the others get new sequence numbers, and codes of
retired grids are never reused.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from gis.columns import STATUS_OVERSIZED
from partition.exact import INFEASIBLE, ExactBudget
from partition.explain import diagnose_grid, proof_note
from partition.graph import components
from partition.pieces import exact_entry, oversized_note, solve_piece

__all__ = ["MAX_RINGS", "Redivision", "redivide_container", "sequence_of"]

MAX_RINGS = 3


@dataclass
class Redivision:
    """Labels per atom (kept grids keep their previous label), codes per label, and what changed."""

    labels: np.ndarray
    codes: dict[int, str]  # label -> inherited previous code (new grids without one are absent)
    flags: dict[int, str]
    notes: dict[int, str]
    kept: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    rings: int = 0
    region_atoms: int = 0
    pieces: list[dict] = field(default_factory=list)
    proofs: list[dict] = field(default_factory=list)  # whole pieces proved unable to be all in range
    exact_work: float = 0.0


def sequence_of(code: str) -> int:
    """The grid's sequence number: the last three digits of its code."""
    tail = str(code)[-3:]
    return int(tail) if tail.isdigit() else 0


def redivide_container(task, previous: np.ndarray, previous_codes: list[str], locked: frozenset[str]) -> Redivision:
    """Re-solve the troubled part of one container.

    Parameters
    ----------
    task
        The container's :class:`~partition.container.ContainerTask` (atoms with new counts).
    previous
        Per atom, the index into ``previous_codes`` of its previous grid, or -1 for a
        unit the previous plan did not have.
    previous_codes
        Codes of the previous plan's grids in this container.
    locked
        Codes of grids that must not change.
    """
    t = task.targets
    n_prev = len(previous_codes)
    h = np.asarray(task.households, dtype=np.int64)
    p = np.asarray(task.population, dtype=np.int64)
    is_locked = np.array([c in locked for c in previous_codes], dtype=bool)
    oversized = np.array([t.oversized(int(a), int(b)) for a, b in zip(h, p, strict=True)], dtype=bool)

    known = previous >= 0
    g_h = np.bincount(previous[known], weights=h[known], minlength=n_prev)
    g_p = np.bincount(previous[known], weights=p[known], minlength=n_prev)
    g_n = np.bincount(previous[known], minlength=n_prev)
    g_over = np.bincount(previous[known & oversized], minlength=n_prev)
    lone_oversized = (g_over == 1) & (g_n == 1)
    in_range = np.array([t.in_range(int(a), int(b)) for a, b in zip(g_h, g_p, strict=True)], dtype=bool)
    trouble = (~in_range & ~lone_oversized) | ((g_over > 0) & ~lone_oversized)
    new_units = ~known
    if new_units.any():
        # a new unit troubles the grids it touches
        for a, b in zip(task.left, task.right, strict=True):
            for x, y in ((a, b), (b, a)):
                if new_units[x] and previous[y] >= 0:
                    trouble[previous[y]] = True
    # a grid kept must still be one piece over the container's usable steps: a hard barrier (a river,
    # a railway) stored since the plan was made may cut it, and then it is re-solved as a grid off range is
    trouble |= _cut_by_hard_barriers(task, previous, n_prev)
    trouble &= ~is_locked

    neighbours = _grid_neighbours(task, previous, n_prev)
    budget = ExactBudget(task.exact_seconds) if task.exact_seconds > 0 else None
    # the container's connected pieces, as a fresh partition sees them: a proof on one of them
    # is a proof for the community
    whole = ~oversized[task.left] & ~oversized[task.right]
    piece_of = components(len(h), task.left[whole], task.right[whole])
    proofs: dict[frozenset[int], dict] = {}
    best: tuple | None = None
    region = trouble.copy()
    for ring in range(MAX_RINGS + 2):
        if ring > 0:
            grown = region.copy()
            for g in np.flatnonzero(region):
                grown[list(neighbours[g])] = True
            if ring == MAX_RINGS + 1:
                grown[:] = True  # last resort: the whole container
            grown &= ~is_locked
            if grown.sum() == region.sum() and ring > 1:
                break
            region = grown
        attempt = _solve_region(task, previous, region, new_units, oversized, n_prev, ring, budget, piece_of, proofs)
        score = (attempt[2], ring)
        if best is None or score < best[0]:
            best = (score, ring, region.copy(), attempt)
        if attempt[2] == 0:
            break
        if not trouble.any() and not new_units.any():
            break
    assert best is not None
    _, ring, region, (labels, notes_by_label, _off, pieces, flags) = best
    for g in np.flatnonzero(lone_oversized & ~region):
        # a kept grid of one unit over a maximum is that unit's own grid, as in a fresh plan
        i = int(np.flatnonzero(previous == g)[0])
        flags[int(g)] = STATUS_OVERSIZED
        notes_by_label[int(g)] = oversized_note(int(h[i]), int(p[i]), t)
    red = _finish(task, previous, previous_codes, region, labels, notes_by_label, flags, pieces, ring, n_prev)
    red.proofs = list(proofs.values())
    red.exact_work = 0.0 if budget is None else round(budget.spent, 6)
    return red


def _cut_by_hard_barriers(task, previous: np.ndarray, n_prev: int) -> np.ndarray:
    """Per previous grid: whether its atoms fall apart over the usable steps (none crosses a hard barrier)."""
    inside = (previous[task.left] == previous[task.right]) & (previous[task.left] >= 0)
    piece = components(len(previous), task.left[inside], task.right[inside])
    known = previous >= 0
    if not known.any():
        return np.zeros(n_prev, dtype=bool)
    grid_pieces = np.unique(np.stack([previous[known], piece[known]], axis=1), axis=0)
    return np.bincount(grid_pieces[:, 0], minlength=n_prev) > 1


def _grid_neighbours(task, previous: np.ndarray, n_prev: int) -> list[set[int]]:
    out: list[set[int]] = [set() for _ in range(n_prev)]
    for a, b in zip(task.left, task.right, strict=True):
        ga, gb = previous[a], previous[b]
        if ga >= 0 and gb >= 0 and ga != gb:
            out[ga].add(int(gb))
            out[gb].add(int(ga))
    return out


def _solve_region(task, previous, region, new_units, oversized, n_prev, ring, budget, piece_of, proofs):
    """Labels for every atom: kept grids keep their index, the region is solved anew (labels >= n_prev)."""
    t = task.targets
    n = len(task.households)
    labels = np.where(previous >= 0, previous, -1).astype(np.int64)
    free = np.zeros(n, dtype=bool)
    free[(previous >= 0) & region[np.maximum(previous, 0)]] = True
    free |= new_units
    next_label = n_prev
    flags: dict[int, str] = {}
    notes: dict[int, str] = {}
    for i in np.flatnonzero(free & oversized):
        labels[i] = next_label
        flags[next_label] = STATUS_OVERSIZED
        notes[next_label] = oversized_note(int(task.households[i]), int(task.population[i]), t)
        next_label += 1
    solvable = free & ~oversized
    keep = solvable[task.left] & solvable[task.right]
    comp = components(n, task.left[keep], task.right[keep])
    off_total = 0
    pieces: list[dict] = []
    for piece_no, c in enumerate(sorted(set(comp[solvable].tolist()))):
        members = np.flatnonzero((comp == c) & solvable)
        if task.households[members].sum() == 0:
            # an unpopulated piece joins a kept neighbouring grid if it has one, else stands alone
            labels[members] = next_label
            notes[next_label] = "an unpopulated piece of the community; it needs no grid worker of its own"
            next_label += 1
            continue
        mask = np.isin(task.left, members) & np.isin(task.right, members)
        rng = np.random.default_rng([task.seed, zlib.crc32(task.container_id.encode()), 7919, ring, piece_no])
        inst, feas, sol = solve_piece(task, members, mask, rng, budget=budget, previous=previous[members])
        labels[members] = np.asarray(sol.assignment, dtype=np.int64) + next_label
        off_total += sol.off_range
        piece = {
            "piece": piece_no,
            "units": len(members),
            **feas.to_dict(),
            "grids": sol.k,
            "grids_off_range": sol.off_range,
            "ring": ring,
            **exact_entry(sol),
        }
        pieces.append(piece)
        proved = ""
        if sol.exact == INFEASIBLE and int((piece_of == piece_of[members[0]]).sum()) == len(members):
            proved = proof_note(len(members), feas, t)
            proofs.setdefault(frozenset(members.tolist()), {**piece, "proof": proved})
        for g in range(sol.k):
            why = diagnose_grid(inst, sol.assignment, g, t) if feas.feasible else ""
            notes[next_label + g] = f"{proved}; {why}" if proved and why else why or proved or feas.reason
        next_label += sol.k
    return labels, notes, off_total, pieces, flags


def _finish(task, previous, previous_codes, region, labels, notes, flags, pieces, ring, n_prev) -> Redivision:
    """Match the region's new grids to previous codes by shared households; list kept, changed, retired."""
    from scipy.optimize import linear_sum_assignment  # imported here: scipy.optimize takes a second to import

    h = np.asarray(task.households, dtype=np.int64)
    region_prev = [g for g in range(n_prev) if region[g]]
    new_labels = sorted({int(x) for x in labels.tolist() if x >= n_prev})
    codes: dict[int, str] = {g: previous_codes[g] for g in range(n_prev) if not region[g]}
    changed: list[str] = []
    if region_prev and new_labels:
        overlap = np.zeros((len(new_labels), len(region_prev)))
        row = {lab: i for i, lab in enumerate(new_labels)}
        col = {g: j for j, g in enumerate(region_prev)}
        for a in range(len(labels)):
            if labels[a] >= n_prev and previous[a] >= 0 and previous[a] in col:
                overlap[row[int(labels[a])], col[int(previous[a])]] += max(int(h[a]), 1)
        rows, cols = linear_sum_assignment(-overlap)
        for r, c in zip(rows, cols, strict=True):
            if overlap[r, c] > 0:
                lab, g = new_labels[r], region_prev[c]
                codes[lab] = previous_codes[g]
                same = np.array_equal(np.flatnonzero(labels == lab), np.flatnonzero(previous == g))
                if not same:
                    changed.append(previous_codes[g])
    inherited = set(codes.values())
    kept = sorted(previous_codes[g] for g in range(n_prev) if not region[g])
    kept += sorted(c for c in inherited if c in {previous_codes[g] for g in region_prev} and c not in changed)
    retired = sorted(c for c in previous_codes if c not in inherited)
    region_atoms = int(np.isin(labels, new_labels).sum())
    return Redivision(
        labels=labels,
        codes=codes,
        flags=flags,
        notes=notes,
        kept=sorted(kept),
        changed=sorted(changed),
        retired=retired,
        rings=ring,
        region_atoms=region_atoms,
        pieces=pieces,
    )
