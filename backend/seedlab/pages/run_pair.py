"""The run-pair page: environment differences by risk, then where the weights first part."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from seedlab.charts.divergence import divergence_figure
from seedlab.deps import IdPath, ReadSession
from seedlab.divergence import service as divergence_service
from seedlab.errors import InvalidInput, NotFound
from seedlab.fingerprints import service as fingerprints_service
from seedlab.pages.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/runs/{run_a}/diff/{run_b}", response_class=HTMLResponse)
def run_pair_page(run_a: IdPath, run_b: IdPath, request: Request, session: ReadSession) -> Response:
    """The environment diff of two runs, then their first divergence and its timeline."""
    context: dict[str, Any] = {"run_a": run_a, "run_b": run_b, "diff": None, "problem": None}
    try:
        context["diff"] = fingerprints_service.diff_runs(session=session, run_a=run_a, run_b=run_b)
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
