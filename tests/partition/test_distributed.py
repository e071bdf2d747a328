"""Partitioning on Dask: the plan of one process, container by container, and failures kept apart.

Local clusters run their workers as threads of the test process (``processes=False``):
the same scheduler, tasks and transfers as worker processes, without their start-up time.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

from data.sample import generate_district
from gis.columns import COMMUNITY, UNIT_ID
from gis.errors import CommgridError
from partition.container import ContainerJob, run_container
from partition.distributed import check_workers, dask_client, dask_runner
from partition.plan import PartitionResult, partition
from tests.strategies import ORIGIN, lattice_units, square_lattice

SEED = 7


@pytest.fixture(scope="module")
def district():
    """A generated district of four communities, parcels with compounds, roads and a river."""
    return generate_district(seed=5, households=8_000, n_communities=4)


def _run(district, **kwargs) -> PartitionResult:
    return partition(
        district.units,
        communities=district.communities,
        barriers=district.barriers,
        seed=SEED,
        **kwargs,
    )


@pytest.fixture(scope="module")
def sequential(district) -> PartitionResult:
    return _run(district)


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def assert_same_plan(a: PartitionResult, b: PartitionResult) -> None:
    assert_geodataframe_equal(a.grids, b.grids)
    pd.testing.assert_frame_equal(a.assignment, b.assignment)
    assert_geodataframe_equal(a.units, b.units)
    assert _without_timing(a.report) == _without_timing(b.report)


@pytest.mark.parametrize("workers", [1, 2])
def test_local_workers_give_the_plan_of_one_process(district, sequential, workers):
    assert sequential.report["valid"], sequential.report["checks"]
    assert sequential.report["communities"] == 4
    with dask_client(workers=workers, processes=False) as client:
        result = _run(district, runner=dask_runner(client))
    assert_same_plan(sequential, result)


def test_a_cluster_reached_by_address_gives_the_same_plan(district, sequential):
    from distributed import LocalCluster

    with (
        LocalCluster(n_workers=2, processes=False, protocol="tcp", dashboard_address=":0") as cluster,
        dask_client(scheduler=cluster.scheduler_address) as client,
    ):
        assert set(check_workers(client)) == set(client.nthreads())
        result = _run(district, runner=dask_runner(client, in_flight=1))
    assert_same_plan(sequential, result)


def test_progress_counts_every_container_once(district):
    calls = []
    with dask_client(workers=2, processes=False) as client:
        _run(district, runner=dask_runner(client), progress=lambda *args: calls.append(args))
    assert [done for done, _, _ in calls] == [1, 2, 3, 4]
    assert {total for _, total, _ in calls} == {4}
    assert sorted(cid for _, _, cid in calls) == sorted(district.communities["community_id"])


def test_each_job_carries_only_its_own_units(district):
    """What a worker receives: its community's units, nothing of the others."""
    jobs: list[ContainerJob] = []

    def recording(todo):
        for job in todo:
            jobs.append(job)
            yield run_container(job)

    _run(district, runner=recording)
    community_of = dict(zip(district.units[UNIT_ID], district.units[COMMUNITY], strict=True))
    assert len(jobs) == 4
    for job in jobs:
        assert {community_of[u] for u in job.units[UNIT_ID]} == {job.container_id}
    assert sum(len(job.units) for job in jobs) == len(district.units)


def huge_beside_small() -> gpd.GeoDataFrame:
    """Community ``ok`` (40 squares, 5 grids' worth) beside ``huge`` (1,000 units, each over a maximum).

    ``huge`` needs 1,000 grids and codes stop at 999, so its container fails::

        +--------+ +--------------------------+
        |  ok    | |  huge: 40 x 25 of 10 m   |
        | 8 x 5  | |  600 households each     |
        +--------+ +--------------------------+
    """
    ok = square_lattice(8, 5, [50] * 40, [140] * 40)
    xs = [ORIGIN[0] + 1_000 + 10 * c for c in range(41)]
    ys = [ORIGIN[1] + 10 * r for r in range(26)]
    huge = lattice_units(xs, ys, [600] * 1_000, [1_600] * 1_000)
    huge[UNIT_ID] = "h" + huge[UNIT_ID]
    units = pd.concat([ok.assign(**{COMMUNITY: "ok"}), huge.assign(**{COMMUNITY: "huge"})], ignore_index=True)
    return gpd.GeoDataFrame(units, geometry="geometry", crs=ok.crs)


@pytest.mark.parametrize("on_dask", [False, True], ids=["one process", "dask"])
def test_a_failing_container_is_named_and_the_others_keep_their_grids(on_dask):
    units = huge_beside_small()
    if on_dask:
        with dask_client(workers=2, processes=False) as client:
            result = partition(units, runner=dask_runner(client))
    else:
        result = partition(units)
    failed = result.report["failed_containers"]
    assert [f["community_id"] for f in failed] == ["huge"]
    assert failed[0]["error"] == "ValueError: community 'huge' would get 1000 grids; codes allow at most 999"
    assert "grid_codes" in failed[0]["traceback"]
    assert set(result.grids[COMMUNITY]) == {"ok"}
    assert 4 <= len(result.grids) <= 6
    assert set(result.assignment[UNIT_ID]) == set(units.loc[units[COMMUNITY] == "ok", UNIT_ID])
    entry = {c["community_id"]: c for c in result.report["per_community"]}["huge"]
    assert entry["grids"] == 0 and entry["units"] == 1_000 and entry["households"] == 600_000
    assert entry["explanation"].startswith("failed, no grids: ValueError: community 'huge'")
    assert result.report["valid"] is False
    assert len(result.units) == len(units)


def test_workers_and_scheduler_together_are_refused():
    refused = pytest.raises(ValueError, match=r"give either workers \(2, a local cluster\) or a scheduler")
    with refused, dask_client(workers=2, scheduler="tcp://127.0.0.1:8786"):
        pass


def test_zero_workers_are_refused():
    with pytest.raises(ValueError, match="workers must be 1 or more, got 0"), dask_client(workers=0):
        pass


def test_an_unreachable_scheduler_is_named():
    refused = pytest.raises(CommgridError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'.*`dask")
    with refused, dask_client(scheduler="tcp://127.0.0.1:9", timeout=0.5):
        pass


def test_outlines_of_communities_without_polygons_do_not_overlap():
    """Address points named by a community column, no polygons: cells of two communities never overlap.

    The two communities interleave (a comb of columns), so their hulls overlap; the
    shared Voronoi diagram keeps their outlines apart.
    """
    rng = np.random.default_rng(0)
    xy = ORIGIN + rng.uniform(0, 1_000, size=(200, 2))
    units = gpd.GeoDataFrame(
        {
            UNIT_ID: [f"p{i}" for i in range(200)],
            "households": rng.integers(20, 40, size=200),
            "population": rng.integers(60, 100, size=200),
            COMMUNITY: np.where((xy[:, 0] - ORIGIN[0]) // 250 % 2 == 0, "A", "B"),
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=lattice_units([0, 1], [0, 1], [1], [1]).crs,
    )
    result = partition(units)
    assert result.report["checks"]["overlaps"] == []
    assert result.report["valid"], result.report["checks"]
