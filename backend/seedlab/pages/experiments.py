"""The experiment page: every job of one experiment over time, its verdict and spread."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from seedlab.analysis.audit import BASELINE
from seedlab.analysis.spread import compute_spread
from seedlab.analysis.verdict import compute_verdict
from seedlab.charts.history import HistoryPoint, history_figure
from seedlab.charts.overlay import default_metric
from seedlab.config import Settings
from seedlab.deps import ReadSession, SettingsDep
from seedlab.errors import NotFound
from seedlab.experiments import service as experiments_service
from seedlab.jobs import service as jobs_service
from seedlab.jobs.models import Job
from seedlab.pages.templating import render_page
from seedlab.runs import service as runs_service

router = APIRouter(include_in_schema=False)


def _value_key(value: Any) -> str:
    """A parameter value as the filter compares it: canonical JSON."""
    return json.dumps(value, sort_keys=True)


def _job_row(job: Job, metric: str | None, bounded: Collection[str]) -> dict[str, Any]:
    compared = [
        runs_service.as_run_data(run, None)
        for run in job.runs
        if job.kind != "audit" or run.variant == BASELINE
    ]
    spread = compute_spread(compared, bounded=bounded).get(metric) if metric else None
    # A finished job carries its stored verdict; a running one (or one that finished before
    # verdicts were stored) gets it computed from its runs' checksums and final metrics.
    verdict = job.verdict or compute_verdict(compared, tolerance=job.tolerance).verdict
    return {
        "job": job,
        "verdict": verdict,
        "spread": spread,
        "metrics": sorted({k for run in compared for k in run.final_metrics}),
    }


def experiment_context(
    session: Session, settings: Settings, name: str, metric: str, profile: str, params: list[str]
) -> dict[str, Any]:
    """The experiment's jobs (filtered), the metric's history chart and the filter choices."""
    every = jobs_service.experiment_jobs(session=session, experiment=name)
    known = experiments_service.server_catalog(session=session, settings=settings)
    if not every and name not in {item.name for item in known}:
        raise NotFound(f"experiment {name!r} is neither in the catalog nor used by any job")
    # Parameters whose value differs between jobs: the ones worth filtering on.
    values: dict[str, set[str]] = {}
    for job in every:
        for key, value in job.params.items():
            values.setdefault(key, set()).add(_value_key(value))
    varying = {key: sorted(found) for key, found in sorted(values.items()) if len(found) > 1}
    wanted: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if sep and key in varying and value:
            wanted[key] = value
    jobs = [
        job
        for job in every
        if (not profile or job.profile_name == profile)
        and all(_value_key(job.params.get(k)) == v for k, v in wanted.items())
    ]
    all_metrics = sorted({k for job in jobs for run in job.runs for k in (run.final_metrics or {})})
    chosen = metric if metric in all_metrics else default_metric(all_metrics)
    # Declared per version: each version's declaration is read once.
    declared = {
        version: experiments_service.bounded_metrics(session=session, name=name, version=version)
        for version in {job.experiment_version for job in jobs}
    }
    rows = [_job_row(job, chosen, declared[job.experiment_version]) for job in jobs]
    points = [
        HistoryPoint(
            job_id=row["job"].id,
            label=row["job"].label,
            verdict=row["verdict"],
            n=row["spread"].n,
            mean=row["spread"].mean,
            ci95=row["spread"].to_dict()["ci95"],
        )
        for row in rows
        if row["spread"] is not None and row["spread"].to_dict()["mean"] is not None
    ]
    return {
        "name": name,
        "rows": rows,
        "total_jobs": len(every),
        "metric": chosen,
        "metrics": all_metrics,
        "profile": profile,
        "profiles": sorted({job.profile_name for job in every}),
        "varying": varying,
        "wanted": wanted,
        "varying_keys": list(varying),
        "figure": history_figure(points, metric=chosen) if points and chosen else None,
    }


@router.get("/experiments/{name}", response_class=HTMLResponse)
def experiment_page(
    name: str,
    request: Request,
    session: ReadSession,
    settings: SettingsDep,
    metric: str = "",
    profile: str = "",
    param: Annotated[list[str], Query(description="key=value (JSON) filters")] = [],  # noqa: B006
) -> Response:
    """Every job of the experiment over time: verdict, mean and CI of a metric, compare links."""
    return render_page(
        request,
        "experiment.html",
        lambda: experiment_context(session, settings, name, metric.strip(), profile.strip(), param),
    )
