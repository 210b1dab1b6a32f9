"""Jobs: creation (seed plan expansion), listing, cancel, status derivation, the report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from seedlab.analysis.audit import BASELINE, AuditRun, audit_report, env_variant, without
from seedlab.analysis.spread import compute_spread
from seedlab.analysis.verdict import compute_verdict
from seedlab.charts.overlay import default_metric, overlay_figure_arrays
from seedlab.config import Settings
from seedlab.datasets import service as datasets_service
from seedlab.db import utcnow
from seedlab.divergence import service as divergence_service
from seedlab.errors import InvalidInput, NotFound
from seedlab.experiments import service as experiments_service
from seedlab.jobs.models import Job
from seedlab.jobs.schemas import AuditSpec, JobCreate, JobRead, JobReport, MetricSpreadOut
from seedlab.jobs.seedplan import parse_seed_plan
from seedlab.lru import LruCache
from seedlab.runner.profile import TOGGLES, Profile, ProfileSpec, resolve_profile
from seedlab.runs import service as runs_service
from seedlab.runs.models import Run
from seedlab.status import (
    TERMINAL_JOB_STATUSES,
    JobStatus,
    RunStatus,
    transition_job,
    transition_run,
)


def create_job(*, session: Session, payload: JobCreate, settings: Settings) -> Job:
    """Validate a submission and expand it into queued runs."""
    try:
        spec = experiments_service.find_experiment(name=payload.experiment)
    except NotFound as exc:
        raise InvalidInput(exc.message) from None
    params = experiments_service.validated_params(spec=spec, params=payload.params)
    params = datasets_service.resolve_params(session=session, spec=spec, params=params)
    if payload.tolerance and any(v < 0 for v in payload.tolerance.values()):
        raise InvalidInput("tolerances must be >= 0")
    if payload.kind == "audit":
        audit = payload.audit or AuditSpec()
        plan = parse_seed_plan([audit.seed], max_runs=settings.max_runs_per_job)
        variants = audit_variants(audit)
        profile = variants[0][1]
        repeats = audit.repeats
    else:
        if payload.audit is not None:
            raise InvalidInput("audit settings need kind 'audit'")
        plan = parse_seed_plan(payload.seeds, max_runs=settings.max_runs_per_job)
        profile = resolve_profile(payload.profile)
        variants = [(None, profile)]
        repeats = plan.repeats
    run_count = len(plan.seeds) * repeats * len(variants)
    if run_count > settings.max_runs_per_job:
        raise InvalidInput(
            f"job expands into {run_count} runs; at most {settings.max_runs_per_job} runs per job"
        )
    job = Job(
        kind=payload.kind,
        audit=(payload.audit or AuditSpec()).model_dump() if payload.kind == "audit" else None,
        experiment_name=spec.name,
        experiment_version=spec.version,
        params=params,
        seed_plan={"seeds": list(plan.seeds), "repeats": repeats},
        seed_plan_text=plan.text()
        if payload.kind == "standard"
        else f"audit of seed {plan.seeds[0]}",
        profile=profile.model_dump(),
        profile_name=profile.name,
        tolerance=payload.tolerance,
        label=payload.label,
        status=JobStatus.QUEUED.value,
        run_count=run_count,
        created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    session.add_all(
        Run(
            job_id=job.id,
            seed=seed,
            repeat=repeat,
            variant=variant,
            profile=None if variant is None else variant_profile.model_dump(),
            max_attempts=settings.max_attempts,
            queued_at=job.created_at,
        )
        for repeat in range(repeats)
        for variant, variant_profile in variants
        for seed in plan.seeds
    )
    session.flush()
    return job


def audit_variants(audit: AuditSpec) -> list[tuple[str | None, Profile]]:
    """Baseline (every toggle on), one variant per toggle turned off, one per environment."""
    all_on: dict[str, Any] = dict.fromkeys(TOGGLES, True)
    trace = audit.trace
    baseline = resolve_profile(ProfileSpec(preset="full", trace=trace, **all_on))
    variants: list[tuple[str | None, Profile]] = [(BASELINE, baseline)]
    for toggle in TOGGLES if audit.toggles is None else audit.toggles:
        off = resolve_profile(ProfileSpec(preset="full", trace=trace, **{**all_on, toggle: False}))
        variants.append((without(toggle), off))
    for env in audit.env_matrix:
        profile = resolve_profile(ProfileSpec(trace=trace, env=env, **all_on))
        variants.append((env_variant(env), profile))
    return variants


def get_job(*, session: Session, job_id: int) -> Job:
    """The job, or NotFound."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job


