"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, an app client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedlab.config import LOOPBACK_HOSTS, Settings
from seedlab.db import Database
from seedlab.migrate import upgrade_to_head

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
