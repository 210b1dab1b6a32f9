"""The data directory is created 0700 and the SQLite database (with its WAL files) 0600, so no
other local user reads results or token hashes (issue 19, item 8)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import LOOPBACK_HOSTS, Settings
from seedlab.db import Database


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default, which made the database world-readable
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_data_directory_0700_and_database_0600(tmp_path: Path, database_url: str) -> None:
    data_dir = tmp_path / "fresh" / "seedlab-data"
    # SQLite: the default database inside the data directory; PostgreSQL: the data sets and
    # the session key still live there.
    settings = Settings(
        data_dir=data_dir,
        database_url=None if database_url.startswith("sqlite") else database_url,
        auth="required",
        allowed_hosts=[*LOOPBACK_HOSTS, "testserver"],
    )
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as client:
        upload = client.post(
            "/api/v1/datasets?name=d", content=b"a,y\n1,0\n2,1\n",
            headers={"Content-Type": "text/csv", "Authorization": "Bearer none"},
        )
        assert upload.status_code == 401  # auth is on; the server started and wrote its files
        assert _mode(data_dir) == 0o700
        assert _mode(data_dir / "session.key") == 0o600
        if database_url.startswith("sqlite"):
            files = [p for p in data_dir.iterdir() if p.name.startswith("seedlab.db")]
            assert data_dir / "seedlab.db" in files
            for path in files:  # the database and its -wal and -shm files
                assert _mode(path) == 0o600, (path, oct(_mode(path)))
