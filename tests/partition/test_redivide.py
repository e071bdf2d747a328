"""Re-division: keep what still works, re-solve around the trouble, keep codes, never reuse retired ones."""

from __future__ import annotations

import numpy as np
import pytest

from data.sample import generate_district
from gis.errors import InputError
from partition import partition
from partition.redivide import sequence_of


@pytest.fixture(scope="module")
def district():
    d = generate_district(seed=4, households=8_000)
    first = partition(d.units, communities=d.communities, barriers=d.barriers, seed=0)
    return d, first


def grown(units, share: float, factor: float, seed: int = 1):
    rng = np.random.default_rng(seed)
    out = units.copy()
    pick = rng.random(len(out)) < share
    for col in ("households", "population"):
        out.loc[pick, col] = (out.loc[pick, col] * factor).round().astype(int)
    return out


def moved(a, b, units) -> int:
    m = a.merge(b, on="unit_id").merge(units[["unit_id", "households"]], on="unit_id")
    return int(m.loc[m.code_x != m.code_y, "households"].sum())


def test_unchanged_counts_keep_the_plan(district):
    d, first = district
    again = partition(d.units, communities=d.communities, barriers=d.barriers, seed=0, previous=first.assignment)
    r = again.report["redivision"]
    assert r["households_moved"] == 0 and r["grids_retired"] == 0 and r["grids_created"] == 0
    assert moved(first.assignment, again.assignment, d.units) == 0
    assert set(again.grids["code"]) == set(first.grids["code"])


def test_growth_is_fixed_locally_with_far_fewer_moves_than_a_fresh_plan(district):
    d, first = district
    units = grown(d.units, 0.35, 1.3)
    re = partition(units, communities=d.communities, barriers=d.barriers, seed=0, previous=first.assignment)
    fresh = partition(units, communities=d.communities, barriers=d.barriers, seed=0)
    r = re.report["redivision"]
    assert re.report["valid"]
    assert r["grids_kept"] > 0 and r["households_moved"] == moved(first.assignment, re.assignment, units)
    assert r["households_moved"] < 0.5 * moved(first.assignment, fresh.assignment, units)
    assert re.report["share_in_range"] >= fresh.report["share_in_range"] - 0.05
    # kept grids hold exactly the units they held before
    before = first.assignment.groupby("code")["unit_id"].apply(frozenset)
    after = re.assignment.groupby("code")["unit_id"].apply(frozenset)
    for code in r["kept"]:
        assert before[code] == after[code]


def test_locked_grids_never_change(district):
    d, first = district
    units = grown(d.units, 0.35, 1.3)
    troubled = partition(units, communities=d.communities, barriers=d.barriers, seed=0, previous=first.assignment)
    changed = troubled.report["redivision"]["changed"]
    assert changed, "the growth should have changed some grid"
    lock = changed[:2]
    re = partition(
        units, communities=d.communities, barriers=d.barriers, seed=0, previous=first.assignment, locked=lock
    )
    before = first.assignment.groupby("code")["unit_id"].apply(frozenset)
    after = re.assignment.groupby("code")["unit_id"].apply(frozenset)
    for code in lock:
        assert before[code] == after[code]


def test_new_grids_continue_the_sequence_and_retired_codes_stay_retired(district):
    d, first = district
    units = grown(d.units, 0.6, 1.6, seed=2)  # enough growth that communities need more grids
    re = partition(units, communities=d.communities, barriers=d.barriers, seed=0, previous=first.assignment)
    r = re.report["redivision"]
    assert r["grids_created"] > 0
    old = set(first.grids["code"])
    for code in r["created"]:
        community = re.grids.loc[re.grids["code"] == code, "community"].iloc[0]
        used = [sequence_of(c) for c in first.grids.loc[first.grids["community"] == community, "code"]]
        assert code not in old and sequence_of(code) > max(used)
    assert not set(r["retired"]) & set(re.grids["code"])


def test_locking_needs_a_previous_plan(district):
    d, first = district
    with pytest.raises(InputError, match="needs a previous plan"):
        partition(d.units, communities=d.communities, seed=0, locked=["x"])
    with pytest.raises(InputError, match="not in the previous plan"):
        partition(d.units, communities=d.communities, seed=0, previous=first.assignment, locked=["nope"])
