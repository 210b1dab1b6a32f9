"""HTTP client for the seedlab REST API, used by agents and the CLI."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

log = logging.getLogger("seedlab.client")


class StaleAttempt(Exception):
    """The server refused a write: the run moved on to another attempt (HTTP 409)."""


class ApiError(Exception):
    """The server answered with an error the caller cannot retry."""

    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


class ServerUnreachable(Exception):
    """The server did not answer within the retry budget."""


def _detail(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail", response.text)
    except ValueError:
        return response.text


class SeedlabClient:
    """Thin JSON client with retries on connection errors and 5xx answers."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        retry_seconds: float = 120.0,
        stop: threading.Event | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self._retry_seconds = retry_seconds
        # Set on shutdown: retries end at once instead of waiting out the budget.
        self._stop = stop or threading.Event()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(
        self, method: str, path: str, *, retry_for: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request; retry transient failures; raise on 4xx (409 as StaleAttempt).

        Transient: no connection, and 5xx answers (503, and 507 while the server's disk is
        full), retried with backoff for retry_for seconds (default: the client's budget).
        """
        budget = self._retry_seconds if retry_for is None else retry_for
        deadline = time.monotonic() + budget
        warned = False
        delay = 0.2
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if time.monotonic() > deadline:
                    raise ServerUnreachable(f"{self.base_url} unreachable: {exc}") from exc
                if delay == 0.2:  # once per call: the backoff that follows is silent
                    log.warning("%s %s: %s; retrying with backoff", method, path, exc)
            else:
                if response.status_code == 409:
                    raise StaleAttempt(_detail(response))
                if response.status_code < 500:
                    if response.status_code >= 400:
                        raise ApiError(response.status_code, _detail(response))
                    return response
                if time.monotonic() > deadline:
                    raise ApiError(response.status_code, _detail(response))
                if not warned and budget > 0:  # once per call, as for connection errors
                    warned = True
                    log.warning(
                        "%s %s: HTTP %s (%s); retrying with backoff for up to %.0f s",
                        method, path, response.status_code, _detail(response), budget,
                    )
            if self._stop.wait(delay):
                raise ServerUnreachable(f"{self.base_url}: stopped while retrying")
            delay = min(delay * 2, 5.0)

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document."""
        return self.request("GET", path, params=params or None).json()

    def post(
        self, path: str, payload: dict[str, Any] | None = None, *, retry_for: float | None = None
    ) -> Any:
        """POST JSON; returns the decoded body, or None for 204."""
        response = self.request("POST", path, json=payload, retry_for=retry_for)
        return None if response.status_code == 204 or not response.content else response.json()
