"""`seedlab up` says where its data is and what it did, one line per step, no Alembic lines;
the default data directory is the user's, not the current directory's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.livesystem import free_port


def _up(data_dir: Path, agents: int, cwd: Path) -> str:
    """Start `seedlab up`, wait for its ready line, stop it with SIGINT; its whole output."""
    port = free_port()
    env = {**os.environ, "SEEDLAB_DATA_DIR": str(data_dir)}
    env.pop("SEEDLAB_AGENT_TOKEN", None)
    log = cwd / f"up-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seedlab.cli",
                "up",
                "--port",
                str(port),
                "--agents",
                str(agents),
            ],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 180
            while "seedlab is up at" not in log.read_text(errors="replace"):
                assert proc.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.2)
            assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return log.read_text(errors="replace")


def test_up_prints_its_steps_and_no_alembic_lines(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _up(data, 1, tmp_path)
    lines = first.splitlines()
    assert f"data directory: {data.resolve()} (0 job(s))" in lines, first
    assert f"database: SQLite at {data.resolve() / 'seedlab.db'}" in lines, first
    applied = [line for line in lines if line.startswith("migrations: ")]
    assert len(applied) == 1 and applied[0].startswith("migrations: applied, empty database -> ")
    head = applied[0].rsplit("-> ", 1)[1]
    assert "agent local-1: ready" in lines, first
    assert "alembic" not in first.lower(), first
    # The steps come in order: data, database, migrations, agents, the URL.
    order = [
        next(i for i, line in enumerate(lines) if line.startswith(prefix))
        for prefix in (
            "data directory:",
            "database:",
            "migrations:",
            "agent local-1:",
            "seedlab is up at",
        )
    ]
    assert order == sorted(order), first

    again = _up(data, 0, tmp_path)
    assert f"migrations: current ({head})" in again.splitlines(), again
    assert "alembic" not in again.lower(), again


def test_the_default_data_directory_is_the_users_not_the_current_directorys(
    tmp_path: Path,
) -> None:
    project = tmp_path / "my_project"
    project.mkdir()
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": ""}
    env.pop("SEEDLAB_DATA_DIR", None)
    code = "from seedlab.config import Settings; print(Settings().data_dir)"
    shown = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(shown) == tmp_path / "home" / ".local" / "share" / "seedlab"
    env["SEEDLAB_DATA_DIR"] = "./seedlab-data"
    kept = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(kept) == Path("seedlab-data")
