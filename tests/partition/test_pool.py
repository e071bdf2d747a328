"""Partitioning on this machine's cores: the plan of one process, and when the pool is the default."""

from __future__ import annotations

import threading

import pytest

from data.sample import generate_district
from partition.plan import partition, run_sequentially
from partition.pool import POOL_MIN_CONTAINERS, POOL_MIN_UNITS, default_runner, pool_runner
from tests.partition.test_distributed import assert_same_plan

SEED = 11


@pytest.fixture(scope="module")
def district():
    """A generated district of five communities, parcels with compounds, roads and a river."""
    return generate_district(seed=3, households=9_000, n_communities=5)


def _run(district, runner):
    return partition(
        district.units, communities=district.communities, barriers=district.barriers, seed=SEED, runner=runner
    )


def test_a_pool_of_two_processes_gives_the_plan_of_one_process(district):
    assert_same_plan(_run(district, pool_runner(2)), _run(district, run_sequentially))


def test_progress_counts_every_container_once_on_the_pool(district):
    seen: list[str] = []
    partition(
        district.units,
        communities=district.communities,
        seed=SEED,
        runner=pool_runner(2),
        progress=lambda done, total, cid: seen.append(cid),
    )
    assert sorted(seen) == sorted(district.communities["community_id"].astype(str))


def test_small_runs_stay_in_this_process():
    assert default_runner(POOL_MIN_UNITS - 1, 100) is run_sequentially
    assert default_runner(100_000, POOL_MIN_CONTAINERS - 1) is run_sequentially


def test_large_runs_use_the_pool_on_the_main_thread_only(monkeypatch):
    monkeypatch.setattr("partition.pool.usable_cpus", lambda: 2)
    assert default_runner(POOL_MIN_UNITS, POOL_MIN_CONTAINERS) is not run_sequentially
    picked = []
    worker = threading.Thread(target=lambda: picked.append(default_runner(POOL_MIN_UNITS, POOL_MIN_CONTAINERS)))
    worker.start()
    worker.join()
    assert picked == [run_sequentially]  # a server's job thread never forks


def test_one_cpu_means_no_pool(monkeypatch):
    monkeypatch.setattr("partition.pool.usable_cpus", lambda: 1)
    assert default_runner(100_000, 100) is run_sequentially


def test_zero_workers_are_refused():
    with pytest.raises(ValueError, match="workers must be 1 or more"):
        pool_runner(0)
