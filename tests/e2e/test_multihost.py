"""Many hosts on one machine: a server on PostgreSQL, three agent processes (one with two
workers, one with a GPU and a label), a 30-run job split across them; SIGKILL of one agent
mid-job loses nothing and no run succeeds twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.livesystem import LiveSystem

REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = [pytest.mark.tf, pytest.mark.postgres]

# The pipeline's token (scope submit), set by the test once the server has its database.
HEADERS: dict[str, str] = {}


@pytest.fixture
def system(tmp_path: Path, postgres_url: str) -> Iterator[LiveSystem]:
    """A server that requires tokens; no shared agent token: each agent has its own."""
    path = os.pathsep.join([str(REPO / "backend"), str(REPO)])
    live = LiveSystem(
        tmp_path,
        database_url=postgres_url,
        lease_seconds=6.0,
        extra_env={"PYTHONPATH": path, "SEEDLAB_AUTH": "required"},
    )
    del live.env["SEEDLAB_AGENT_TOKEN"]
    live.start_server()
    yield live
    live.stop()


def _token(system: LiveSystem, scope: str, name: str) -> str:
    """A token made with `seedlab token create` on the server's database."""
    made = subprocess.run(
        [sys.executable, "-m", "seedlab.cli", "token", "create", "--scope", scope, "--name", name],
        env=system.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip()


def _agents(system: LiveSystem) -> dict[str, dict[str, Any]]:
    items = httpx.get(f"{system.url}/api/v1/agents", headers=HEADERS, timeout=10).json()
    return {item["name"]: item for item in items}


def _wait(system: LiveSystem, what: str, check: Any, seconds: float = 240) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{system.logs()}"
        time.sleep(0.3)
    return value


def test_thirty_runs_split_across_three_agents_survive_a_sigkill(system: LiveSystem) -> None:
    HEADERS["Authorization"] = f"Bearer {_token(system, 'submit', 'pipeline')}"
    # Each agent proves itself with its own token of scope agent.
    killed = system.start_agent("a", "--token", _token(system, "agent", "agent-a"))
    system.start_agent(
        "b", "--concurrency", "2", "--label", "rack-2", "--token", _token(system, "agent", "b")
    )
    system.start_agent(
        "c", "--gpus", "0", "--label", "gpu", "--token", _token(system, "agent", "agent-c")
    )
    # Another scope's token is not an agent's.
    refused = httpx.post(
        f"{system.url}/api/v1/agent/register", headers=HEADERS, json={}, timeout=10
    )
    assert refused.status_code == 403, refused.text
    names = {"a", "b-1", "b-2", "c"}
    agents = _wait(system, "four workers", lambda: names <= set(a := _agents(system)) and a)
    assert agents["b-1"]["labels"] == ["rack-2"] and agents["b-2"]["labels"] == ["rack-2"]
    assert (agents["c"]["gpus"], agents["c"]["labels"]) == ([0], ["gpu"])

    submitted = httpx.post(
        f"{system.url}/api/v1/jobs",
        headers=HEADERS,
        json={
            "experiment": "seed_card_mlp",
            "seeds": "1:30x1",
            "params": {"epochs": 2, "n_samples": 64, "n_val": 16, "units": 8},
        },
        timeout=30,
    )
    assert submitted.status_code == 201, submitted.text
    job_id = submitted.json()["id"]

    def a_busy_after_a_success() -> bool:
        done_by_a = ": succeeded" in (system.data_dir / "agent-a.log").read_text()
        return done_by_a and bool(_agents(system)["a"]["current_runs"])

    _wait(system, "agent a holding a run", a_busy_after_a_success)
    held = _agents(system)["a"]["current_runs"]
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)

    def finished() -> dict[str, Any] | None:
        report: dict[str, Any] = httpx.get(
            f"{system.url}/api/v1/jobs/{job_id}/report", headers=HEADERS, timeout=30
        ).json()
        return report if report["status"] not in ("queued", "running") else None

    report = _wait(system, "the job to finish", finished, seconds=400)
    assert report["status"] == "succeeded", json.dumps(report["run_counts"]) + system.logs()
    assert report["run_counts"] == {"succeeded": 30}

    agent_ids = {name: item["id"] for name, item in _agents(system).items()}
    by_agent: dict[int, int] = {}
    rerun: list[int] = []
    for summary in report["runs"]:
        run = httpx.get(
            f"{system.url}/api/v1/runs/{summary['id']}", headers=HEADERS, timeout=30
        ).json()
        outcomes = [attempt["outcome"] for attempt in run["attempts"]]
        # Exactly one attempt succeeded; any earlier one was the killed agent's lost lease.
        assert outcomes.count("succeeded") == 1, (summary["id"], outcomes)
        assert outcomes[-1] == "succeeded" and set(outcomes[:-1]) <= {"lease_expired"}
        winner = run["attempts"][-1]["agent_id"]
        by_agent[winner] = by_agent.get(winner, 0) + 1
        # Runs of the agent with --gpus 0 see only that GPU; the others' see no pinning.
        fingerprint = httpx.get(
            f"{system.url}/api/v1/fingerprints/{run['fingerprint_hash']}",
            headers=HEADERS,
            timeout=30,
        ).json()["data"]
        pinned = fingerprint["env"].get("CUDA_VISIBLE_DEVICES")
        assert pinned == ("0" if winner == agent_ids["c"] else None), (winner, pinned)
        if len(outcomes) > 1:
            assert run["attempts"][0]["agent_id"] == agent_ids["a"], run["attempts"]
            assert winner != agent_ids["a"]
            rerun.append(summary["id"])
    # What the killed agent held (bar one that finished in the instant before the kill) ran
    # again elsewhere, and nothing else did.
    assert rerun and set(rerun) <= set(held), (rerun, held)
    # Every process took part: a before its death, b's two workers, c.
    assert {agent_ids[name] for name in names} <= set(by_agent), by_agent
    assert sum(by_agent.values()) == 30
    assert _agents(system)["a"]["online"] is False
    assert all(_agents(system)[name]["online"] for name in names - {"a"})
