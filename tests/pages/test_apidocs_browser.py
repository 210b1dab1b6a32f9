"""/docs in headless Chromium: Swagger UI from seedlab's own files lists the endpoints, "Try it
out" sends the token typed into Authorize, the page's CSP holds, and no request leaves."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from seedlab.pages.apidocs import swagger_version
from tests.livesystem import LiveSystem

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSystem, str]]:
    """A tokenless live server (tokens still count when sent) and a read token."""
    system = LiveSystem(tmp_path_factory.mktemp("apidocs"), lease_seconds=600)
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "seedlab.cli",
            "token",
            "create",
            "--scope",
            "read",
            "--name",
            "docs-browser",
        ],
        env=system.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    system.start_server()
    yield system, token
    system.stop()


@pytest.fixture
def docs_tab(browser: Any, docs_server: tuple[LiveSystem, str]) -> Iterator[tuple[Any, dict]]:
    """A page whose every request is checked: one to another host fails the test."""
    context = browser.new_context(
        base_url=docs_server[0].url, viewport={"width": 1400, "height": 900}
    )
    context.set_default_timeout(20_000)
    seen: dict[str, list] = {"outside": [], "requests": [], "errors": []}

    def guard(route: Any) -> None:
        request = route.request
        seen["requests"].append((request.method, request.url, dict(request.headers)))
        if urlsplit(request.url).hostname not in LOCAL_HOSTS:
            seen["outside"].append(request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            seen["errors"].append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield page, seen
    context.close()
    assert not seen["outside"], f"requests left the machine: {seen['outside']}"
    assert not seen["errors"], f"JavaScript or CSP errors: {seen['errors']}"


def _operation(page: Any, method: str, path: str) -> Any:
    return page.locator(f".opblock-{method}:has(.opblock-summary-path[data-path='{path}'])").first


def _try_it_out(operation: Any) -> None:
    # Deep links reopen the last operation after a reload: expand it only when closed.
    if not operation.locator("button.try-out__btn").is_visible():
        operation.locator(".opblock-summary").first.click()
    operation.locator("button.try-out__btn").click()


def test_docs_list_the_endpoints_and_try_it_out_sends_the_token(
    docs_tab: tuple[Any, dict], docs_server: tuple[LiveSystem, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page, seen = docs_tab
    system, token = docs_server
    page.goto("/docs")
    # The endpoints come from /openapi.json: every path of the schema is on the page.
    paths = set(httpx.get(f"{system.url}/openapi.json").json()["paths"])
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    shown = set(
        page.locator(".opblock-summary-path").evaluate_all(
            "nodes => nodes.map(n => n.dataset.path)"
        )
    )
    assert paths <= shown, sorted(paths - shown)
    assert {"/api/v1/jobs", "/api/v1/jobs/{job_id}/report"} <= shown
    page.screenshot(path=str(tmp_path / "api-docs.png"))

    # Authorize with a read token, then call GET /api/v1/jobs from the page.
    page.click(".auth-wrapper button.authorize")
    page.fill(".modal-ux input[type=text], .modal-ux input[type=password]", token)
    page.click(".modal-ux button.authorize")
    page.click(".modal-ux button.btn-done, .modal-ux .close-modal")
    jobs = _operation(page, "get", "/api/v1/jobs")
    _try_it_out(jobs)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/api/v1/jobs") as answer:
        jobs.locator("button.execute").click()
    assert answer.value.status == 200
    expect(jobs.locator(".live-responses-table tbody .response-col_status").first).to_contain_text(
        "200"
    )
    sent = [h for m, u, h in seen["requests"] if urlsplit(u).path == "/api/v1/jobs"]
    assert sent and sent[-1].get("authorization") == f"Bearer {token}"

    # The server reads that token: after a reload (Swagger UI keeps no token), an unknown one
    # is refused with 401.
    page.reload()
    page.click(".auth-wrapper button.authorize")
    page.fill(".modal-ux input[type=text], .modal-ux input[type=password]", "sl_not_a_token")
    page.click(".modal-ux button.authorize")
    page.click(".modal-ux button.btn-done, .modal-ux .close-modal")
    jobs = _operation(page, "get", "/api/v1/jobs")
    _try_it_out(jobs)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/api/v1/jobs") as refused:
        jobs.locator("button.execute").click()
    assert refused.value.status == 401


def test_swagger_files_are_served_by_seedlab_with_the_page_csp(
    docs_server: tuple[LiveSystem, str],
) -> None:
    system, _ = docs_server
    page = httpx.get(f"{system.url}/docs")
    assert page.status_code == 200
    assert "script-src 'self' 'nonce-" in page.headers["content-security-policy"]
    assert "cdn" not in page.text.lower()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/swagger-ui-{swagger_version()}/{name}" in page.text
    bundle = next(
        part.split('"')[0] for part in page.text.split('src="')[1:] if "swagger-ui-bundle" in part
    )
    answer = httpx.get(f"{system.url}{bundle}")
    assert answer.status_code == 200 and "SwaggerUIBundle" in answer.text[:2000]
    assert httpx.get(f"{system.url}/static/swagger-ui-1/redoc.standalone.js").status_code == 404
    assert httpx.get(f"{system.url}/redoc").status_code == 404
