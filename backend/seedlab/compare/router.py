"""Comparison endpoint and page: is job B better than job A beyond seed noise?"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from seedlab.compare import service as compare_service
from seedlab.compare.schemas import CompareResult
from seedlab.deps import ReadSession
from seedlab.pages.router import templates

router = APIRouter(tags=["compare"])


@router.get("/api/v1/compare")
def compare(
    session: ReadSession,
    a: int = Query(..., description="Job A, the baseline"),
    b: int = Query(..., description="Job B, the candidate"),
    metric: str = Query(
        ..., min_length=1, max_length=200, description="Final metric, e.g. val_auc"
    ),
    higher_is_better: bool | None = Query(
        None, description="Default: false for loss/error-like names, else true"
    ),
) -> CompareResult:
    """Job B against job A on one final metric, one succeeded run per seed: tests, CI, effect."""
    return compare_service.compare_jobs(
        session=session, job_a=a, job_b=b, metric=metric, higher_is_better=higher_is_better
    )


@router.get("/compare", response_class=HTMLResponse, include_in_schema=False)
def compare_page(
    request: Request,
    session: ReadSession,
    a: str = "",
    b: str = "",
    metric: str = "",
    better: str = "auto",
) -> Response:
    """Both jobs' seeds as a box plot, the verdict sentence and the statistics; a form to pick."""
    context = compare_service.page_context(session=session, a=a, b=b, metric=metric, better=better)
    return templates.TemplateResponse(
        request, "compare.html", context, status_code=context["status_code"]
    )
