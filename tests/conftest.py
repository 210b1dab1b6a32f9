"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, an app client, and one live
seedlab system (server + two agents) shared by the end-to-end tests of a session.

How a new end-to-end test uses the shared live system (`shared_live`, see its docstring):
- take `shared_live` instead of starting a `LiveSystem` when the test needs no settings of its
  own: it has the plugin experiments (`tests.plugin_experiments`), 30 s leases, the agent token
  `tests.livesystem.TOKEN`, no auth, SQLite, and two agents "one" and "two";
- find what the test made by its own ids (job id, run ids, a label unique to the test), never by
  counting everything on the server: other tests' jobs are there too, before and after;
- leave it as it was: cancel what the test leaves queued, do not stop or kill its processes,
  do not start more agents on it, do not change its environment;
- a test that needs short leases, auth, PostgreSQL, a killed agent or server, other agents or
  another working directory starts its own `LiveSystem` (tests/livesystem.py) and stops it.

With `pytest -n 2` (the Makefile's PYTEST_PARALLEL), the tests that share a session fixture run
in one worker per fixture, in order: the shared live system, the runner's launcher, the Ray
cluster; every other module runs whole in whichever worker is free: tests/xdist_serial.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seedlab.config import LOOPBACK_HOSTS, Settings
from seedlab.db import Database
from seedlab.migrate import upgrade_to_head
from tests.livesystem import LiveSystem
from tests.security import fuzz_stats
from tests.xdist_serial import (  # noqa: F401 - hooks pytest finds in this conftest
    pytest_collection_finish,
    pytest_configure,
    pytest_configure_node,
    pytest_xdist_make_scheduler,
)

REPO = Path(__file__).resolve().parents[1]

PG_ADMIN_URL = os.environ.get(
    "SEEDLAB_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _required(flag: str) -> bool:
    return os.environ.get(flag, "") not in ("", "0", "false")


def skip_or_fail(flag: str, reason: str) -> None:
    """Fail when the environment requires the resource (CI), skip loudly otherwise."""
    if _required(flag):
        pytest.fail(f"{reason} (and {flag}=1 says these tests must run)")
    pytest.skip(f"SKIPPED LOUDLY: {reason}; set {flag}=1 to make this a failure")


def _pg_admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        skip_or_fail("SEEDLAB_REQUIRE_PG", f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
        raise


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = f"seedlab_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _pg_admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once per engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'seedlab.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database with the experiment catalog synced."""
    from seedlab.experiments import service as experiments_service

    db = Database(database_url)
    upgrade_to_head(db.engine)
    with db.write() as session:
        experiments_service.sync_catalog(session=session)
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a test server with short leases."""
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        lease_seconds=30,
        max_attempts=3,
        reaper_interval_seconds=3600,
        # FastAPI's TestClient sends Host "testserver"; never part of the default allow-list.
        allowed_hosts=[*LOOPBACK_HOSTS, "testserver"],
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many fuzz cases ran (tests/security), when the fuzz test ran."""
    line = fuzz_stats.closing_line()
    if line is not None:
        terminalreporter.write_line(line)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """Controller of an `-n` run: collect the fuzz counts of a worker that finished."""
    fuzz_stats.merge(getattr(node, "workeroutput", {}) or {})


@pytest.fixture(scope="session")
def shared_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    """One real server and two agents ("one", "two") for the session's end-to-end tests.

    Starting a server and two agents (each warming a TensorFlow zygote) costs tens of seconds on
    a 2-core machine; tests that need nothing special share this one. Rules in this module's
    docstring: find your own jobs by id, leave nothing queued, start your own LiveSystem for
    special settings.
    """
    live = LiveSystem(
        tmp_path_factory.mktemp("shared-live"),
        lease_seconds=30,
        extra_env={
            "SEEDLAB_EXPERIMENT_MODULES": "tests.plugin_experiments",
            # This checkout's package first (a worktree serves its own code, not an installed
            # copy), then the repository for tests.plugin_experiments.
            "PYTHONPATH": os.pathsep.join([str(REPO / "backend"), str(REPO)]),
        },
    )
    live.start_server()
    live.start_agent("one")
    live.start_agent("two")
    yield live
    live.stop()


def require_frameworks() -> None:
    """PyTorch and JAX (`make test` installs them): fail in CI when missing, else skip loudly."""
    import importlib.util

    missing = [name for name in ("torch", "jax") if importlib.util.find_spec(name) is None]
    if missing:
        skip_or_fail(
            "SEEDLAB_REQUIRE_FRAMEWORKS",
            f"{' and '.join(missing)} not installed (make test-deps installs torch==2.13.0 and "
            "jax[cpu])",
        )
