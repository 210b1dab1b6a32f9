"""Application errors and their HTTP status codes."""

from __future__ import annotations

from typing import Any


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
