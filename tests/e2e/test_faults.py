"""Faults done for real: SIGKILL and SIGTERM of the server, of `seedlab up`, of a run process.

Each test starts real processes (server, agents, zygotes, run processes with TensorFlow) and
talks real HTTP; it waits for conditions with generous bounds, never measures speed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.livesystem import LiveSystem, free_port

pytestmark = pytest.mark.tf
T = TypeVar("T")


def _wait_for(condition: Callable[[], T], timeout: float = 180, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except httpx.TransportError:
            value = None  # type: ignore[assignment]
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} not met within {timeout} s")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below pid, breadth first."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(0), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether pid runs (zombies count as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _running_runs(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, attempt FROM run WHERE status = 'running'").fetchall()


def _submit(url: str, params: dict[str, Any], seeds: str) -> int:
    body = {"experiment": "credit_risk_mlp", "params": params, "seeds": seeds}
    response = httpx.post(f"{url}/api/v1/jobs", json=body, timeout=30)
    assert response.status_code == 201, response.text
    job_id: int = response.json()["id"]
    return job_id


def _report(url: str, job_id: int) -> dict[str, Any]:
    report: dict[str, Any] = httpx.get(f"{url}/api/v1/jobs/{job_id}/report", timeout=30).json()
    return report


def _training(url: str, job_id: int) -> bool:
    return any(r["status"] == "running" and (r["epoch"] or 0) >= 1
               for r in _report(url, job_id)["runs"])


class Up:
    """`seedlab up` as a process, on its own port and data directory."""

    def __init__(self, data_dir: Path, agents: int = 1, *, own_group: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log = open(data_dir / f"up-{self.port}.log", "wb")  # noqa: SIM115
        env = {**os.environ, "SEEDLAB_DATA_DIR": str(data_dir), "SEEDLAB_LEASE_SECONDS": "6",
               "SEEDLAB_REAPER_INTERVAL_SECONDS": "1"}
        env.pop("SEEDLAB_AGENT_TOKEN", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "seedlab.cli", "up", "--port", str(self.port),
             "--agents", str(agents)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
            # A process group of its own, as a terminal gives its foreground job.
            start_new_session=own_group,
        )
        _wait_for(lambda: httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200,
                  timeout=60, what="seedlab up answering")

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in self.data_dir.glob("up-*.log"))

    def cleanup(self) -> None:
        for pid in [*descendants(self.proc.pid), self.proc.pid]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def test_sigterm_to_up_stops_everything_and_leaves_nothing_running(tmp_path: Path) -> None:
    up = Up(tmp_path)
    try:
        job = _submit(up.url, {"epochs": 400}, "1:2x1")
        _wait_for(lambda: _training(up.url, job), what="a run training")
        family = descendants(up.proc.pid)
        assert len(family) >= 3, "expected an agent, its zygote and a run process"
        up.proc.send_signal(signal.SIGTERM)
        up.proc.wait(timeout=60)
        _wait_for(lambda: not any(alive(p) for p in family), timeout=30,
                  what="agents, zygotes and run processes gone")
        assert _running_runs(tmp_path / "seedlab.db") == []
        with sqlite3.connect(tmp_path / "seedlab.db") as conn:
            outcomes = [row[0] for row in conn.execute("SELECT outcome FROM run_attempt")]
        assert "interrupted" in outcomes, (outcomes, up.logs())
    finally:
        up.cleanup()


def test_ctrl_c_stops_everything_and_leaves_nothing_running(tmp_path: Path) -> None:
    up = Up(tmp_path, own_group=True)
    try:
        job = _submit(up.url, {"epochs": 400}, "1:2x1")
        _wait_for(lambda: _training(up.url, job), what="a run training")
        family = descendants(up.proc.pid)
        assert len(family) >= 3, "expected an agent, its zygote and a run process"
        # Ctrl-C in a terminal: SIGINT to every process of the foreground group at once.
        os.killpg(up.proc.pid, signal.SIGINT)
        up.proc.wait(timeout=60)
        _wait_for(lambda: not any(alive(p) for p in family), timeout=30,
                  what="agents, zygotes and run processes gone")
        assert _running_runs(tmp_path / "seedlab.db") == [], up.logs()
    finally:
        up.cleanup()


def test_sigkill_of_up_leaves_no_orphans_and_the_next_up_recovers(tmp_path: Path) -> None:
    up = Up(tmp_path)
    try:
        job = _submit(up.url, {"epochs": 400}, "1:1x1")
        _wait_for(lambda: _training(up.url, job), what="a run training")
        family = descendants(up.proc.pid)
        up.proc.send_signal(signal.SIGKILL)
        up.proc.wait(timeout=10)
        _wait_for(lambda: not any(alive(p) for p in family), timeout=30,
                  what="orphaned agents and zygotes gone")
        stale = _running_runs(tmp_path / "seedlab.db")
        assert len(stale) == 1  # the lease is still held by the dead agent
    finally:
        up.cleanup()
    again = Up(tmp_path)
    try:
        run_id = stale[0][0]
        run_url = f"{again.url}/api/v1/runs/{run_id}"
        # The reaper expires the dead lease; a new local agent claims the run as attempt 2.
        run = _wait_for(lambda: (r := httpx.get(run_url).json())["attempt"] == 2 and r,
                        what="the stale run claimed again")
        assert run["attempts"][0]["outcome"] == "lease_expired", run["attempts"]
        httpx.post(f"{again.url}/api/v1/jobs/{job}/cancel")
    finally:
        again.cleanup()


def test_sigkill_of_the_server_mid_job_then_restart(tmp_path: Path) -> None:
    live = LiveSystem(tmp_path, lease_seconds=120)
    try:
        live.start_server()
        live.start_agent("steady")
        job = _submit(live.url, {"epochs": 40}, "1:1x1")
        _wait_for(lambda: _training(live.url, job), what="a run training")
        assert live.server is not None
        assert (_report(live.url, job)["runs"][0]["epoch"] or 0) < 40  # killed mid-run
        live.server.send_signal(signal.SIGKILL)
        live.server.wait(timeout=10)
        time.sleep(2)  # the agent meets a dead server and keeps retrying with backoff
        live.start_server()
        final = _wait_for(
            lambda: (r := _report(live.url, job))["status"] in ("succeeded", "failed") and r,
            timeout=300, what="the job ending",
        )
        assert final["status"] == "succeeded", live.logs()
        run = httpx.get(f"{live.url}/api/v1/runs/{final['runs'][0]['id']}").json()
        assert run["attempt"] == 1 and len(run["attempts"]) == 1  # never retried
        metrics = httpx.get(f"{live.url}/api/v1/runs/{run['id']}/metrics").json()
        for series in metrics["series"]:
            steps = [p[0] for p in series["points"]]
            assert steps == list(range(1, 41)), series["key"]  # nothing lost, nothing twice
        assert "retrying with backoff" in (tmp_path / "agent-steady.log").read_text()
    finally:
        live.stop()


def _busiest(pids: list[int]) -> int:
    def cpu(pid: int) -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    first = {p: cpu(p) for p in pids if alive(p)}
    time.sleep(1.0)
    return max(first, key=lambda p: cpu(p) - first[p] if alive(p) else -1)


def test_sigkill_of_the_run_process_fails_the_run_with_a_clear_error(tmp_path: Path) -> None:
    live = LiveSystem(tmp_path)
    try:
        live.start_server()
        agent = live.start_agent("host")
        job = _submit(live.url, {"epochs": 400}, "1:1x1")
        _wait_for(lambda: _training(live.url, job), what="a run training")
        tree = _children()
        zygotes = tree.get(agent.pid, [])
        run_processes = [child for z in zygotes for child in tree.get(z, [])]
        assert run_processes, "no run process under the agent's zygote"
        os.kill(_busiest(run_processes), signal.SIGKILL)
        final = _wait_for(
            lambda: (r := _report(live.url, job))["status"] in ("succeeded", "failed") and r,
            what="the job ending",
        )
        run = final["runs"][0]
        assert final["status"] == "failed" and run["status"] == "failed"
        detail = httpx.get(f"{live.url}/api/v1/runs/{run['id']}").json()
        assert "exited with code -9" in detail["error"], detail["error"]
        assert agent.poll() is None  # the agent survives and goes on claiming
    finally:
        live.stop()
