"""The compare page: is job B better than job A beyond seed noise?"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from seedlab.charts.compare import distribution_figure
from seedlab.charts.overlay import default_metric
from seedlab.compare import service as compare_service
from seedlab.compare.schemas import CompareResult
from seedlab.deps import ReadSession
from seedlab.errors import AppError, InvalidInput
from seedlab.pages.templating import templates

BETTER_LABELS = {"auto": "auto (lower for losses)", "higher": "higher", "lower": "lower"}

router = APIRouter(include_in_schema=False)


def _job_id(text: str, role: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput(f"job {role} must be a job id (a whole number), got {text!r}") from None


def _fill_result(session: Session, context: dict[str, Any]) -> None:
    """Fill the shared metrics, then the result and its figure (raises AppError to show)."""
    if context["better"] not in compare_service.BETTER_CHOICES:
        raise InvalidInput(f"better must be one of {', '.join(compare_service.BETTER_CHOICES)}")
    job_a, job_b = _job_id(context["a"], "A"), _job_id(context["b"], "B")
    context["metrics"] = compare_service.shared_metrics(session=session, job_a=job_a, job_b=job_b)
    if not context["metric"]:
        chosen = default_metric(context["metrics"])
        if chosen is None:
            raise InvalidInput(
                f"jobs {job_a} and {job_b} share no final metric yet; "
                "each needs succeeded runs that report the same metric"
            )
        context["metric"] = chosen
    result = compare_service.compare_jobs(
        session=session,
        job_a=job_a,
        job_b=job_b,
        metric=context["metric"],
        higher_is_better=compare_service.BETTER_CHOICES[context["better"]],
    )
    context["result"] = result
    context["figure"] = comparison_figure(result)


def comparison_figure(result: CompareResult) -> dict[str, Any]:
    """Box plots of job A's and job B's seeds, A left and B right."""
    return distribution_figure(
        [
            (f"{role} · job {sample.job_id}", sample.values, sample.seeds, sample.run_ids)
            for role, sample in (("A", result.a), ("B", result.b))
        ],
        metric=result.metric,
    )


def compare_context(
    *, session: Session, a: str, b: str, metric: str, better: str
) -> dict[str, Any]:
    """The form's values, and the result or the error that prevented it."""
    context: dict[str, Any] = {
        "a": a.strip(),
        "b": b.strip(),
        "metric": metric.strip(),
        "better": better,
        "better_choices": list(BETTER_LABELS.items()),
        "metrics": [],
        "result": None,
        "figure": None,
        "error": None,
        "status_code": 200,
    }
    if not context["a"] and not context["b"]:
        return context  # the empty form
    try:
        _fill_result(session, context)
    except AppError as exc:
        context["error"] = exc.message
        context["status_code"] = exc.status_code
    return context


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    session: ReadSession,
    a: str = "",
    b: str = "",
    metric: str = "",
    better: str = "auto",
) -> Response:
    """Both jobs' seeds as a box plot, the verdict sentence and the statistics; a form to pick."""
    context = compare_context(session=session, a=a, b=b, metric=metric, better=better)
    return templates.TemplateResponse(
        request, "compare.html", context, status_code=context["status_code"]
    )
