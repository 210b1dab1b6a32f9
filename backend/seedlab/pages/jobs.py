"""The jobs list, the new-job form and the job page with its live fragments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from seedlab.cache import ResultCache
from seedlab.charts.overlay import DEFAULT_METRIC_ORDER
from seedlab.datasets import service as datasets_service
from seedlab.deps import MAX_OFFSET, CacheDep, IdPath, ReadSession, SettingsDep
from seedlab.experiments import service as experiments_service
from seedlab.fingerprints import service as fingerprints_service
from seedlab.jobs import report as jobs_report
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs import service as jobs_service
from seedlab.jobs.schemas import JobReport
from seedlab.pages.forms import new_job_context
from seedlab.pages.templating import (
    PAGE_SIZE,
    pagination,
    render_fragments,
    render_page,
    templates,
)
from seedlab.profiles import TOGGLES
from seedlab.status import TERMINAL_JOB_STATUSES, TERMINAL_RUN_STATUSES

RUN_TABLE_METRICS = 3

router = APIRouter(include_in_schema=False)


def _metric_columns(report: JobReport) -> list[str]:
    """A few final metrics for the runs table, the most telling first."""
    names = {k for run in report.runs for k in (run.final_metrics or {})}
    preferred = [m for m in DEFAULT_METRIC_ORDER if m in names]
    return (preferred + sorted(names - set(preferred)))[:RUN_TABLE_METRICS]


def _chart_key(report: JobReport) -> str:
    """Changes whenever the overlay chart has new data (a run finished or logged an epoch)."""
    finished = sum(1 for run in report.runs if run.status in TERMINAL_RUN_STATUSES)
    epochs = sum(run.epoch or 0 for run in report.runs)
    return f"{finished}:{epochs}"


def job_context(session: Session, job_id: int, cache: ResultCache) -> dict[str, Any]:
    """Everything the job page and its fragments render."""
    report = jobs_report.build_report(session=session, job_id=job_id, cache=cache)
    # Already in the session's identity map: the label and start time the report leaves out.
    job = jobs_repository.job_with_runs(session=session, job_id=job_id)
    return {
        "report": report,
        "label": job.label,
        "started_at": job.started_at,
        "terminal": report.status in TERMINAL_JOB_STATUSES,
        "metric_columns": _metric_columns(report),
        "chart_key": _chart_key(report),
        "toggles": [(name, bool(report.profile.get(name))) for name in TOGGLES],
        "variation": fingerprints_service.job_variation(
            session=session, job_id=job.id, runs=job.runs
        ),
        "run_pair": _run_pair(report),
    }


def _run_pair(report: JobReport) -> tuple[int, int] | None:
    """Two runs of one seed for the run-pair link: a differing pair first, else any pair."""
    seeds = report.verdict_evidence.get("seeds", [])
    pairs = [s for s in seeds if len(s["run_ids"]) > 1]
    pairs.sort(key=lambda s: s["weights_identical"])
    if pairs:
        return pairs[0]["run_ids"][0], pairs[0]["run_ids"][1]
    by_seed: dict[int, list[int]] = {}
    for run in report.runs:
        by_seed.setdefault(run.seed, []).append(run.id)
    same_seed = [ids for ids in by_seed.values() if len(ids) > 1]
    return (same_seed[0][0], same_seed[0][1]) if same_seed else None


JOB_FRAGMENTS = {
    "status": "_job_status.html",
    "verdict": "_verdict.html",
    "spread": "_spread.html",
    "runs": "_runs.html",
}


@router.get("/", response_class=HTMLResponse)
def jobs_page(
    request: Request,
    session: ReadSession,
    settings: SettingsDep,
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Response:
    """Jobs, newest first, a page at a time; a banner for sources live agents failed to load."""
    jobs, total = jobs_service.list_jobs(session=session, limit=PAGE_SIZE, offset=offset)
    failed = experiments_service.failed_sources(session=session, settings=settings)
    return templates.TemplateResponse(
        request,
        "jobs.html",
        {"jobs": jobs, "failed_sources": failed, **pagination(offset, total)},
    )


@router.get("/jobs/new", response_class=HTMLResponse)
def new_job_page(
    request: Request, session: ReadSession, settings: SettingsDep, experiment: str | None = None
) -> Response:
    """The submission form; parameter inputs are generated from each experiment's schema."""
    items = experiments_service.server_catalog(session=session, settings=settings)
    context = new_job_context(experiment, items)
    context["datasets"] = datasets_service.form_choices(session=session)
    return templates.TemplateResponse(request, "job_new.html", context)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: IdPath, request: Request, session: ReadSession, cache: CacheDep) -> Response:
    """Verdict, spread, overlay chart and runs of one job."""
    return render_page(request, "job.html", lambda: job_context(session, job_id, cache))


@router.get("/jobs/{job_id}/live")
def job_live(job_id: IdPath, request: Request, session: ReadSession, cache: CacheDep) -> Response:
    """The job page's changing parts, re-rendered for polling."""
    return render_fragments(request, JOB_FRAGMENTS, lambda: job_context(session, job_id, cache))
