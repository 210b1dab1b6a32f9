"""The Jinja2 environment of every page: filters, globals, and the two ways a page renders."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates

from seedlab.analysis.divergence import divergence_sentence
from seedlab.analysis.spread import CI_METHODS
from seedlab.errors import NotFound
from seedlab.pages.static import asset_url, plotly_url
from seedlab.resources import packaged_path
from seedlab.status import RunStatus

PAGE_SIZE = 25

templates = Jinja2Templates(directory=packaged_path("seedlab.frontend", "templates"))
# Keeps the rendered HTML (and the live fragments sent every poll) free of blank-line noise.
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def fmt_num(value: Any, digits: int = 6) -> str:
    """A number with about six significant digits; an em dash for missing values."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def fmt_dt(value: datetime | None) -> str:
    """A UTC timestamp to the second; an em dash when missing."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def fmt_value(value: Any) -> str:
    """Any JSON value for a key/value table."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return fmt_num(value)
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in value.items()) if value else "(none)"
    return str(value)


def ordered_status_counts(counts: Mapping[str, int]) -> Sequence[tuple[str, int]]:
    """Run counts in lifecycle order, zero counts left out."""
    return [(s.value, counts[s.value]) for s in RunStatus if counts.get(s.value)]


def csp_nonce(request: Request) -> str:
    """This response's Content-Security-Policy nonce, for the page's inline scripts."""
    return str(getattr(request.state, "csp_nonce", ""))


def csrf_token(request: Request) -> str:
    """The signed-in session's CSRF token; empty when the page was opened without a session."""
    principal = getattr(request.state, "principal", None)
    return str(getattr(principal, "csrf", None) or "")


templates.env.globals.update(
    plotly_url=plotly_url,
    asset_url=asset_url,
    status_counts=ordered_status_counts,
    csp_nonce=csp_nonce,
    csrf_token=csrf_token,
    ci_methods=CI_METHODS,
)
templates.env.filters.update(
    num=fmt_num, dt=fmt_dt, value=fmt_value, divergence=divergence_sentence
)


def render_page(request: Request, template: str, build: Callable[[], dict[str, Any]]) -> Response:
    """Render a full page, or the 404 page when the object does not exist."""
    try:
        context = build()
    except NotFound as exc:
        return templates.TemplateResponse(
            request, "not_found.html", {"message": exc.message}, status_code=404
        )
    return templates.TemplateResponse(request, template, context)


def render_fragments(
    request: Request, parts: Mapping[str, str], build: Callable[[], dict[str, Any]]
) -> Response:
    """The live fragments of a page as JSON, rendered from the same partial templates."""
    try:
        context = build()
    except NotFound as exc:
        return JSONResponse({"detail": exc.message}, status_code=404)
    context["request"] = request
    html = {key: templates.get_template(name).render(context) for key, name in parts.items()}
    subject = context["report"] if "report" in context else context["run"]
    return JSONResponse(
        {
            "status": subject.status,
            "terminal": context["terminal"],
            "chart_key": context["chart_key"],
            "html": html,
        },
        headers={"Cache-Control": "no-store"},
    )


def pagination(offset: int, total: int) -> dict[str, Any]:
    """Pagination links around the current offset."""
    return {
        "offset": offset,
        "total": total,
        "prev": max(offset - PAGE_SIZE, 0) if offset > 0 else None,
        "next": offset + PAGE_SIZE if offset + PAGE_SIZE < total else None,
    }
