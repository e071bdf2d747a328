"""The exact search's first way: list every grid a piece allows, then cover the piece with them.

A village's piece has tens of atoms and a grid in range holds a handful, so every
connected set of atoms whose households and residents both lie in range can be listed
(measured on Taipei's villages: a few thousand to a few hundred thousand). A plan with
every grid in range is then a choice of such sets that covers each atom exactly once.
Every such plan, whatever its grid count, is such a cover, so when no choice covers the
piece, that proves that no plan of any count exists.

The search covers the lowest atom not yet covered (atoms come in the exact search's
breadth-first sweep, so the covered part grows as a front across the piece) with each
listed set holding it, depth first. It cuts a branch when a pocket of uncovered atoms,
cut off from the rest, has totals no number of grids in range can hold, and remembers
every covered set of atoms it has failed from, so no pocket is searched twice.

Both steps count their work, and both stop when the work allowed is spent: the caller
(:mod:`partition.exact`) then hands the piece to CP-SAT. The work is a count, not a
clock, so the same piece gets the same answer on every machine and runner. Atoms are
bits of two 64-bit words: pieces of up to 128 atoms.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.typed import Dict

__all__ = ["COST_PER_UNIT", "INFEASIBLE", "MAX_ATOMS", "SETS_PER_UNIT", "SOLVED", "UNDECIDED", "cover_search"]

MAX_ATOMS = 128
# Work is counted, not timed: each set listed, each set the cover looks at, and each branch it
# takes (BRANCH_COST looks: the memo and the pockets it leaves). Measured on the 2-core bench
# machine on Taipei's villages, 20 million sets are listed (a 47-atom village: 105,584 in 4.5 ms) and
# 475–1,100 million looks are made in a second (that village: 370 million in 0.78 s), so a unit is
# at most about a second, as CP-SAT's deterministic time is.
SETS_PER_UNIT = 20_000_000
COST_PER_UNIT = 400_000_000
BRANCH_COST = 80

SOLVED, INFEASIBLE, UNDECIDED = 0, 1, 2

_ONE = np.uint64(1)
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_SHIFT = np.uint64(58)


def _debruijn_index() -> np.ndarray:
    out = np.zeros(64, dtype=np.int64)
    for i in range(64):
        out[((1 << i) * 0x03F79D71B4CB0A89 % 2**64) >> 58] = i
    return out


_BIT_INDEX = _debruijn_index()
_KEY = types.UniTuple(types.uint64, 2)  # a set of atoms: the covered part the search failed from


def cover_search(
    households: list[int] | np.ndarray,
    population: list[int] | np.ndarray,
    nbrs: list,
    h_range: tuple[int, int],
    p_range: tuple[int, int],
    *,
    max_work: float,
) -> tuple[int, np.ndarray | None, float]:
    """Divide a piece into connected grids with both totals in range, or prove that no division does.

    Parameters
    ----------
    households, population
        Per atom.
    nbrs
        Per atom, its usable neighbours (any iterable of atom indices).
    h_range, p_range
        The household and resident ranges of a grid.
    max_work
        Units of work allowed (about seconds; see :data:`SETS_PER_UNIT` and :data:`COST_PER_UNIT`).

    Returns
    -------
    status, labels, work
        ``SOLVED`` (0) with a grid label per atom, ``INFEASIBLE`` (1) or ``UNDECIDED`` (2,
        the work ran out; labels ``None``), and the work spent in units.

    Examples
    --------
    >>> status, labels, _ = cover_search([200, 350, 200], [650, 1100, 650], [[1], [0, 2], [1]],
    ...                                  (300, 500), (1000, 1500), max_work=1.0)
    >>> status  # the outer two would make a grid, but they do not touch
    1
    >>> cover_search([150, 200, 100, 250], [600] * 4, [[1, 2], [0, 3], [0, 3], [1, 2]],
    ...              (300, 500), (1000, 1500), max_work=1.0)[1].tolist()
    [0, 0, 1, 1]
    """
    n = len(households)
    if n > MAX_ATOMS:
        raise ValueError(f"the cover search takes pieces of at most {MAX_ATOMS} atoms, got {n}")
    if min(h_range[0], p_range[0]) < 1:
        raise ValueError(f"the cover search needs minimums of at least 1, got {h_range} and {p_range}")
    h = np.asarray(households, dtype=np.int64)
    p = np.asarray(population, dtype=np.int64)
    nb = np.zeros((n, 2), dtype=np.uint64)
    for i, near in enumerate(nbrs):
        for j in map(int, near):  # Python ints: a NumPy int32 would shift within 32 bits
            nb[i, j >> 6] |= np.uint64(1 << (j & 63))
    max_work = max(0.0, float(max_work))
    if n == 0 or max_work * COST_PER_UNIT < 1:
        return UNDECIDED, None, 0.0
    # whole counts in range: a fractional bound admits the whole counts inside it
    h_lo, h_hi = math.ceil(h_range[0]), math.floor(h_range[1])
    p_lo, p_hi = math.ceil(p_range[0]), math.floor(p_range[1])
    sets, start, listed = _connected_sets(nb, h, p, h_lo, h_hi, p_lo, p_hi, int(max_work * SETS_PER_UNIT))
    work = listed / SETS_PER_UNIT
    if work > max_work:
        return UNDECIDED, None, max_work
    status, chosen, cost = _cover(sets, start, nb, h, p, h_lo, h_hi, p_lo, p_hi, int((max_work - work) * COST_PER_UNIT))
    work = min(max_work, work + cost / COST_PER_UNIT)
    if status != SOLVED:
        return status, None, work
    labels = np.full(n, -1, dtype=np.int64)
    for g, i in enumerate(chosen):
        for a in range(n):
            if sets[i, a >> 6] & np.uint64(1 << (a & 63)):
                labels[a] = g
    return SOLVED, labels, work


@njit(cache=True)
def _bit(i):
    return _ONE << np.uint64(i & 63)


@njit(cache=True)
def _lowest(w0, w1):
    """Index of the lowest set bit of a two-word set (which must not be empty)."""
    if w0 != 0:
        return _BIT_INDEX[((w0 & (~w0 + _ONE)) * _DEBRUIJN) >> _DEBRUIJN_SHIFT]
    return 64 + _BIT_INDEX[((w1 & (~w1 + _ONE)) * _DEBRUIJN) >> _DEBRUIJN_SHIFT]


@njit(cache=True)
def _connected_sets(nb, h, p, h_lo, h_hi, p_lo, p_hi, budget):
    """Every connected set of atoms with both totals in range, grouped by its lowest atom.

    Sets are grown from each atom over higher ones, each exactly once (Wernicke's ESU: a set
    grows only by neighbours of its newest atom that no earlier atom of it touches, or by
    those set aside before); a set over a maximum is not grown further, since counts never
    shrink. Returns the sets, where each atom's begin, and how many sets were grown (over
    ``budget``: given up).
    """
    n = h.shape[0]
    out = np.empty((1024, 2), dtype=np.uint64)
    m = 0
    start = np.zeros(n + 1, dtype=np.int64)
    grown = 0
    S = np.zeros((n + 1, 2), dtype=np.uint64)
    ext = np.zeros((n + 1, 2), dtype=np.uint64)
    excl = np.zeros((n + 1, 2), dtype=np.uint64)
    hs = np.zeros(n + 1, dtype=np.int64)
    ps = np.zeros(n + 1, dtype=np.int64)
    for v in range(n):
        start[v] = m
        if h[v] > h_hi or p[v] > p_hi:
            continue
        above = np.zeros(2, dtype=np.uint64)  # atoms after v
        for a in range(v + 1, n):
            above[a >> 6] |= _bit(a)
        S[0, 0] = 0
        S[0, 1] = 0
        S[0, v >> 6] = _bit(v)
        for w in range(2):
            ext[0, w] = nb[v, w] & above[w]
            excl[0, w] = nb[v, w] | S[0, w]
        hs[0] = h[v]
        ps[0] = p[v]
        grown += 1
        if hs[0] >= h_lo and ps[0] >= p_lo:
            if m == out.shape[0]:
                out = _grown(out)
            out[m, 0] = S[0, 0]
            out[m, 1] = S[0, 1]
            m += 1
        level = 0
        while level >= 0:
            if ext[level, 0] == 0 and ext[level, 1] == 0:
                level -= 1
                continue
            w = _lowest(ext[level, 0], ext[level, 1])
            ext[level, w >> 6] &= ~_bit(w)
            nh = hs[level] + h[w]
            np_ = ps[level] + p[w]
            if nh > h_hi or np_ > p_hi:
                continue
            grown += 1
            if grown > budget:
                start[v + 1 :] = m
                return out[:m], start, grown
            nxt = level + 1
            for k in range(2):
                S[nxt, k] = S[level, k]
                ext[nxt, k] = ext[level, k] | (nb[w, k] & ~excl[level, k] & above[k])
                excl[nxt, k] = excl[level, k] | nb[w, k]
            S[nxt, w >> 6] |= _bit(w)
            excl[nxt, w >> 6] |= _bit(w)
            hs[nxt] = nh
            ps[nxt] = np_
            if nh >= h_lo and np_ >= p_lo:
                if m == out.shape[0]:
                    out = _grown(out)
                out[m, 0] = S[nxt, 0]
                out[m, 1] = S[nxt, 1]
                m += 1
            level = nxt
    start[n] = m
    return out[:m], start, grown


@njit(cache=True)
def _grown(out):
    bigger = np.empty((2 * out.shape[0], 2), dtype=np.uint64)
    bigger[: out.shape[0]] = out
    return bigger


@njit(cache=True)
def _pockets_hold(c0, c1, f0, f1, nb, h, p, h_lo, h_hi, p_lo, p_hi):
    """Whether every pocket of atoms outside the covered set ``c`` has totals some grid count holds."""
    u0 = f0 & ~c0
    u1 = f1 & ~c1
    while u0 != 0 or u1 != 0:
        s = _lowest(u0, u1)
        comp0 = np.uint64(0)
        comp1 = np.uint64(0)
        if s < 64:
            comp0 = _bit(s)
        else:
            comp1 = _bit(s)
        front0, front1 = comp0, comp1
        total_h = 0
        total_p = 0
        while front0 != 0 or front1 != 0:
            v = _lowest(front0, front1)
            if v < 64:
                front0 &= ~_bit(v)
            else:
                front1 &= ~_bit(v)
            total_h += h[v]
            total_p += p[v]
            new0 = nb[v, 0] & u0 & ~comp0
            new1 = nb[v, 1] & u1 & ~comp1
            comp0 |= new0
            comp1 |= new1
            front0 |= new0
            front1 |= new1
        u0 &= ~comp0
        u1 &= ~comp1
        k_lo = max(1, (total_h + h_hi - 1) // h_hi, (total_p + p_hi - 1) // p_hi)
        k_hi = min(total_h // h_lo, total_p // p_lo)
        if k_lo > k_hi:
            return False
    return True


@njit(cache=True)
def _cover(sets, start, nb, h, p, h_lo, h_hi, p_lo, p_hi, budget):
    """Depth-first exact cover of the atoms by ``sets``; returns status, the sets chosen, the work counted."""
    n = h.shape[0]
    f0 = np.uint64(0)
    f1 = np.uint64(0)
    for a in range(n):
        if a < 64:
            f0 |= _bit(a)
        else:
            f1 |= _bit(a)
    cov = np.zeros((n + 1, 2), dtype=np.uint64)
    atom = np.zeros(n + 1, dtype=np.int64)
    pos = np.zeros(n + 1, dtype=np.int64)
    failed = Dict.empty(key_type=_KEY, value_type=types.boolean)
    cost = 0
    empty = np.zeros(0, dtype=np.int64)
    if not _pockets_hold(np.uint64(0), np.uint64(0), f0, f1, nb, h, p, h_lo, h_hi, p_lo, p_hi):
        return INFEASIBLE, empty, cost
    depth = 0
    atom[0] = 0
    pos[0] = start[0]
    while depth >= 0:
        a = atom[depth]
        deeper = False
        while pos[depth] < start[a + 1]:
            i = pos[depth]
            pos[depth] += 1
            cost += 1  # every set looked at counts, the ones that clash with the covered part too
            if cost > budget:
                return UNDECIDED, empty, cost
            if (sets[i, 0] & cov[depth, 0]) != 0 or (sets[i, 1] & cov[depth, 1]) != 0:
                continue
            cost += BRANCH_COST  # a branch: the memo and the pockets of what it leaves
            c0 = cov[depth, 0] | sets[i, 0]
            c1 = cov[depth, 1] | sets[i, 1]
            if c0 == f0 and c1 == f1:
                chosen = np.empty(depth + 1, dtype=np.int64)
                for d in range(depth + 1):
                    chosen[d] = pos[d] - 1
                return SOLVED, chosen, cost
            if (c0, c1) in failed:
                continue
            if not _pockets_hold(c0, c1, f0, f1, nb, h, p, h_lo, h_hi, p_lo, p_hi):
                failed[(c0, c1)] = True
                continue
            nxt = a + 1  # the lowest atom left: atoms below ``a`` are covered already
            while nxt < n and ((c0 if nxt < 64 else c1) & _bit(nxt)) != 0:
                nxt += 1
            depth += 1
            cov[depth, 0] = c0
            cov[depth, 1] = c1
            atom[depth] = nxt
            pos[depth] = start[nxt]
            deeper = True
            break
        if not deeper:
            if depth > 0:
                failed[(cov[depth, 0], cov[depth, 1])] = True
            depth -= 1
    return INFEASIBLE, empty, cost