def describe(job: Job, counts: dict[str, int]) -> JobRead:
    """A job as the API lists it."""
    return JobRead(
        id=job.id,
        kind=job.kind,
        experiment=job.experiment_name,
        experiment_version=job.experiment_version,
        label=job.label,
        params=job.params,
        seed_plan=job.seed_plan_text,
        seeds=list(job.seed_plan["seeds"]),
        repeats=int(job.seed_plan["repeats"]),
        profile_name=job.profile_name,
        profile=job.profile,
        tolerance=job.tolerance,
        status=job.status,
        run_count=job.run_count,
        run_counts=counts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def read_job(*, session: Session, job_id: int) -> JobRead:
    """One job with its run counts."""
    job = get_job(session=session, job_id=job_id)
    counts = runs_service.status_counts(session=session, job_ids=[job.id])
    return describe(job, counts[job.id])


def list_jobs(
    *, session: Session, limit: int, offset: int, status: str | None = None
) -> tuple[list[JobRead], int]:
    """A page of jobs, newest first, with run counts (never touches metric rows)."""
    query = select(Job)
    count_query = select(func.count()).select_from(Job)
    if status:
        allowed = [s.value for s in JobStatus]
        if status not in allowed:
            raise InvalidInput(f"unknown status {status!r}; allowed: {', '.join(allowed)}")
        query = query.where(Job.status == status)
        count_query = count_query.where(Job.status == status)
    jobs = list(session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)))
    total = session.scalar(count_query) or 0
    counts = runs_service.status_counts(session=session, job_ids=[j.id for j in jobs])
    return [describe(job, counts[job.id]) for job in jobs], total


def derive_status(counts: dict[str, int], *, cancel_requested: bool, started: bool) -> JobStatus:
    """The job status implied by its runs' statuses (a started job never goes back to queued)."""
    total = sum(counts.values())
    queued = counts.get(RunStatus.QUEUED.value, 0)
    running = counts.get(RunStatus.RUNNING.value, 0)
    if queued == total:
        return JobStatus.RUNNING if started else JobStatus.QUEUED
    if queued or running:
        return JobStatus.RUNNING
    if cancel_requested and counts.get(RunStatus.CANCELLED.value, 0):
        return JobStatus.CANCELLED
    if counts.get(RunStatus.FAILED.value, 0) or counts.get(RunStatus.CANCELLED.value, 0):
        return JobStatus.FAILED
    return JobStatus.SUCCEEDED


def refresh_status(*, session: Session, job: Job) -> None:
    """Recompute the job status from its runs and move it through the transition table."""
    session.flush()
    counts = runs_service.status_counts(session=session, job_ids=[job.id])[job.id]
    if job.kind == "audit" and counts.get(RunStatus.FAILED.value):
        # In an audit, a run that fails with a control turned off is a finding, not a failure
        # of the job; only failing baseline runs fail it.
        baseline_failed = session.scalar(
            select(func.count()).where(
                Run.job_id == job.id,
                Run.variant == BASELINE,
                Run.status == RunStatus.FAILED.value,
            )
        )
        findings = counts[RunStatus.FAILED.value] - (baseline_failed or 0)
        counts[RunStatus.FAILED.value] -= findings
        counts[RunStatus.SUCCEEDED.value] = counts.get(RunStatus.SUCCEEDED.value, 0) + findings
    new = derive_status(
        counts, cancel_requested=job.cancel_requested, started=job.started_at is not None
    )
    if transition_job(job, new):
        now = utcnow()
        if new is not JobStatus.QUEUED and job.started_at is None:
            job.started_at = now
        if new in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
            job.finished_at = now


def cancel_job(*, session: Session, job_id: int) -> Job:
    """Cancel queued runs at once and ask agents to stop running ones."""
    job = get_job(session=session, job_id=job_id)
    job.cancel_requested = True
    now = utcnow()
    queued = session.scalars(
        select(Run)
        .where(Run.job_id == job.id, Run.status == RunStatus.QUEUED.value)
        .with_for_update()
    ).all()
    for run in queued:
        transition_run(run, RunStatus.CANCELLED)
        run.finished_at = now
    session.execute(
        update(Run)
        .where(Run.job_id == job.id, Run.status == RunStatus.RUNNING.value)
        .values(cancel_requested=True)
        .execution_options(synchronize_session=False)
    )
    refresh_status(session=session, job=job)
    return job


def _job_with_runs(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id, options=[selectinload(Job.runs)])
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job


