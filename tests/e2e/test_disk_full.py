"""A full disk (issue 19, item 5): the data directory on a small tmpfs, filled for real.

Submit and upload answer 507 naming the data directory; a finished run's result, sent by the
agent's own protocol client over real HTTP while the disk is full, is kept and delivered once
space is freed: the run succeeds on its first attempt, however long the outage past its lease.
Needs root (mount); skips loudly elsewhere and fails where SEEDLAB_REQUIRE_ROOT=1 (CI).
"""

from __future__ import annotations

import errno
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from seedlab.agent.client import SeedlabClient
from seedlab.agent.protocol import AgentApi
from seedlab.queue.schemas import AgentRegister, ClaimRequest, RunFinished, RunStarted
from seedlab.runner.canonical import fingerprint_hash
from tests.conftest import skip_or_fail
from tests.factory import applied, fingerprint
from tests.livesystem import TOKEN, LiveSystem

LEASE = 3.0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        skip_or_fail("SEEDLAB_REQUIRE_ROOT", "the disk-full test mounts a tmpfs and needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        skip_or_fail("SEEDLAB_REQUIRE_ROOT", f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> Path:
    """Write zeros until the file system is full; the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):  # down to the last byte
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    return filler


def test_full_disk_answers_507_and_the_agent_keeps_its_result(small_disk: Path) -> None:
    data_dir = small_disk / "seedlab-data"
    system = LiveSystem(data_dir.parent, lease_seconds=LEASE)
    system.env["SEEDLAB_DATA_DIR"] = str(data_dir)
    system.start_server()
    agent_client = SeedlabClient(system.url, token=TOKEN, retry_seconds=5)
    try:
        api = AgentApi(agent_client)
        agent = api.register(AgentRegister(name="full-disk", hostname="h"))
        http = httpx.Client(base_url=system.url, timeout=30)
        job = {"experiment": "seed_card_mlp", "seeds": "1:1x1"}
        assert http.post("/api/v1/jobs", json=job).status_code == 201
        run = api.claim(ClaimRequest(agent_id=agent.id))
        assert run is not None and run.attempt == 1
        data = fingerprint()
        api.started(run.run_id, RunStarted(attempt=1, applied_profile=applied(1),
                                           fingerprint_hash=fingerprint_hash(data),
                                           fingerprint=data, isolation="fork"))

        filler = _fill(small_disk)
        submitted = http.post("/api/v1/jobs", json=job)
        assert submitted.status_code == 507, submitted.text
        detail = submitted.json()["detail"]
        assert f"the data directory {data_dir.resolve()} is full" in detail
        assert "OperationalError" not in detail
        upload = http.post("/api/v1/datasets?name=d", content=b"x,y\n1,0\n2,1\n" * 2000,
                           headers={"Content-Type": "text/csv"})
        assert upload.status_code == 507, upload.text
        assert str(data_dir.resolve()) in upload.json()["detail"]
        result = RunFinished(attempt=1, status="succeeded", final_metrics={"val_auc": 0.75},
                             weights_checksum="c" * 64, seconds=1.0)
        refused = http.post(f"/api/v1/agent/runs/{run.run_id}/finish",
                            json=result.model_dump(mode="json", exclude_none=True),
                            headers={"Authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 507, refused.text

        # The agent's finish keeps retrying while the server cannot write.
        delivered = threading.Event()
        failure: list[BaseException] = []

        def finish() -> None:
            try:
                api.finish(run.run_id, result)
                delivered.set()
            except BaseException as exc:
                failure.append(exc)

        sender = threading.Thread(target=finish, daemon=True)
        sender.start()
        time.sleep(4 * LEASE)  # well past the lease: it used to expire and burn the attempt
        assert not delivered.is_set() and not failure, failure
        during = http.get(f"/api/v1/runs/{run.run_id}").json()  # reads still work
        assert during["status"] == "running" and during["attempt"] == 1, during

        filler.unlink()
        sender.join(60)
        assert delivered.is_set(), (failure, system.logs())
        after = http.get(f"/api/v1/runs/{run.run_id}").json()
        assert after["status"] == "succeeded" and after["attempt"] == 1, after
        assert after["final_metrics"] == {"val_auc": 0.75}
        assert http.post("/api/v1/jobs", json=job).status_code == 201  # writes work again
    finally:
        agent_client.close()
        system.stop()


@pytest.mark.postgres
def test_on_postgresql_a_full_data_directory_refuses_uploads_and_keeps_jobs(
    small_disk: Path, postgres_url: str
) -> None:
    """With PostgreSQL, only uploads live in the data directory: they get the 507 naming it,
    while submitting (a database write) goes on working."""
    data_dir = small_disk / "seedlab-data"
    system = LiveSystem(data_dir.parent, database_url=postgres_url, lease_seconds=LEASE)
    system.env["SEEDLAB_DATA_DIR"] = str(data_dir)
    system.start_server()
    try:
        http = httpx.Client(base_url=system.url, timeout=30)
        filler = _fill(small_disk)
        upload = http.post("/api/v1/datasets?name=d", content=b"x,y\n1,0\n2,1\n" * 2000,
                           headers={"Content-Type": "text/csv"})
        assert upload.status_code == 507, upload.text
        assert f"the data directory {data_dir.resolve()} is full" in upload.json()["detail"]
        job = {"experiment": "seed_card_mlp", "seeds": "1:1x1"}
        assert http.post("/api/v1/jobs", json=job).status_code == 201
        filler.unlink()
        again = http.post("/api/v1/datasets?name=d", content=b"x,y\n1,0\n2,1\n" * 2000,
                          headers={"Content-Type": "text/csv"})
        assert again.status_code == 201, again.text
    finally:
        system.stop()


def test_disk_full_is_recognised_from_each_engine_and_file_writes() -> None:
    import sqlite3

    import psycopg
    from sqlalchemy.exc import OperationalError

    from seedlab.storage import is_disk_full

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OperationalError("INSERT", {}, sqlite3.OperationalError(
        "database or disk is full")))
    assert is_disk_full(OperationalError("INSERT", {}, psycopg.errors.DiskFull(
        "could not extend file")))
    assert not is_disk_full(OperationalError("INSERT", {}, sqlite3.OperationalError("locked")))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    # The message names the disk that was full: PostgreSQL's own, or the data directory's.
    from seedlab.storage import full_message

    data_dir = Path("/srv/seedlab")
    pg_full = OperationalError("INSERT", {}, psycopg.errors.DiskFull("could not extend file"))
    assert "PostgreSQL server's disk" in full_message(data_dir=data_dir, exc=pg_full)
    upload_full = OSError(errno.ENOSPC, "No space left on device")
    assert "the data directory /srv/seedlab is full" in full_message(
        data_dir=data_dir, exc=upload_full
    )
