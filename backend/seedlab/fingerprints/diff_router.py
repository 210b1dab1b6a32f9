"""Environment diff endpoints and the run-pair page (environment diff and first divergence)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from seedlab.charts.divergence import divergence_figure
from seedlab.deps import ReadSession
from seedlab.divergence import service as divergence_service
from seedlab.errors import InvalidInput, NotFound
from seedlab.fingerprints import diff_service
from seedlab.fingerprints.schemas import JobVariation, RunDiff
from seedlab.pages.router import templates

router = APIRouter()


@router.get("/api/v1/runs/{run_a}/diff/{run_b}", tags=["fingerprints"])
def diff_runs(run_a: int, run_b: int, session: ReadSession) -> RunDiff:
    """Fingerprint fields and applied toggles that differ between two runs, riskiest first."""
    return diff_service.diff_runs(session=session, run_a=run_a, run_b=run_b)


@router.get("/api/v1/jobs/{job_id}/variation", tags=["fingerprints"])
def job_variation(job_id: int, session: ReadSession) -> JobVariation:
    """Fields and toggles not equal across the job's runs, with the runs behind each value."""
    return diff_service.job_variation(session=session, job_id=job_id)


@router.get("/runs/{run_a}/diff/{run_b}", response_class=HTMLResponse, include_in_schema=False)
def diff_page(run_a: int, run_b: int, request: Request, session: ReadSession) -> Response:
    """The run-pair page: environment differences by risk, then where the weights first part."""
    context: dict[str, Any] = {"run_a": run_a, "run_b": run_b, "diff": None, "problem": None}
    try:
        context["diff"] = diff_service.diff_runs(session=session, run_a=run_a, run_b=run_b)
    except NotFound as exc:
        return templates.TemplateResponse(
            request, "not_found.html", {"message": exc.message}, status_code=404
        )
    except InvalidInput as exc:  # a run not started yet: say so on the page
        context["problem"] = exc.message
        return templates.TemplateResponse(request, "diff.html", context, status_code=422)
    try:
        divergence = divergence_service.run_divergence(session=session, run_a=run_a, run_b=run_b)
    except InvalidInput as exc:  # not finished yet: the environment part still stands
        context["divergence_problem"] = exc.message
    else:
        context["divergence"] = divergence
        context["timeline"] = divergence_figure(divergence.model_dump())
    return templates.TemplateResponse(request, "diff.html", context)
