"""The app in process on the test database, for CLI tests that drive it through the client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database


@pytest.fixture
def http(database: Database, settings: Settings) -> Iterator[TestClient]:
    """A started app (lifespan run) on the migrated test database."""
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as client:
        yield client
