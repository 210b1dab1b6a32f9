"""Error pages: what went wrong, in words, with a way back; the API keeps its JSON errors."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from seedlab.pages.templating import templates

TITLES = {
    404: "Not found",
    409: "Conflict",
    422: "Invalid request",
    500: "Something went wrong",
}


def wants_html(request: Request) -> bool:
    """True for page requests: not the JSON API, not a live fragment, and HTML accepted."""
    path = request.url.path
    if path.startswith("/api/") or path.endswith("/live") or path.startswith("/static/"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "*/*" in accept or not accept


def error_page(request: Request, status_code: int, message: str) -> Response:
    """The error page for a status: the message, and links back to where the user was going."""
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status_code": status_code,
            "title": TITLES.get(status_code, "Error"),
            "message": message,
            "back": request.headers.get("referer"),
        },
        status_code=status_code,
    )
