"""The exact search: plans the heuristic misses, proofs that no plan exists, barriers, determinism."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.columns import HARD, REASON, STATUS, STATUS_OK
from partition.exact import INFEASIBLE, SOLVED, UNDECIDED, exact_search
from partition.plan import partition
from partition.solver import Instance
from partition.targets import Targets
from tests.strategies import CRS, ORIGIN, square_lattice


def coarse_village() -> gpd.GeoDataFrame:
    """Nine 100 m squares (households / residents, rows from the north)::

        +---------+---------+---------+
        |  81/243 | 197/470 | 184/463 |
        +---------+---------+---------+
        |  73/186 | 181/496 |  45/133 |
        +---------+---------+---------+
        | 191/579 | 124/363 |  75/240 |
        +---------+---------+---------+

    1,171 households and 3,173 residents allow exactly 3 grids, with only 173 residents to
    spare over three minimums. The heuristic leaves one grid short; the west column, the
    south-east L and the north-east L are all in range.
    """
    households = [191, 124, 75, 73, 181, 45, 81, 197, 184]
    population = [579, 363, 240, 186, 496, 133, 243, 470, 463]
    return square_lattice(3, 3, households, population)


def strip() -> gpd.GeoDataFrame:
    """Three squares in a row: 200 | 350 | 200 households, 650 | 1,100 | 650 residents.

    The totals (750 households, 2,400 residents) allow 2 grids, and the two outer units
    together would make one in range, but they do not touch: no contiguous plan exists.
    """
    return square_lattice(3, 1, [200, 350, 200], [650, 1100, 650])


def square_of_four() -> gpd.GeoDataFrame:
    """Four squares, 600 residents each, so every grid holds exactly two::

        +-----+-----+
        | 100 | 250 |    north: a grid of 350 households
        +-----+-----+
        | 150 | 200 |    south: a grid of 350 households
        +-----+-----+

    The west and east pairs hold 250 and 450 households: the only plan in range pairs
    the units north and south.
    """
    return square_lattice(2, 2, [150, 200, 100, 250], [600] * 4)


def wall_between_north_units() -> gpd.GeoDataFrame:
    """A hard barrier on the border of the two northern squares of `square_of_four`, only there."""
    x = ORIGIN[0] + 100
    line = shapely.LineString([(x, ORIGIN[1] + 120), (x, ORIGIN[1] + 230)])
    return gpd.GeoDataFrame({HARD: [True]}, geometry=[line], crs=CRS)


def grid_of(result, unit_id: str) -> str:
    return result.assignment.set_index("unit_id").loc[unit_id, "code"]


def test_the_exact_search_finds_the_plan_the_heuristic_misses():
    heuristic = partition(coarse_village(), crs=CRS, exact_seconds=0)
    assert heuristic.report["per_community"][0]["grids_out_of_range"] == 1  # the premise
    result = partition(coarse_village(), crs=CRS)
    (village,) = result.report["per_community"]
    assert (result.grids[STATUS] == STATUS_OK).all(), result.grids
    assert village["pieces"][0]["exact"] == SOLVED
    assert village["proved_infeasible"] is False and village["explanation"] == ""
    assert result.report["valid"] is True  # contiguous, nested, every unit once


def test_a_village_no_plan_can_fix_is_proved_and_explained_with_numbers():
    result = partition(strip(), crs=CRS)
    (village,) = result.report["per_community"]
    assert village["feasible_by_counts"] is True  # the totals alone allow it
    assert village["proved_infeasible"] is True
    assert village["pieces"][0]["exact"] == INFEASIBLE
    text = village["explanation"]
    for part in (
        "750 households and 2,400 residents allow 2 grids",
        "no division of these 3 units",
        "into 2 contiguous grids",
        "300–500 households and 1,000–1,500 residents",
        "proved by exhaustive search",
        "the closest plan found leaves 2 of 2 grids off range (G-001: 550 households, 1,750 residents; "
        "G-002: 200 households, 650 residents)",
    ):
        assert part in text, text
    off = result.grids[result.grids[STATUS] != STATUS_OK]
    assert off[REASON].str.contains("proved by exhaustive search").all(), off[REASON].tolist()
    assert result.report["communities_proved_infeasible"] == 1
    assert result.report["share_in_range_where_possible"] is None


def test_a_hard_barrier_is_never_crossed_even_when_only_crossing_it_would_fit():
    free = partition(square_of_four(), crs=CRS)
    assert (free.grids[STATUS] == STATUS_OK).all()
    assert grid_of(free, "u1_0") == grid_of(free, "u1_1")  # the north pair
    walled = partition(square_of_four(), barriers=wall_between_north_units(), crs=CRS)
    (village,) = walled.report["per_community"]
    assert village["proved_infeasible"] is True, village
    assert grid_of(walled, "u1_0") != grid_of(walled, "u1_1")
    assert walled.report["hard_barrier_crossings"] == 0
    assert walled.report["checks"]["noncontiguous"] == []


def test_an_exhausted_budget_says_so_and_keeps_the_heuristic_plan():
    result = partition(coarse_village(), crs=CRS, exact_seconds=1e-9)
    (village,) = result.report["per_community"]
    assert village["pieces"][0]["exact"] == UNDECIDED
    assert village["proved_infeasible"] is False
    assert "the exact search did not decide within its time limit" in village["explanation"]
    assert village["grids_out_of_range"] == 1


def test_the_same_village_gives_the_same_plan_in_this_process_and_on_dask():
    from partition.distributed import dask_client, dask_runner

    a = partition(coarse_village(), crs=CRS)
    with dask_client(workers=1, processes=False) as client:
        b = partition(coarse_village(), crs=CRS, runner=dask_runner(client))
    assert a.assignment.equals(b.assignment)
    assert a.report["exact_work"] == b.report["exact_work"] > 0


def lattice_instance(cols: int, rows: int, households, population) -> Instance:
    pairs = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    pairs += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    left, right = zip(*pairs, strict=True)
    n = cols * rows
    shared, soft = [100.0] * len(left), [0] * len(left)
    return Instance.from_arrays(households, population, [1e4] * n, [400.0] * n, left, right, shared, soft)


def connected(inst: Instance, atoms: list[int]) -> bool:
    inside, seen, stack = set(atoms), {atoms[0]}, [atoms[0]]
    while stack:
        for j in inst.nbrs[stack.pop()]:
            if j in inside and j not in seen:
                seen.add(j)
                stack.append(j)
    return seen == inside


@pytest.mark.parametrize("seed", range(6))
def test_every_grid_found_is_in_range_and_contiguous(seed):
    rng = np.random.default_rng(seed)
    households = rng.integers(40, 260, 16)
    population = np.round(households * rng.uniform(2.2, 3.2, 16)).astype(int)
    inst = lattice_instance(4, 4, households, population)
    total_h, total_p = int(households.sum()), int(population.sum())
    lo, hi = max(-(-total_h // 500), -(-total_p // 1500)), min(total_h // 300, total_p // 1000)
    if lo > hi:
        pytest.skip("the drawn totals allow no grid count")
    result = exact_search(inst, (lo, hi), Targets())
    assert result.status in (SOLVED, INFEASIBLE)
    if result.status == SOLVED:
        labels = np.asarray(result.assignment)
        assert lo <= labels.max() + 1 <= hi
        for g in range(labels.max() + 1):
            atoms = np.flatnonzero(labels == g).tolist()
            assert Targets().in_range(int(households[atoms].sum()), int(population[atoms].sum()))
            assert connected(inst, atoms)


def test_a_pair_of_units_joined_only_through_a_corner_is_no_grid():
    """Two 250-household units meeting at a corner: 2 × 1 lattice without its edge."""
    inst = Instance.from_arrays([250, 250], [700, 700], [1, 1], [4, 4], [], [], [], [])
    assert exact_search(inst, (1, 1), Targets()).status == INFEASIBLE


EIGHT = lattice_instance(4, 2, [100] * 8, [300] * 8)  # any two contiguous halves are in range


@pytest.mark.parametrize(
    "previous",
    [
        [0, 0, 0, 0, 1, 1, 1, 1],  # south row, north row
        [0, 0, 1, 1, 0, 0, 1, 1],  # west half, east half
        [0, 1, 1, 1, 0, 0, 0, 1],  # two hooks
    ],
)
def test_a_redivision_keeps_a_previous_plan_that_is_still_in_range(previous):
    fresh = exact_search(EIGHT, (2, 2), Targets())
    result = exact_search(EIGHT, (2, 2), Targets(), previous=[7 + g for g in previous])
    assert result.status == SOLVED
    assert result.households_moved == 0
    assert result.assignment == previous
    assert fresh.assignment == [0, 0, 1, 1, 0, 0, 1, 1]  # so two of the three are not the plan it finds first


def test_a_redivision_the_heuristic_cannot_repair_is_repaired():
    """A 4 × 3 lattice whose unit u1_2 grows by 30 %: re-solving around it takes the exact search."""
    households = [84, 171, 78, 158, 240, 180, 80, 185, 218, 108, 121, 225]
    population = [195, 489, 213, 353, 665, 510, 222, 562, 616, 316, 284, 663]
    before = square_lattice(4, 3, households, population)
    first = partition(before, crs=CRS)
    after = before.copy()
    after.loc[6, ["households", "population"]] = [104, 288]
    heuristic = partition(after, crs=CRS, previous=first.assignment, exact_seconds=0)
    assert heuristic.report["per_community"][0]["grids_out_of_range"] > 0  # the premise
    result = partition(after, crs=CRS, previous=first.assignment)
    assert (result.grids[STATUS] == STATUS_OK).all(), result.grids
    assert result.report["valid"] is True
