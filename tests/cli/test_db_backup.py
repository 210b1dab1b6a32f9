"""`seedlab db backup PATH` copies a live SQLite database; a server started on the copy
serves the same jobs (the restore: put the file back as seedlab.db in a data directory)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.livesystem import LiveSystem


def test_backup_while_serving_then_restore(tmp_path: Path) -> None:
    live = LiveSystem(tmp_path / "live")
    (tmp_path / "live").mkdir()
    backup = tmp_path / "backup.db"
    try:
        live.start_server()
        job = httpx.post(f"{live.url}/api/v1/jobs", json={
            "experiment": "seed_card_mlp", "seeds": "1:3x1", "label": "keep me"}).json()
        result = subprocess.run(
            [sys.executable, "-m", "seedlab.cli", "db", "backup", str(backup)],
            env=live.env, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        again = subprocess.run(
            [sys.executable, "-m", "seedlab.cli", "db", "backup", str(backup)],
            env=live.env, capture_output=True, text=True, timeout=120,
        )
        assert again.returncode == 2 and "exists" in again.stderr  # never overwrites
        before = httpx.get(f"{live.url}/api/v1/jobs/{job['id']}").json()
    finally:
        live.stop()

    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    shutil.copy(backup, restored_dir / "seedlab.db")
    restored = LiveSystem(restored_dir)
    try:
        restored.start_server()
        after = httpx.get(f"{restored.url}/api/v1/jobs/{job['id']}").json()
        assert after == before and after["label"] == "keep me" and after["run_count"] == 3
    finally:
        restored.stop()


def test_backup_of_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    env = {**os.environ, "SEEDLAB_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/seedlab"}
    result = subprocess.run(
        [sys.executable, "-m", "seedlab.cli", "db", "backup", str(tmp_path / "x.db")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "pg_dump" in result.stderr