def build_report(*, session: Session, job_id: int) -> JobReport:
    """Status, verdict with evidence, spread across seeds, and every run."""
    job = _job_with_runs(session, job_id)
    curves = runs_service.job_curves(session=session, job_id=job.id)
    data = {run.id: runs_service.as_run_data(run, curves.get(run.id)) for run in job.runs}
    audit = None
    if job.kind == "audit":
        audit = _audit_section(session, job, data)
        # The verdict of an audit job is its baseline pair's: every control on.
        compared = [data[run.id] for run in job.runs if run.variant == BASELINE]
    else:
        compared = list(data.values())
    verdict = compute_verdict(compared, tolerance=job.tolerance).to_dict()
    spread = compute_spread(compared)
    differing = [
        (seed["run_ids"][0], seed["run_ids"][1])
        for seed in verdict["seeds"]
        if not seed["weights_identical"] and len(seed["run_ids"]) >= 2
    ]
    divergence = divergence_service.seed_divergences(
        session=session, runs=job.runs, pairs=differing
    )
    counts: dict[str, int] = {}
    for run in job.runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    return JobReport(
        id=job.id,
        kind=job.kind,
        status=job.status,
        experiment=job.experiment_name,
        experiment_version=job.experiment_version,
        params=job.params,
        seed_plan=job.seed_plan_text,
        profile_name=job.profile_name,
        profile=job.profile,
        tolerance=job.tolerance,
        verdict=verdict["verdict"],
        verdict_evidence=verdict,
        metrics={name: MetricSpreadOut(**s.to_dict()) for name, s in sorted(spread.items())},
        run_counts=counts,
        runs=[runs_service.summarize(run) for run in job.runs],
        divergence=divergence,
        audit=audit,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


# The audit section only changes when one of the job's runs changes status (what it compares
# is fixed once a run has ended), so the live page's polls reuse it instead of re-reading traces.
_AUDIT_SECTIONS: LruCache[tuple[Any, ...], dict[str, Any]] = LruCache(32)


def _audit_section(session: Session, job: Job, data: dict[int, Any]) -> dict[str, Any]:
    key = (
        str(session.get_bind().engine.url),
        job.id,
        tuple(sorted((run.id, run.status, run.attempt) for run in job.runs)),
    )
    if (cached := _AUDIT_SECTIONS.get(key)) is not None:
        return cached
    section = _build_audit_section(session, job, data)
    _AUDIT_SECTIONS.put(key, section)
    return section


def _build_audit_section(session: Session, job: Job, data: dict[int, Any]) -> dict[str, Any]:
    data_hash = divergence_service.data_hashes(session=session, runs=job.runs)
    traces = divergence_service.load_traces(
        session=session, runs=job.runs, known_data_hashes=data_hash
    )
    runs = [
        AuditRun(
            data=data[run.id],
            variant=run.variant or BASELINE,
            seconds_per_epoch=run.seconds_per_epoch,
            data_hash=data_hash[run.id],
            error=run.error,
            trace=traces.get(run.id),
        )
        for run in job.runs
    ]
    chosen = (job.audit or {}).get("toggles")
    toggles = list(TOGGLES) if chosen is None else chosen
    return audit_report(runs, toggles)


# Overlays of finished jobs never change (points are fenced to running attempts), so the last few
# are kept in memory: a page view or a metric switch on a 100-run job then skips the query.
_FINISHED_OVERLAYS: LruCache[tuple[Any, ...], dict[str, Any]] = LruCache(32)


def overlay(
    *, session: Session, job_id: int, metric: str | None, band: bool, max_points: int
) -> dict[str, Any]:
    """Plotly figure of every run's curve for one metric, downsampled, with the seed band."""
    job = get_job(session=session, job_id=job_id)
    cache_key = (
        str(session.get_bind().engine.url),
        job.id,
        job.finished_at,
        metric,
        band,
        max_points,
    )
    finished = job.status in TERMINAL_JOB_STATUSES
    if finished and (cached := _FINISHED_OVERLAYS.get(cache_key)) is not None:
        return cached
    result = _build_overlay(session, job, metric=metric, band=band, max_points=max_points)
    if finished:
        _FINISHED_OVERLAYS.put(cache_key, result)
    return result


def _build_overlay(
    session: Session, job: Job, *, metric: str | None, band: bool, max_points: int
) -> dict[str, Any]:
    keys = runs_service.job_metric_keys(session=session, job_id=job.id)
    chosen = metric or default_metric(keys)
    if chosen is None:
        return {"metric": None, "metrics": keys, "figure": {"data": [], "layout": {}}}
    if chosen not in keys:
        raise InvalidInput(
            f"job {job.id} logged no metric {chosen!r}; logged: {', '.join(keys) or 'none yet'}"
        )
    # Arrays straight from the packed curves, and only the run columns the chart needs.
    curves = runs_service.job_curve_arrays(session=session, job_id=job.id, key=chosen)
    runs = runs_service.job_run_data(session=session, job_id=job.id)
    figure = overlay_figure_arrays(runs, curves, chosen, show_band=band, max_points=max_points)
    return {"metric": chosen, "metrics": keys, "figure": figure}
