"""Headless Chromium against a live server with --auth required: sign in with a token, submit
and cancel from the pages (CSRF token in the header), and a page on another origin that tries
to cancel a job with the victim's cookie gets nowhere."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.livesystem import LiveSystem, free_port

expect: Any = None


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSystem, str, str]]:
    """A live server requiring tokens, a submit token and a read token."""
    system = LiveSystem(tmp_path_factory.mktemp("locked"), lease_seconds=600,
                        extra_env={"SEEDLAB_AUTH": "required"})

    def token(scope: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "seedlab.cli", "token", "create", "--scope", scope,
             "--name", f"browser-{scope}"],
            env=system.env, capture_output=True, text=True, timeout=120, check=True,
        )
        return result.stdout.strip()

    submit, read = token("submit"), token("read")
    system.start_server()
    yield system, submit, read
    system.stop()


@pytest.fixture
def tab(browser: Any, locked: tuple[LiveSystem, str, str]) -> Iterator[Any]:
    """A fresh browser page; JS errors and CSP violations fail the test."""
    global expect
    from playwright.sync_api import expect as playwright_expect

    expect = playwright_expect
    context = browser.new_context(base_url=locked[0].url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    yield page
    context.close()
    assert not errors, errors


def test_sign_in_submit_and_cancel_from_the_pages(
    tab: Any, locked: tuple[LiveSystem, str, str]
) -> None:
    system, submit, _ = locked
    tab.goto("/jobs/new")
    assert "/signin" in tab.url
    tab.fill("#token", "sl_not_a_token")
    tab.click("#signin-form button[type=submit]")
    expect(tab.locator("[data-testid=signin-error]")).to_contain_text("unknown or revoked")
    tab.fill("#token", submit)
    tab.click("#signin-form button[type=submit]")
    tab.wait_for_url("**/jobs/new")
    cookie = next(c for c in tab.context.cookies() if c["name"] == "seedlab_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    expect(tab.locator("#new-job")).to_have_attribute("data-ready", "1")
    tab.select_option("#experiment", "seed_card_mlp")
    tab.fill("#seeds", "3:2x1")
    tab.click("#submit")
    tab.wait_for_url(re.compile(r".*/jobs/\d+$"))
    job_id = int(tab.url.rstrip("/").rsplit("/", 1)[1])
    expect(tab.locator("#runs-table tbody tr[data-status=queued]")).to_have_count(2)
    tab.click("#cancel-job")
    expect(tab.locator("#job-status-badge")).to_have_attribute("data-status", "cancelled")
    auth = {"Authorization": f"Bearer {submit}"}
    assert httpx.get(f"{system.url}/api/v1/jobs/{job_id}", headers=auth).json()["status"] == (
        "cancelled"
    )


class _EvilPage(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        body = (
            f'<form id="f" method="post" action="{self.target}"></form>'
            '<script>document.getElementById("f").submit()</script>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def test_a_cross_site_form_cannot_cancel_with_the_victims_session(
    tab: Any, locked: tuple[LiveSystem, str, str], tmp_path: Path
) -> None:
    system, submit, _ = locked
    auth = {"Authorization": f"Bearer {submit}"}
    job = httpx.post(f"{system.url}/api/v1/jobs", headers=auth,
                     json={"experiment": "seed_card_mlp", "seeds": "9:1x1"}).json()
    tab.goto("/")
    tab.fill("#token", submit)
    tab.click("#signin-form button[type=submit]")
    tab.wait_for_url("**/")
    _EvilPage.target = f"{system.url}/api/v1/jobs/{job['id']}/cancel"
    port = free_port()
    evil = HTTPServer(("127.0.0.1", port), _EvilPage)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        # Another origin (a different port is a different site for the Origin check).
        with tab.expect_response(lambda r: "/cancel" in r.url) as answer:
            tab.goto(f"http://localhost:{port}/")
    finally:
        evil.shutdown()
    assert answer.value.status == 403
    status = httpx.get(f"{system.url}/api/v1/jobs/{job['id']}", headers=auth).json()["status"]
    assert status == "queued"
    httpx.post(f"{system.url}/api/v1/jobs/{job['id']}/cancel", headers=auth)
