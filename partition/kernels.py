"""Compiled search loops of the solver (numba): tabu repair, ReCom recombination, polishing.

:mod:`partition.solver` keeps the plan of the search (METIS starts, restarts, which grid
counts, time budget); these functions run its inner loops on flat arrays, where the
pure-Python versions spent about 70 % of a nested Taipei run in dictionary and set
operations. Their semantics are those of the solver's docstrings:

- a *graph* is the tuple ``(indptr, indices, shared, soft, households, population, area,
  perimeter)``: CSR adjacency with neighbours in ascending order, and the atoms' figures;
- a *state* is the tuple ``(a, size, H, P, A, L, C, soft_inside)``: the grid of each atom,
  and per grid its atom count, households, residents, area, perimeter and cost, plus a
  one-element array with the soft-barrier crossings inside grids;
- ``params`` is a float array: ranges, mean grid, scales and weights (see :func:`params`).

All randomness comes from numba's generator, seeded at each call with a seed the caller
draws from its own ``numpy.random.Generator``: the same seed gives the same plan in any
process, on any runner. Functions are compiled on first use and cached on disk
(``cache=True``), so only the first run on a machine pays for compilation.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "grid_cost",
    "init_state",
    "params",
    "polish_pass",
    "rebuild",
    "recombine",
    "repair_region",
    "summary",
]

_FOUR_PI = 4.0 * math.pi
# indices into the params array
H_LO, H_HI, P_LO, P_HI, H_MEAN, P_MEAN, H_SCALE, P_SCALE, W_COMPACT, W_BALANCE, W_HH, W_POP, W_SOFT = range(13)


def params(
    h_lo: int,
    h_hi: int,
    p_lo: int,
    p_hi: int,
    h_mean: float,
    p_mean: float,
    h_scale: float,
    p_scale: float,
    w_compact: float,
    w_balance: float,
    w_households: float,
    w_population: float,
    w_soft: float,
) -> np.ndarray:
    """The cost parameters as the float array the kernels take."""
    return np.array(
        [
            h_lo,
            h_hi,
            p_lo,
            p_hi,
            h_mean,
            p_mean,
            h_scale,
            p_scale,
            w_compact,
            w_balance,
            w_households,
            w_population,
            w_soft,
        ],
        dtype=np.float64,
    )


@njit(cache=True)
def _dev(x, lo, hi):
    if x < lo:
        return lo - x
    if x > hi:
        return x - hi
    return 0.0


@njit(cache=True)
def grid_cost(h, p, area, per, prm):
    """Cost of one grid: range deviations, compactness (perimeter² / 4π area) and balance."""
    dh = _dev(h, prm[H_LO], prm[H_HI])
    dp = _dev(p, prm[P_LO], prm[P_HI])
    compact = (per * per) / (_FOUR_PI * area) if area > 0 else 0.0
    bh = (h - prm[H_MEAN]) * prm[H_SCALE]
    bp = (p - prm[P_MEAN]) * prm[P_SCALE]
    return prm[W_HH] * dh + prm[W_POP] * dp + prm[W_COMPACT] * compact + prm[W_BALANCE] * (bh * bh + bp * bp)


@njit(cache=True)
def _off(H, P, g, prm):
    h, p = H[g], P[g]
    return h < prm[H_LO] or h > prm[H_HI] or p < prm[P_LO] or p > prm[P_HI]


@njit(cache=True)
def _grid_perimeter(graph, a, g):
    indptr, indices, shared = graph[0], graph[1], graph[2]
    per = graph[7]
    total = 0.0
    for i in range(a.shape[0]):
        if a[i] != g:
            continue
        total += per[i]
        for e in range(indptr[i], indptr[i + 1]):
            if a[indices[e]] == g:
                total -= shared[e]
    return total


@njit(cache=True)
def _soft_inside(graph, a):
    indptr, indices, soft = graph[0], graph[1], graph[3]
    total = 0
    for i in range(a.shape[0]):
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if j > i and soft[e] and a[i] == a[j]:
                total += soft[e]
    return total


@njit(cache=True)
def init_state(graph, a, k, prm):
    """Per-grid totals and costs of assignment ``a`` (copied) into ``k`` grids."""
    hh, pp, area = graph[4], graph[5], graph[6]
    a = a.copy()
    size = np.zeros(k, np.int64)
    H = np.zeros(k, np.int64)
    P = np.zeros(k, np.int64)
    A = np.zeros(k, np.float64)
    L = np.zeros(k, np.float64)
    C = np.zeros(k, np.float64)
    for i in range(a.shape[0]):
        g = a[i]
        size[g] += 1
        H[g] += hh[i]
        P[g] += pp[i]
        A[g] += area[i]
    for g in range(k):
        L[g] = _grid_perimeter(graph, a, g)
        C[g] = grid_cost(H[g], P[g], A[g], L[g], prm)
    soft = np.zeros(1, np.int64)
    soft[0] = _soft_inside(graph, a)
    return a, size, H, P, A, L, C, soft


@njit(cache=True)
def rebuild(graph, state, grids, prm):
    """Recompute the totals of ``grids`` after their atoms were reassigned wholesale."""
    a, size, H, P, A, L, C, soft = state
    hh, pp, area = graph[4], graph[5], graph[6]
    for g in grids:
        size[g] = 0
        H[g] = 0
        P[g] = 0
        A[g] = 0.0
    for i in range(a.shape[0]):
        g = a[i]
        for r in grids:
            if r == g:
                size[g] += 1
                H[g] += hh[i]
                P[g] += pp[i]
                A[g] += area[i]
                break
    for g in grids:
        L[g] = _grid_perimeter(graph, a, g)
        C[g] = grid_cost(H[g], P[g], A[g], L[g], prm)
    soft[0] = _soft_inside(graph, a)


@njit(cache=True)
def _move_delta(graph, state, u, b, prm):
    """Cost change of moving atom ``u`` into grid ``b``, the two new perimeters and the soft change."""
    indptr, indices, shared, soft = graph[0], graph[1], graph[2], graph[3]
    hh, pp, area, per = graph[4], graph[5], graph[6], graph[7]
    a, _, H, P, A, L, C, _ = state
    g = a[u]
    s_a = 0.0
    s_b = 0.0
    c_a = 0
    c_b = 0
    for e in range(indptr[u], indptr[u + 1]):
        x = a[indices[e]]
        if x == g:
            s_a += shared[e]
            c_a += soft[e]
        elif x == b:
            s_b += shared[e]
            c_b += soft[e]
    la = L[g] - per[u] + 2.0 * s_a
    lb = L[b] + per[u] - 2.0 * s_b
    after = grid_cost(H[g] - hh[u], P[g] - pp[u], A[g] - area[u], la, prm) + grid_cost(
        H[b] + hh[u], P[b] + pp[u], A[b] + area[u], lb, prm
    )
    return after - C[g] - C[b] + prm[W_SOFT] * (c_b - c_a), la, lb, c_b - c_a


@njit(cache=True)
def _apply(graph, state, u, b, la, lb, dsoft, prm):
    hh, pp, area = graph[4], graph[5], graph[6]
    a, size, H, P, A, L, C, soft = state
    g = a[u]
    a[u] = b
    size[g] -= 1
    size[b] += 1
    H[g] -= hh[u]
    P[g] -= pp[u]
    A[g] -= area[u]
    H[b] += hh[u]
    P[b] += pp[u]
    A[b] += area[u]
    L[g] = la
    L[b] = lb
    C[g] = grid_cost(H[g], P[g], A[g], la, prm)
    C[b] = grid_cost(H[b], P[b], A[b], lb, prm)
    soft[0] += dsoft


@njit(cache=True)
def _removable(graph, state, u, seen, stack, stamp):
    """Whether the grid of ``u`` stays non-empty and connected without ``u``.

    ``seen`` is a workspace of stamps (one per atom); ``stamp`` must be new to it.
    """
    indptr, indices = graph[0], graph[1]
    a, size = state[0], state[1]
    g = a[u]
    if size[g] <= 1:
        return False
    inside = 0
    first = -1
    for e in range(indptr[u], indptr[u + 1]):
        if a[indices[e]] == g:
            inside += 1
            if first < 0:
                first = indices[e]
    if inside <= 1:
        return True  # an exclave, or a leaf of its grid
    target = size[g] - 1
    seen[first] = stamp
    count = 1
    top = 0
    stack[top] = first
    top += 1
    while top > 0:
        top -= 1
        x = stack[top]
        for e in range(indptr[x], indptr[x + 1]):
            y = indices[e]
            if y != u and seen[y] != stamp and a[y] == g:
                seen[y] = stamp
                count += 1
                stack[top] = y
                top += 1
        if count == target:
            return True
    return count == target


@njit(cache=True)
def _region_rank(state, in_region, prm):
    H, P = state[2], state[3]
    dh = 0.0
    dp = 0.0
    off = 0
    for g in range(H.shape[0]):
        if in_region[g]:
            eh = _dev(H[g], prm[H_LO], prm[H_HI])
            ep = _dev(P[g], prm[P_LO], prm[P_HI])
            dh += eh
            dp += ep
            if eh > 0 or ep > 0:
                off += 1
    return dh, off, dp


@njit(cache=True)
def _less(a0, a1, a2, a3, b0, b1, b2, b3):
    if a0 != b0:
        return a0 < b0
    if a1 != b1:
        return a1 < b1
    if a2 != b2:
        return a2 < b2
    return a3 < b3


@njit(cache=True)
def repair_region(graph, state, in_region, max_iter, stagnation, seed, prm):
    """Tabu search restricted to moves between grids where ``in_region`` is true; keeps the best state.

    Worsening steps are allowed so surplus can travel along a chain of grids to one with
    room; the tabu list stops the search from undoing a step at once. Returns the steps taken.
    """
    np.random.seed(seed)
    indptr, indices = graph[0], graph[1]
    a = state[0]
    n = a.shape[0]
    nb_grids = np.empty(indptr[n] - indptr[0] + 1, np.int64)
    moved_u = np.empty(max_iter, np.int64)
    moved_from = np.empty(max_iter, np.int64)
    tabu_u = np.empty(max_iter, np.int64)
    tabu_b = np.empty(max_iter, np.int64)
    tabu_until = np.empty(max_iter, np.int64)
    n_tabu = 0
    seen = np.zeros(n, np.int64)
    stack = np.empty(n, np.int64)
    stamp = 0
    r0, r1, r2 = _region_rank(state, in_region, prm)
    b0, b1, b2, b3 = r0, r1, r2, 0.0
    best_len = 0
    n_moves = 0
    cost = 0.0
    it = 0
    since_best = 0
    cap = indptr[n] - indptr[0] + 1  # at most one candidate per directed edge
    c_delta = np.empty(cap, np.float64)
    c_u = np.empty(cap, np.int64)
    c_b = np.empty(cap, np.int64)
    c_la = np.empty(cap, np.float64)
    c_lb = np.empty(cap, np.float64)
    c_ds = np.empty(cap, np.int64)
    while it < max_iter and since_best < stagnation:
        if b0 == 0 and b1 == 0 and best_len == n_moves:
            break
        m = 0
        for u in range(n):
            g = a[u]
            if not in_region[g]:
                continue
            k_nb = 0
            for e in range(indptr[u], indptr[u + 1]):
                b = a[indices[e]]
                if b == g or not in_region[b]:
                    continue
                dup = False
                for q in range(k_nb):
                    if nb_grids[q] == b:
                        dup = True
                        break
                if dup:
                    continue
                nb_grids[k_nb] = b
                k_nb += 1
                delta, la, lb, ds = _move_delta(graph, state, u, b, prm)
                c_delta[m] = delta
                c_u[m] = u
                c_b[m] = b
                c_la[m] = la
                c_lb[m] = lb
                c_ds[m] = ds
                m += 1
        if m == 0:
            break
        # candidates in order of delta, ties in (atom, grid) order; usually the first is taken,
        # so each is picked by a scan rather than sorting them all
        chosen = -1
        last_d = -np.inf
        last_c = -1
        for _ in range(m):
            c = -1
            for q in range(m):
                d = c_delta[q]
                if d < last_d or (d == last_d and q <= last_c):
                    continue
                if c < 0 or d < c_delta[c]:
                    c = q
            last_d, last_c = c_delta[c], c
            u, b = c_u[c], c_b[c]
            until = -1
            for t in range(n_tabu - 1, -1, -1):
                if tabu_u[t] == u and tabu_b[t] == b:
                    until = tabu_until[t]
                    break
            if until >= it and cost + c_delta[c] >= b3 - 1e-9:
                continue
            stamp += 1
            if not _removable(graph, state, u, seen, stack, stamp):
                continue
            chosen = c
            break
        if chosen < 0:
            break
        u, b = c_u[chosen], c_b[chosen]
        g = a[u]
        _apply(graph, state, u, b, c_la[chosen], c_lb[chosen], c_ds[chosen], prm)
        moved_u[n_moves] = u
        moved_from[n_moves] = g
        n_moves += 1
        cost += c_delta[chosen]
        tabu_u[n_tabu] = u
        tabu_b[n_tabu] = g
        tabu_until[n_tabu] = it + 5 + np.random.randint(0, 4)
        n_tabu += 1
        it += 1
        r0, r1, r2 = _region_rank(state, in_region, prm)
        since_best += 1
        if _less(r0, r1, r2, cost, b0, b1, b2, b3):
            b0, b1, b2, b3 = r0, r1, r2, cost
            best_len = n_moves
            since_best = 0
            if r0 == 0 and r1 == 0:
                break
    # rewind to the best state seen
    while n_moves > best_len:
        n_moves -= 1
        u, g = moved_u[n_moves], moved_from[n_moves]
        _, la, lb, ds = _move_delta(graph, state, u, g, prm)
        _apply(graph, state, u, g, la, lb, ds, prm)
    return it


@njit(cache=True)
def grid_neighbours(graph, a, g, k):
    """Grids touching grid ``g``, ascending."""
    indptr, indices = graph[0], graph[1]
    mark = np.zeros(k, np.bool_)
    for u in range(a.shape[0]):
        if a[u] != g:
            continue
        for e in range(indptr[u], indptr[u + 1]):
            b = a[indices[e]]
            if b != g:
                mark[b] = True
    count = 0
    for b in range(k):
        if mark[b]:
            count += 1
    out = np.empty(count, np.int64)
    count = 0
    for b in range(k):
        if mark[b]:
            out[count] = b
            count += 1
    return out


@njit(cache=True)
def _random_tree(graph, nodes, mark, stamp, t_ptr, t_adj):
    """A random spanning tree of ``nodes`` (Kruskal on a random edge order) as CSR into ``t_ptr``/``t_adj``.

    ``mark[i] == stamp`` tells which atoms are in ``nodes``. Returns the tree's edge count.
    """
    indptr, indices = graph[0], graph[1]
    n = mark.shape[0]
    m = 0
    for i in nodes:
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if j > i and mark[j] == stamp:
                m += 1
    ei = np.empty(m, np.int64)
    ej = np.empty(m, np.int64)
    m = 0
    for i in nodes:
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if j > i and mark[j] == stamp:
                ei[m] = i
                ej[m] = j
                m += 1
    order = np.arange(m)
    for q in range(m - 1, 0, -1):  # Fisher–Yates
        r = np.random.randint(0, q + 1)
        order[q], order[r] = order[r], order[q]
    parent = np.arange(n)
    deg = np.zeros(n + 1, np.int64)
    tu = np.empty(len(nodes), np.int64)
    tv = np.empty(len(nodes), np.int64)
    used = 0
    for q in range(m):
        i, j = ei[order[q]], ej[order[q]]
        ri = i
        while parent[ri] != ri:
            parent[ri] = parent[parent[ri]]
            ri = parent[ri]
        rj = j
        while parent[rj] != rj:
            parent[rj] = parent[parent[rj]]
            rj = parent[rj]
        if ri != rj:
            parent[ri] = rj
            tu[used] = i
            tv[used] = j
            used += 1
            deg[i + 1] += 1
            deg[j + 1] += 1
    t_ptr[0] = 0
    for i in range(n):
        t_ptr[i + 1] = t_ptr[i] + deg[i + 1]
    fill = t_ptr[:n].copy()
    for q in range(used):
        i, j = tu[q], tv[q]
        t_adj[fill[i]] = j
        fill[i] += 1
        t_adj[fill[j]] = i
        fill[j] += 1
    return used


@njit(cache=True)
def _miss(h, p, k, prm):
    dh = max(0.0, prm[H_LO] * k - h) + max(0.0, h - prm[H_HI] * k)
    dp = max(0.0, prm[P_LO] * k - p) + max(0.0, p - prm[P_HI] * k)
    return prm[W_HH] * dh + prm[W_POP] * dp


@njit(cache=True)
def _split_tree(graph, t_ptr, t_adj, nodes, parts, labels, mark, stamp0, prm):
    """Cut the tree over ``nodes`` into ``parts`` connected pieces, each as close to range as it allows.

    Each cut takes the tree edge whose two sides best fit ``parts // 2`` and the rest grids
    (ties broken at random), then each side is cut again. Writes piece numbers (in order:
    the cut-off side's pieces first) into ``labels`` (indexed like ``nodes``); returns
    False when the tree does not span ``nodes``.
    """
    hh, pp = graph[4], graph[5]
    n_all = mark.shape[0]
    buf = nodes.copy()
    pos_label = np.empty(n_all, np.int64)
    par = np.empty(n_all, np.int64)
    sub_h = np.zeros(n_all, np.int64)
    sub_p = np.zeros(n_all, np.int64)
    in_side = np.zeros(n_all, np.int64)
    order = np.empty(len(nodes), np.int64)
    tmp = np.empty(len(nodes), np.int64)
    # stack of segments (start, end, parts)
    st_s = np.empty(2 * parts + 2, np.int64)
    st_e = np.empty(2 * parts + 2, np.int64)
    st_k = np.empty(2 * parts + 2, np.int64)
    top = 0
    st_s[0], st_e[0], st_k[0] = 0, len(nodes), parts
    top = 1
    next_label = 0
    stamp = stamp0
    while top > 0:
        top -= 1
        s, e, k = st_s[top], st_e[top], st_k[top]
        if k == 1:
            for q in range(s, e):
                pos_label[buf[q]] = next_label
            next_label += 1
            continue
        stamp += 1
        for q in range(s, e):
            mark[buf[q]] = stamp
        root = buf[s]
        order[0] = root
        par[root] = -1
        cnt = 1
        head = 0
        while head < cnt:
            x = order[head]
            head += 1
            for q in range(t_ptr[x], t_ptr[x + 1]):
                y = t_adj[q]
                if mark[y] == stamp and y != par[x] and y != root:
                    # a tree has no cycles, so a neighbour other than the parent is new
                    par[y] = x
                    order[cnt] = y
                    cnt += 1
        if cnt < e - s:
            return False
        for q in range(cnt):
            x = order[q]
            sub_h[x] = hh[x]
            sub_p[x] = pp[x]
        for q in range(cnt - 1, 0, -1):
            x = order[q]
            sub_h[par[x]] += sub_h[x]
            sub_p[par[x]] += sub_p[x]
        total_h, total_p = sub_h[root], sub_p[root]
        left = k // 2
        right = k - left
        cut = -1
        best = 0.0
        best_r = 0.0
        for q in range(1, cnt):
            x = order[q]
            h, p = sub_h[x], sub_p[x]
            score = _miss(h, p, left, prm) + _miss(total_h - h, total_p - p, right, prm)
            r = np.random.random()
            if cut < 0 or score < best or (score == best and r < best_r):
                cut, best, best_r = x, score, r
        if cut < 0:
            return False
        # the cut-off side: the subtree under ``cut`` in breadth-first order, then the rest in place
        stamp += 1
        tmp[0] = cut
        in_side[cut] = stamp
        n_side = 1
        head = 0
        while head < n_side:
            x = tmp[head]
            head += 1
            for q in range(t_ptr[x], t_ptr[x + 1]):
                y = t_adj[q]
                if mark[y] == stamp - 1 and par[y] == x and in_side[y] != stamp:
                    in_side[y] = stamp
                    tmp[n_side] = y
                    n_side += 1
        w = n_side
        for q in range(s, e):
            x = buf[q]
            if in_side[x] != stamp:
                tmp[w] = x
                w += 1
        for q in range(e - s):
            buf[s + q] = tmp[q]
        # rest first on the stack so the side's pieces are numbered first
        st_s[top], st_e[top], st_k[top] = s + n_side, e, right
        top += 1
        st_s[top], st_e[top], st_k[top] = s, s + n_side, left
        top += 1
    for q in range(len(nodes)):
        labels[q] = pos_label[nodes[q]]
    return True


@njit(cache=True)
def recombine(graph, state, k, tries, ring_max, seed, prm):
    """Merge each off-range grid with its neighbours and re-split them along random spanning trees.

    A new split is kept only when it lowers the region's deviation (households first)
    without making more grids off range. Returns how many regions were re-cut.
    """
    np.random.seed(seed)
    a, H, P = state[0], state[2], state[3]
    hh, pp = graph[4], graph[5]
    n = a.shape[0]
    mark = np.zeros(n, np.int64)
    stamp = 0
    t_ptr = np.empty(n + 1, np.int64)
    t_adj = np.empty(2 * n, np.int64)
    in_region = np.zeros(k, np.bool_)
    improved = 0
    off_start = np.zeros(k, np.bool_)
    for g in range(k):
        off_start[g] = _off(H, P, g, prm)
    for g in range(k):
        if not off_start[g] or not _off(H, P, g, prm):
            continue
        ring = grid_neighbours(graph, a, g, k)
        nr = 1 + min(ring_max, len(ring))
        region = np.empty(nr, np.int64)
        region[0] = g
        for q in range(nr - 1):
            region[q + 1] = ring[q]
        for q in range(k):
            in_region[q] = False
        for r in region:
            in_region[r] = True
        cnt = 0
        for i in range(n):
            if in_region[a[i]]:
                cnt += 1
        nodes = np.empty(cnt, np.int64)
        cnt = 0
        for i in range(n):
            if in_region[a[i]]:
                nodes[cnt] = i
                cnt += 1
        r0, r1, r2 = _region_rank(state, in_region, prm)
        labels = np.empty(cnt, np.int64)
        best_labels = np.empty(cnt, np.int64)
        found = False
        f0, f1, f2 = 0.0, 0, 0.0
        ph = np.zeros(nr, np.int64)
        pq = np.zeros(nr, np.int64)
        for _ in range(tries):
            stamp += 1
            for i in nodes:
                mark[i] = stamp
            _random_tree(graph, nodes, mark, stamp, t_ptr, t_adj)
            ok = _split_tree(graph, t_ptr, t_adj, nodes, nr, labels, mark, stamp, prm)
            stamp += 2 * nr + 2  # stamps the split used
            if not ok:
                continue
            ph[:] = 0
            pq[:] = 0
            for q in range(cnt):
                ph[labels[q]] += hh[nodes[q]]
                pq[labels[q]] += pp[nodes[q]]
            dh = 0.0
            dp = 0.0
            off = 0
            for q in range(nr):
                eh = _dev(ph[q], prm[H_LO], prm[H_HI])
                ep = _dev(pq[q], prm[P_LO], prm[P_HI])
                dh += eh
                dp += ep
                if eh > 0 or ep > 0:
                    off += 1
            if not found or _less(dh, off, dp, 0.0, f0, f1, f2, 0.0):
                found = True
                f0, f1, f2 = dh, off, dp
                best_labels[:] = labels
            if dh == 0 and off == 0 and dp == 0:
                break
        if not found or not _less(f0, f1, f2, 0.0, r0, r1, r2, 0.0):
            continue
        for q in range(cnt):
            a[nodes[q]] = region[best_labels[q]]
        rebuild(graph, state, region, prm)
        improved += 1
    return improved


@njit(cache=True)
def polish_pass(graph, state, k, prm):
    """One pass of greedy compactness/soft-crossing moves that keep every in-range grid in range."""
    indptr, indices = graph[0], graph[1]
    hh, pp = graph[4], graph[5]
    a, H, P = state[0], state[2], state[3]
    n = a.shape[0]
    # the boundary moves at the start of the pass
    m = 0
    for u in range(n):
        m += indptr[u + 1] - indptr[u]
    mu = np.empty(m, np.int64)
    mb = np.empty(m, np.int64)
    m = 0
    for u in range(n):
        g = a[u]
        first = m
        for e in range(indptr[u], indptr[u + 1]):
            b = a[indices[e]]
            if b == g:
                continue
            dup = False
            for q in range(first, m):
                if mb[q] == b:
                    dup = True
                    break
            if not dup:
                mu[m] = u
                mb[m] = b
                m += 1
    seen = np.zeros(n, np.int64)
    stack = np.empty(n, np.int64)
    stamp = 0
    h_lo, h_hi, p_lo, p_hi = prm[H_LO], prm[H_HI], prm[P_LO], prm[P_HI]
    improved = 0
    for q in range(m):
        u, b = mu[q], mb[q]
        g = a[u]
        if g == b:
            continue
        touches = False
        for e in range(indptr[u], indptr[u + 1]):
            if a[indices[e]] == b:
                touches = True
                break
        if not touches:
            continue  # earlier moves of the pass changed the boundary
        ha, pa, hb, pb = H[g] - hh[u], P[g] - pp[u], H[b] + hh[u], P[b] + pp[u]
        if not _off(H, P, g, prm) and not (h_lo <= ha <= h_hi and p_lo <= pa <= p_hi):
            continue
        if not _off(H, P, b, prm) and not (h_lo <= hb <= h_hi and p_lo <= pb <= p_hi):
            continue
        delta, la, lb, ds = _move_delta(graph, state, u, b, prm)
        if delta < -1e-6:
            stamp += 1
            if _removable(graph, state, u, seen, stack, stamp):
                _apply(graph, state, u, b, la, lb, ds, prm)
                improved += 1
    return improved


@njit(cache=True)
def summary(state, prm):
    """Grids off range, total household deviation, total resident deviation."""
    H, P = state[2], state[3]
    off = 0
    dh = 0
    dp = 0
    for g in range(H.shape[0]):
        eh = _dev(H[g], prm[H_LO], prm[H_HI])
        ep = _dev(P[g], prm[P_LO], prm[P_HI])
        dh += int(eh)
        dp += int(ep)
        if eh > 0 or ep > 0:
            off += 1
    return off, dh, dp


@njit(cache=True)
def tabu(graph, state, k, max_iter, stagnation, max_region, seed, prm):
    """Repair off-range grids one neighbourhood at a time, widening it (radius 1, 2, 3) when stuck.

    A neighbourhood is the grid and the grids within ``radius`` steps, at most
    ``max_region`` of them, nearest first (ascending within a ring). Returns the steps taken.
    """
    np.random.seed(seed)
    a, H, P = state[0], state[2], state[3]
    in_region = np.zeros(k, np.bool_)
    frontier = np.empty(k, np.int64)
    nxt = np.empty(k, np.int64)
    iters = 0
    for radius in range(1, 4):
        n_off = 0
        for g in range(k):
            if _off(H, P, g, prm):
                n_off += 1
        if n_off == 0:
            break
        off = np.empty(n_off, np.int64)
        n_off = 0
        for g in range(k):
            if _off(H, P, g, prm):
                off[n_off] = g
                n_off += 1
        for g in off:
            if not _off(H, P, g, prm):
                continue
            in_region[:] = False
            in_region[g] = True
            size = 1
            frontier[0] = g
            n_front = 1
            for _ in range(radius):
                n_next = 0
                for f in range(n_front):
                    for x in grid_neighbours(graph, a, frontier[f], k):
                        if not in_region[x] and size < max_region:
                            in_region[x] = True
                            size += 1
                            nxt[n_next] = x
                            n_next += 1
                frontier[:n_next] = nxt[:n_next]
                n_front = n_next
            iters += repair_region(graph, state, in_region, max_iter, stagnation, np.random.randint(0, 2**31 - 1), prm)
    return iters
