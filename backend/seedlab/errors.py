"""Application errors and their HTTP status codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


class AppError(Exception):
    """Base error: a message that says what was wrong and what is allowed."""

    status_code = 400

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(AppError):
    """The named object does not exist."""

    status_code = 404


class InvalidInput(AppError):
    """The request is well-formed JSON but breaks a rule."""

    status_code = 422


class Conflict(AppError):
    """The write is refused because the state moved on (e.g. a stale attempt)."""

    status_code = 409


class PayloadTooLarge(AppError):
    """The request body is larger than the server allows."""

    status_code = 413


class Unauthorized(AppError):
    """Missing or wrong agent token."""

    status_code = 401


class Forbidden(AppError):
    """The credential is valid but its scope does not allow the call."""

    status_code = 403


class ErrorBody(BaseModel):
    """Every error answer: a sentence naming the problem, and per-field errors for 422s."""

    detail: str
    errors: list[dict[str, Any]] | None = None


_ERROR_STATUSES = {
    400: "Bad request (or a Host header this server does not answer to)",
    401: "A token is needed, or the one sent is unknown or revoked",
    403: "The token's scope does not allow this call, or the request is cross-site",
    404: "The named object does not exist",
    409: "The state moved on (e.g. a stale attempt, a name taken)",
    413: "The request body is larger than this route accepts",
    422: "The input breaks a rule; detail names the field and the rule",
    507: "The server's disk is full: nothing was stored; detail says where (retry later)",
}
# Documented on every route: the security middleware can answer any of them anywhere.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in _ERROR_STATUSES.items()
}
MAX_ERRORS = 20
MAX_TEXT = 200


def _short(value: Any) -> Any:
    text = value if isinstance(value, str | int) and not isinstance(value, bool) else str(value)
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return text[:MAX_TEXT] + "..."
    return text


def validation_error_body(errors: Sequence[Any]) -> dict[str, Any]:
    """A 422 body naming each field and rule, never echoing the input (it can be huge or NaN)."""
    items = [
        {
            "type": str(error.get("type", "")),
            "loc": [_short(part) for part in error.get("loc", ())],
            "msg": _short(error.get("msg", "")),
            **(
                {"ctx": {str(k): _short(v) for k, v in error["ctx"].items()}}
                if isinstance(error.get("ctx"), dict)
                else {}
            ),
        }
        for error in list(errors)[:MAX_ERRORS]
    ]
    if not items:
        return {"detail": "invalid request", "errors": []}
    first = items[0]
    where = ".".join(str(part) for part in first["loc"]) or "request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return {"detail": f"{where}: {first['msg']}{more}", "errors": items}
