"""Fixtures of the partition tests: hypothesis profiles, one engine run per drawn district, real data.

Profiles: ``ci`` (default: 25 derandomised examples, no deadline, no shrinking, so a
failing run stays as quick as a passing one) and ``dev`` (200 examples, shrinking failures
to a minimal district, for hunting and reproducing bugs); choose with
``HYPOTHESIS_PROFILE=dev``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, settings

from partition.plan import partition
from tests.partition.invariants import Run
from tests.strategies import District

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
