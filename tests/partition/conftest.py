"""Fixtures of the partition tests: hypothesis profiles, one engine run per drawn district, real data.

Profiles: ``ci`` (default: 25 derandomised examples, no deadline) and ``dev`` (200 random
examples, for hunting bugs locally); choose with ``HYPOTHESIS_PROFILE=dev``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
from hypothesis import HealthCheck, settings

from partition.plan import PartitionResult, partition
from tests.strategies import District

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT / ".." / "shared" / "data"


@dataclass(frozen=True)
class Run:
    """One engine run: the result, the units passed in and a copy taken before the call."""

    result: PartitionResult
    units_passed: gpd.GeoDataFrame
    units_before: gpd.GeoDataFrame


@pytest.fixture(scope="session")
def partitioned() -> Callable[[District], Run]:
    """``partitioned(district)`` partitions a drawn district with seed 0, once per distinct district.

    The invariant tests are parametrised over checks; derandomised hypothesis draws the
    same districts for each check, so each district is partitioned once, not once per check.
    """
    runs: dict[str, Run] = {}

    def run(district: District) -> Run:
        key = district.fingerprint()
        if key not in runs:
            before = district.units.copy()
            result = partition(district.units, **district.kwargs())
            runs[key] = Run(result, district.units, before)
        return runs[key]

    return run


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real data folder next to the repository, or skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA.resolve()} is absent")
    return SHARED_DATA.resolve()
