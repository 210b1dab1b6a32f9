"""Environment diff endpoints and the run-vs-run diff page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from seedlab.deps import ReadSession
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
    """What differs between the environments of two runs, colour-coded by risk."""
    try:
        diff = diff_service.diff_runs(session=session, run_a=run_a, run_b=run_b)
    except NotFound as exc:
        return templates.TemplateResponse(
            request, "not_found.html", {"message": exc.message}, status_code=404
        )
    except InvalidInput as exc:  # a run not started yet: say so on the page
        return templates.TemplateResponse(
            request,
            "diff.html",
            {"run_a": run_a, "run_b": run_b, "diff": None, "problem": exc.message},
            status_code=422,
        )
    return templates.TemplateResponse(
        request, "diff.html", {"run_a": run_a, "run_b": run_b, "diff": diff, "problem": None}
    )
