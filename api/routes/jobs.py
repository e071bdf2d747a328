"""Jobs: follow a background task's progress (partition jobs start at ``POST /plans``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.dependencies import Conn
from gis.store.jobs import read_job

router = APIRouter(tags=["plans"])


def _links(base: str, job: dict) -> list[dict]:
    links = [{"rel": "self", "href": f"{base}/jobs/{job['id']}"}]
    plan = (job.get("result") or {}).get("plan")
    if plan:
        links.append({"rel": "result", "href": f"{base}/plans/{plan}"})
    return links


@router.get("/jobs/{job_id}", operation_id="job_status", summary="A job's status, progress and result")
def job(request: Request, conn: Conn, job_id: str) -> dict:
    found = read_job(conn, job_id)
    return {**found, "links": _links(str(request.base_url).rstrip("/"), found)}
