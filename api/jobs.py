"""Partition jobs run by the service: read the district from the store, partition, store a draft plan.

This module only orchestrates (store → engine → store); the geometry work is the
partition engine's. Jobs run one at a time per worker process on a background thread
and report progress into the ``job`` table, which ``GET /jobs/{id}`` reads.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy.engine import Engine

from gis.errors import CommgridError, ConflictError
from gis.plans import write_plan
from gis.plans.districts import read_assignment, read_district_communities, read_district_units
from gis.store import begin, connect, lookup
from gis.store.jobs import create_job, finish_job, update_job
from gis.store.models import GridPlan

__all__ = ["PartitionRequest", "run_partition_job", "submit_partition"]

log = logging.getLogger("commgrid.jobs")
PROGRESS_EVERY = 0.5  # seconds between progress writes


class PartitionRequest(BaseModel):
    """A request to partition a stored district into a new draft plan."""

    name: str = Field(min_length=1, max_length=200, description="name of the draft plan to create (unique)")
    district: str = Field(description="stored district whose units and communities are partitioned")
    households: tuple[int, int] = Field(default=(300, 500), description="household range of a grid")
    population: tuple[int, int] = Field(default=(1000, 1500), description="resident range of a grid")
    seed: int = Field(default=0, description="the same inputs and seed give the same plan")

    @field_validator("households", "population")
    @classmethod
    def _range(cls, value: tuple[int, int], info: ValidationInfo) -> tuple[int, int]:
        # refused here, not as a failed job after the 202
        low, high = value
        if low <= 0 or low > high:
            raise ValueError(f"{info.field_name} range {[low, high]}: expected [min, max] with 0 < min <= max")
        return value

    time_budget: float | None = Field(default=None, gt=0, description="seconds; none for a reproducible plan")
    previous: str | None = Field(
        default=None, description="re-divide this stored plan: grids in range and away from trouble are kept"
    )
    lock: list[str] = Field(default_factory=list, description="with previous: codes of grids that never change")


def submit_partition(engine: Engine, executor: Executor, request: PartitionRequest, *, user: str | None) -> str:
    """Check the request, store a queued job and start it; returns the job id.

    Raises
    ------
    NotFoundError
        For an unknown district.
    ConflictError
        When a plan of that name exists.
    """
    with begin(engine) as conn:
        lookup.district(conn, request.district)
        if conn.execute(GridPlan.__table__.select().where(GridPlan.name == request.name)).first() is not None:
            raise ConflictError(f"a plan named {request.name!r} exists; choose another name")
        job_id = create_job(conn, "partition", request.model_dump(), created_by=user)
    executor.submit(run_partition_job, engine, job_id, request)
    return job_id


def run_partition_job(engine: Engine, job_id: str, request: PartitionRequest) -> None:
    """Run one partition job to its end, recording progress and the outcome in the job row."""
    from partition import partition
    from partition.targets import Targets

    last = 0.0

    def progress(done: int, total: int, label: str = "") -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY or done == total:
            last = now
            with begin(engine) as conn:
                update_job(conn, job_id, done=done, total=total, message=f"partitioning: {label}")

    try:
        with begin(engine) as conn:
            update_job(conn, job_id, done=0, total=0, message="reading the district")
        with connect(engine) as conn:
            district = lookup.district(conn, request.district)
            units = read_district_units(conn, district.id)
            communities = read_district_communities(conn, district.id)
            before = read_assignment(conn, request.previous) if request.previous else None
        targets = Targets(households_range=request.households, population_range=request.population)
        result = partition(
            units,
            communities=communities,
            targets=targets,
            crs=district.working_crs,
            seed=request.seed,
            time_budget=request.time_budget,
            progress=progress,
            source=f"district {request.district!r}",
            previous=before,
            locked=request.lock,
        )
        failed = result.report.get("failed_containers") or []
        if failed:
            # a plan with holes is no plan: say which communities failed and store nothing
            names = ", ".join(f"{f['community_id']}: {f['error']}" for f in failed[:5])
            raise CommgridError(f"{len(failed)} communities could not be partitioned ({names}); no plan was stored")
        params: dict[str, Any] = {
            "source": "job",
            "job": job_id,
            "seed": request.seed,
            "previous": request.previous,
            "lock": request.lock,
            "targets": {"households": list(request.households), "population": list(request.population)},
        }
        with begin(engine) as conn:
            write_plan(
                conn,
                district_id=district.id,
                name=request.name,
                grids=result.grids,
                assignment=result.assignment,
                params=params,
                report=result.report,
                publish=False,
            )
            ok = int((result.grids["status"] == "ok").sum())
            outcome = {"plan": request.name, "grids": len(result.grids), "in_range": ok}
            if "redivision" in result.report:
                outcome["redivision"] = {
                    k: v for k, v in result.report["redivision"].items() if not isinstance(v, list)
                }
            finish_job(conn, job_id, result=outcome)
    except CommgridError as exc:
        with begin(engine) as conn:
            finish_job(conn, job_id, error=exc.message)
    except Exception:
        log.exception("partition job %s failed", job_id)
        with begin(engine) as conn:
            finish_job(conn, job_id, error="the job failed unexpectedly; the service log has the details")
