"""Job endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from seedlab.deps import (
    MAX_OFFSET,
    CacheDep,
    DatabaseDep,
    IdPath,
    ReadSession,
    SettingsDep,
    WriteSession,
)
from seedlab.fingerprints.schemas import JobVariation
from seedlab.jobs import creation, lifecycle, replay, report
from seedlab.jobs import service as jobs_service
from seedlab.jobs.schemas import (
    JobCreate,
    JobFilter,
    JobList,
    JobPlan,
    JobRead,
    JobReport,
    JobUpdate,
    ReplayBestCreate,
    RunBundle,
)
from seedlab.runs.schemas import RunSummary

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
# The bundle describes a run but needs the job, its fingerprint and the catalog: served here.
bundle_router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


@bundle_router.get("/{run_id}/bundle")
def run_bundle(run_id: int, session: ReadSession) -> RunBundle:
    """Everything needed to run the run again: code, params, seed, profile, data, results."""
    return replay.run_bundle(session=session, run_id=run_id)


@router.post("", status_code=201)
def create_job(payload: JobCreate, session: WriteSession, settings: SettingsDep) -> JobRead:
    """Submit a job: validates the experiment, parameters, seed plan and profile; queues runs."""
    job = creation.create_job(session=session, payload=payload, settings=settings)
    return jobs_service.read_job(session=session, job_id=job.id)


@router.post("/plan")
def plan_job(payload: JobCreate, session: ReadSession, settings: SettingsDep) -> JobPlan:
    """What a submission would run, without queuing anything: the run count and, for a
    decompose job, its groups with every run's seeds (the same validation as submitting)."""
    return JobPlan(**creation.preview(session=session, payload=payload, settings=settings))


@router.get("")
def list_jobs(
    session: ReadSession,
    filters: Annotated[JobFilter, Query()],
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> JobList:
    """Jobs matching the filters, newest first (a CI baseline: ?label=main&experiment=X)."""
    items, total = jobs_service.list_jobs(
        session=session, limit=limit, offset=offset, filters=filters
    )
    return JobList(items=items, total=total, limit=limit, offset=offset)


@router.get("/{job_id}")
def get_job(job_id: IdPath, session: ReadSession) -> JobRead:
    """One job with run counts per status."""
    return jobs_service.read_job(session=session, job_id=job_id)


@router.get("/{job_id}/wait")
async def wait_for_job(
    job_id: IdPath,
    database: DatabaseDep,
    timeout: float = Query(
        25.0, ge=0, le=60, description="seconds to wait at most; the job as it is then"
    ),
) -> JobRead:
    """Long poll: answers as soon as the job has ended (within about 25 ms), else after timeout
    seconds with the job as it is; a client calls again until the status is terminal."""
    return await jobs_service.wait_for_end(database=database, job_id=job_id, timeout=timeout)


@router.patch("/{job_id}")
def update_job(job_id: int, payload: JobUpdate, session: WriteSession) -> JobRead:
    """Change a job's label."""
    return jobs_service.update_label(session=session, job_id=job_id, label=payload.label)


@router.post("/{job_id}/rerun", status_code=201)
def rerun_job(job_id: int, session: WriteSession, settings: SettingsDep) -> JobRead:
    """Submit the same job again: experiment, parameters, seed plan, profile, tolerance, label."""
    job = creation.create_job(
        session=session,
        payload=jobs_service.resubmission(session=session, job_id=job_id),
        settings=settings,
    )
    return jobs_service.read_job(session=session, job_id=job.id)


@router.post("/{job_id}/cancel")
def cancel_job(job_id: IdPath, session: WriteSession) -> JobRead:
    """Cancel queued runs and stop running ones."""
    lifecycle.cancel_job(session=session, job_id=job_id)
    return jobs_service.read_job(session=session, job_id=job_id)


@router.delete("/{job_id}", status_code=204)
def delete_job(job_id: IdPath, session: WriteSession, cache: CacheDep) -> None:
    """Delete a finished job and everything of its runs; fingerprints and agents stay."""
    lifecycle.delete_job(session=session, job_id=job_id)
    cache.clear()  # SQLite may hand the id out again: nothing cached may outlive the job


@router.get("/{job_id}/report")
def job_report(
    job_id: IdPath,
    session: ReadSession,
    cache: CacheDep,
    halfwidth: float | None = Query(
        None, gt=0, le=1e300, description="target 95% CI half-width for seeds_needed"
    ),
    difference: float | None = Query(
        None, gt=0, le=1e300, description="difference to detect at 80% power for seeds_needed"
    ),
    value: float | None = Query(
        None, ge=-1e300, le=1e300, description="a value to place among the seeds (percentile)"
    ),
    metric: str | None = Query(
        None, max_length=200, description="the final metric value is placed in"
    ),
) -> JobReport:
    """Status, verdict with evidence, spread per final metric, and every run; seeds needed for
    a CI half-width or a difference, and where a given value falls among the seeds."""
    return report.build_report(
        session=session,
        job_id=job_id,
        cache=cache,
        halfwidth=halfwidth,
        difference=difference,
        value=value,
        metric=metric,
    )


@router.get("/{job_id}/runs")
def job_runs(job_id: IdPath, session: ReadSession) -> list[RunSummary]:
    """The job's runs in creation order."""
    return jobs_service.job_runs(session=session, job_id=job_id)


@router.get("/{job_id}/variation", tags=["fingerprints"])
def job_variation(job_id: IdPath, session: ReadSession) -> JobVariation:
    """Fields and toggles not equal across the job's runs, with the runs behind each value."""
    return jobs_service.job_variation(session=session, job_id=job_id)


@router.get("/{job_id}/overlay")
def job_overlay(
    job_id: IdPath,
    session: ReadSession,
    cache: CacheDep,
    metric: str | None = None,
    band: bool = True,
    max_points: int = Query(500, ge=10, le=10_000),
) -> dict[str, Any]:
    """Plotly figure overlaying every run's curve of one metric, long curves downsampled."""
    return report.overlay(
        session=session,
        job_id=job_id,
        metric=metric,
        band=band,
        max_points=max_points,
        cache=cache,
    )


@router.post("/{job_id}/replay-best", status_code=201)
def replay_best(
    job_id: int, payload: ReplayBestCreate, session: WriteSession, settings: SettingsDep
) -> JobRead:
    """Queue a job of this job's top K seeds by a final metric, once each, under `full`."""
    job = replay.create_replay_best(
        session=session, job_id=job_id, payload=payload, settings=settings
    )
    return jobs_service.read_job(session=session, job_id=job.id)
