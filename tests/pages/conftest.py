"""Page-test fixtures: an in-process app client, a real server process, headless Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from tests.conftest import skip_or_fail
from tests.livesystem import TOKEN, LiveSystem
from tests.pages.support import AgentDriver

CHROMIUM = os.environ.get("SEEDLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The real app on a fresh SQLite database, served in-process."""
    with TestClient(create_app(Settings(data_dir=tmp_path, allowed_hosts=["testserver"]))) as c:
        yield c


@pytest.fixture
def driver(client: TestClient) -> AgentDriver:
    """An agent talking to the in-process app (no token configured)."""
    return AgentDriver(client)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    """A real server process on a free port, shared by a module's tests (it starts in seconds)."""
    # Long leases: the test plays the agent and must not see its runs reaped mid-test.
    system = LiveSystem(tmp_path_factory.mktemp("pages-live"), lease_seconds=600)
    system.start_server()
    yield system
    system.stop()


@pytest.fixture
def api(live: LiveSystem) -> Iterator[httpx.Client]:
    """HTTP client for the live server; cancels the test's unfinished jobs afterwards."""
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield http
        # Agents claim the oldest queued run of any job: leftovers would leak into the next test.
        for status in ("queued", "running"):
            for job in http.get("/api/v1/jobs", params={"status": status}).json()["items"]:
                http.post(f"/api/v1/jobs/{job['id']}/cancel")


@pytest.fixture
def live_driver(api: httpx.Client) -> AgentDriver:
    """An agent talking to the live server with its token."""
    return AgentDriver(api, headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (skips or fails loudly when missing)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        skip_or_fail("SEEDLAB_REQUIRE_BROWSER", f"playwright is not installed: {exc}")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        skip_or_fail("SEEDLAB_REQUIRE_BROWSER", f"chromium not found at {CHROMIUM}")
    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as exc:
            skip_or_fail("SEEDLAB_REQUIRE_BROWSER", f"chromium failed to start: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live: LiveSystem) -> Iterator[Any]:
    """A fresh browser page on the live server; JS errors and CSP violations fail the test."""
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    # A script or style the Content-Security-Policy blocks shows only as a console error.
    tab.on(
        "console",
        lambda msg: errors.append(msg.text)
        if msg.type == "error" and "Content Security Policy" in msg.text
        else None,
    )
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots with SEEDLAB_SCREENSHOTS=1, else a temp dir."""
    if os.environ.get("SEEDLAB_SCREENSHOTS", "") not in ("", "0"):
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        return SCREENSHOT_DIR
    return tmp_path
