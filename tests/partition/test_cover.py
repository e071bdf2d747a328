"""The cover search: the same verdicts as CP-SAT's model, valid plans, and a budget it keeps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from partition import exact
from partition.cover import BRANCH_COST, COST_PER_UNIT, INFEASIBLE, SOLVED, UNDECIDED, cover_search
from partition.solver import Instance
from partition.targets import Targets, assess, half_max_units
from tests.partition.test_exact import connected, lattice_instance

T = Targets()


def search(inst: Instance, *, max_work: float = 5.0):
    return cover_search(
        inst.households, inst.population, inst.nbrs, T.households_range, T.population_range, max_work=max_work
    )


@st.composite
def pieces(draw: st.DrawFn) -> Instance:
    """A lattice of 4–16 units of village-like counts, some of its edges gone (rivers, corners)."""
    cols, rows = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    n = cols * rows
    households = draw(st.lists(st.integers(0, 260), min_size=n, max_size=n))
    ratio = draw(st.lists(st.floats(2.0, 3.6), min_size=n, max_size=n))
    population = [round(h * r) for h, r in zip(households, ratio, strict=True)]
    inst = lattice_instance(cols, rows, households, population)
    pairs = sorted((i, j) for i in range(n) for j in inst.nbrs[i] if i < j)
    gone = draw(st.sets(st.sampled_from(pairs), max_size=len(pairs) // 4))
    for i, j in gone:
        del inst.nbrs[i][j], inst.nbrs[j][i]
    return inst


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces())
def test_the_cover_search_decides_as_the_cp_sat_model_does(inst):
    feas = assess(
        sum(inst.households), sum(inst.population), T, min_grids=half_max_units(inst.households, inst.population, T)
    )
    assume(feas.feasible)
    status, labels, work = search(inst)
    assert status in (SOLVED, INFEASIBLE) and 0 < work < 5.0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(exact, "COVER_WORK", 0.0)  # CP-SAT alone
        model = exact.exact_search(inst, feas.k_feasible, T)
    assert model.status == (exact.SOLVED if status == SOLVED else exact.INFEASIBLE)
    if status == SOLVED:
        assert feas.k_feasible[0] <= labels.max() + 1 <= feas.k_feasible[1]  # the totals' counts, unasked
        h, p = np.asarray(inst.households), np.asarray(inst.population)
        for g in range(labels.max() + 1):
            atoms = np.flatnonzero(labels == g).tolist()
            assert T.in_range(int(h[atoms].sum()), int(p[atoms].sum()))
            assert connected(inst, atoms)


def test_two_units_that_would_make_a_grid_but_do_not_touch_are_no_plan():
    strip = lattice_instance(3, 1, [200, 350, 200], [650, 1100, 650])
    assert search(strip)[:2] == (INFEASIBLE, None)


def test_the_only_plan_is_found():
    """Four squares of 600 residents: only the north and south pairs hold 300–500 households."""
    square = lattice_instance(2, 2, [150, 200, 100, 250], [600] * 4)
    status, labels, _ = search(square)
    assert status == SOLVED and labels.tolist() == [0, 0, 1, 1]


def test_a_strip_with_one_plan_takes_a_handful_of_branches():
    """A 1 × 7 strip: three west units, the middle one alone and three east units are its only plan."""
    strip = lattice_instance(7, 1, [100, 100, 100, 400, 150, 150, 100], [350, 350, 350, 1200, 500, 500, 350])
    status, labels, work = search(strip)
    assert status == SOLVED and labels.tolist() == [0, 0, 0, 1, 2, 2, 2]
    assert work * COST_PER_UNIT < 50 * BRANCH_COST  # a handful of branches, not every split of the sides


def test_an_exhausted_budget_is_undecided_not_a_verdict():
    inst = lattice_instance(4, 3, [120] * 12, [400] * 12)  # four grids of three
    assert search(inst, max_work=1e-9) == (UNDECIDED, None, 0.0)
    status, labels, work = search(inst, max_work=2e-6)  # a few branches
    assert (status, labels) == (UNDECIDED, None) and work == pytest.approx(2e-6)
    assert search(inst)[0] == SOLVED


def test_a_piece_larger_than_two_words_or_a_minimum_of_nothing_is_refused():
    inst = lattice_instance(13, 10, [100] * 130, [300] * 130)
    with pytest.raises(ValueError, match="at most 128 atoms, got 130"):
        search(inst)
    square = lattice_instance(2, 2, [150, 200, 100, 250], [600] * 4)
    with pytest.raises(ValueError, match=r"minimums of at least 1, got \(0, 500\)"):
        cover_search(square.households, square.population, square.nbrs, (0, 500), (1000, 1500), max_work=1.0)


def test_a_piece_past_the_first_word_of_atoms_is_divided_whole():
    """A 48 × 2 ladder of 96 units: atoms 64 and on live in the second word of every set."""
    inst = lattice_instance(48, 2, [60] * 96, [200] * 96)  # any 6 touching units make a grid
    status, labels, work = search(inst)
    assert status == SOLVED and (labels >= 0).all() and work < 1.0
    h, p = np.asarray(inst.households), np.asarray(inst.population)
    for g in range(labels.max() + 1):
        atoms = np.flatnonzero(labels == g).tolist()
        assert T.in_range(int(h[atoms].sum()), int(p[atoms].sum())) and connected(inst, atoms)
    assert len(set(labels[64:].tolist())) >= 5  # the second word's units are in grids of their own
