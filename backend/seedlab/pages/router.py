"""Server-rendered pages: jobs list, new-job form, job page (live), run page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from seedlab import __version__
from seedlab.deps import ReadSession
from seedlab.errors import NotFound
from seedlab.experiments import catalog
from seedlab.experiments import service as experiments_service
from seedlab.fingerprints import service as fingerprints_service
from seedlab.jobs import service as jobs_service
from seedlab.pages.static import asset_url, plotly_url
from seedlab.runner.profile import PRESETS, TOGGLES
from seedlab.runs import service as runs_service
from seedlab.status import TERMINAL_JOB_STATUSES, TERMINAL_RUN_STATUSES

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "web" / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals.update(
    plotly_url=plotly_url, asset_url=asset_url, version=__version__, tojson=json.dumps
)

PROFILE_HELP = {
    "full": "hash seed, Python/NumPy/TF seeds, op determinism, single-threaded TF, seeded tf.data",
    "seeds_only": "hash seed and every seed, but no op determinism and no thread limits",
    "none": "no seeds and no controls at all: shows how much runs vary untamed",
}

router = APIRouter(include_in_schema=False)


def _fmt(value: Any) -> str:
    """Numbers with about six significant digits; dashes for missing values."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


templates.env.filters["fmt"] = _fmt


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _not_found(request: Request, exc: NotFound) -> HTMLResponse:
    return _page(request, "not_found.html", status_code=404, message=exc.message)


@router.get("/", response_class=HTMLResponse)
def jobs_page(
    request: Request, session: ReadSession, offset: int = Query(0, ge=0)
) -> HTMLResponse:
    """All jobs, newest first."""
    limit = 50
    jobs, total = jobs_service.list_jobs(session=session, limit=limit, offset=offset)
    return _page(request, "jobs.html", jobs=jobs, total=total, offset=offset, limit=limit)


@router.get("/jobs/new", response_class=HTMLResponse)
def new_job_page(request: Request, experiment: str | None = None) -> HTMLResponse:
    """The new-job form, generated from each experiment's parameter schema."""
    experiments = [experiments_service.describe(spec) for spec in catalog.list_experiments()]
    selected = experiment if any(e["name"] == experiment for e in experiments) else None
    return _page(
        request,
        "new_job.html",
        experiments=experiments,
        selected=selected or (experiments[0]["name"] if experiments else None),
        presets=PRESETS,
        profile_help=PROFILE_HELP,
        toggles=TOGGLES,
    )


def _job_context(session: ReadSession, job_id: int) -> dict[str, Any]:
    report = jobs_service.build_report(session=session, job_id=job_id)
    return {
        "report": report,
        "terminal": report.status in TERMINAL_JOB_STATUSES,
        "finished_runs": sum(1 for r in report.runs if r.status in TERMINAL_RUN_STATUSES),
    }


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: int, session: ReadSession) -> HTMLResponse:
    """Overlay, spread, verdict and runs of one job; updates itself while runs progress."""
    try:
        context = _job_context(session, job_id)
    except NotFound as exc:
        return _not_found(request, exc)
    return _page(request, "job.html", **context)


@router.get("/jobs/{job_id}/live")
def job_live(request: Request, job_id: int, session: ReadSession) -> dict[str, Any]:
    """The job page's changing sections, rendered by the same templates, for live updates."""
    context = _job_context(session, job_id)
    sections = {}
    for name in ("status", "verdict", "spread", "runs"):
        template = templates.get_template(f"job_{name}.html")
        sections[name] = template.render(request=request, **context)
    return {
        "status": context["report"].status,
        "terminal": context["terminal"],
        "finished_runs": context["finished_runs"],
        "html": sections,
    }


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: int, session: ReadSession) -> HTMLResponse:
    """One run: status, attempts, error, applied profile, fingerprint, curves."""
    try:
        run = runs_service.describe(runs_service.get_run(session=session, run_id=run_id))
    except NotFound as exc:
        return _not_found(request, exc)
    fingerprint = None
    if run.fingerprint_hash:
        fingerprint = fingerprints_service.get_fingerprint(
            session=session, fingerprint_hash=run.fingerprint_hash
        ).data
    return _page(
        request,
        "run.html",
        run=run,
        fingerprint=fingerprint,
        terminal=run.status in TERMINAL_RUN_STATUSES,
    )
