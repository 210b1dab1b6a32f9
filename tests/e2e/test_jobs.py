"""End to end: a real server process, real agent processes, real TensorFlow, the real CLI."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.livesystem import LiveSystem

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.tf


@pytest.fixture
def system(shared_live: LiveSystem) -> LiveSystem:
    """The session's shared server and two agents (tests/conftest.py)."""
    return shared_live


def _submit_wait(system: LiveSystem, *args: str) -> dict:  # type: ignore[type-arg]
    result = system.cli("submit", *args, "--wait", "--json")
    assert result.returncode in (0, 1), result.stderr + system.logs()
    report: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    report["_exit"] = result.returncode
    return report


def test_full_profile_is_bitwise(system: LiveSystem) -> None:
    report = _submit_wait(system, "seed_card_mlp", "--seeds", "42:2x2", "--profile", "full")
    assert report["_exit"] == 0, report
    assert report["status"] == "succeeded"
    assert report["verdict"] == "bitwise"
    runs = report["runs"]
    assert sorted((r["seed"], r["repeat"]) for r in runs) == [(42, 0), (42, 1), (43, 0), (43, 1)]
    by_seed: dict[int, set[str]] = {}
    for run in runs:
        assert run["status"] == "succeeded" and run["attempt"] == 1
        assert run["fingerprint_hash"] and len(run["weights_checksum"]) == 64
        by_seed.setdefault(run["seed"], set()).add(run["weights_checksum"])
    assert all(len(checksums) == 1 for checksums in by_seed.values())
    assert by_seed[42] != by_seed[43]  # different seeds, different weights
    spread = report["metrics"]["val_accuracy"]
    assert spread["n"] == 2 and spread["std"] is not None and len(spread["ci95"]) == 2
    evidence = report["verdict_evidence"]["seeds"]
    assert {e["seed"] for e in evidence} == {42, 43}
    assert all(e["weights_identical"] and e["metrics_identical"] for e in evidence)
    # Keras fit on NumPy arrays under a global seed repeats one batch order in every epoch:
    # each real run noticed it, sent it with its result, and the report groups the four.
    codes = [w["code"] for w in report["warnings"]]
    assert [c for c in codes if c != "onednn_enabled"] == ["repeated_epoch_order"], codes
    assert report["warnings"][codes.index("repeated_epoch_order")]["where"].startswith(
        "model.fit input batches in 4 of 4 run(s)"
    )
    # `full` leaves oneDNN at TF's default; where the CPU turns it on, every run says so.
    onednn = [w for w in report["warnings"] if w["code"] == "onednn_enabled"]
    assert all(" in 4 of 4 run(s)" in w["where"] for w in onednn), onednn
    # Each run sent its validation scores, but the data are drawn from the seed: no example is
    # shared between seeds, so there is no churn to measure.
    assert report["churn"] is None
    # The same report from the REST API and from `seedlab status`.
    api = httpx.get(f"{system.url}/api/v1/jobs/{report['id']}/report").json()
    assert api["verdict"] == "bitwise" and api["runs"] == report["runs"]
    # Stored on the job when it ended, from real runs: what the jobs list filters on.
    stored = httpx.get(f"{system.url}/api/v1/jobs/{report['id']}").json()
    assert stored.get("verdict") == "bitwise", stored
    status = system.cli("status", str(report["id"]), "--json")
    assert json.loads(status.stdout)["runs"] == report["runs"]
    run = httpx.get(f"{system.url}/api/v1/runs/{runs[0]['id']}").json()
    assert run["applied_profile"]["op_determinism"] is True
    assert len(onednn) == int(run["applied_profile"]["onednn"].startswith("on")), onednn
    assert run["isolation"] == "fork"
    # Where its time went, measured in the run process; the agent saw the whole of it.
    phases = run["phases"]
    assert set(phases) == {"setup", "build", "training"} and phases["training"] > 0
    assert sum(phases.values()) <= run["seconds"]
    # Each agent started the full profile's zygote on its own, before its first claim.
    agent_logs = [p.read_text() for p in system.data_dir.glob("agent-*.log")]
    assert [log.count("warm for profile full") for log in agent_logs] == [1, 1], system.logs()
    fingerprint = httpx.get(f"{system.url}/api/v1/fingerprints/{run['fingerprint_hash']}").json()
    assert fingerprint["data"]


def test_none_profile_is_not_bitwise(system: LiveSystem) -> None:
    report = _submit_wait(system, "seed_card_mlp", "--seeds", "42:2x2", "--profile", "none")
    assert report["status"] == "succeeded"
    assert report["verdict"] == "nondeterministic"
    run = httpx.get(f"{system.url}/api/v1/runs/{report['runs'][0]['id']}").json()
    assert run["applied_profile"]["op_determinism"] is False
    assert run["isolation"] == "process" and run["isolation_reason"]
    # Untraced runs still say where they part: per epoch, per layer. Python's random is
    # unseeded, so Keras' initialisers drew different weights.
    divergence = {d["run_a"]: d for d in report["divergence"]}
    assert len(divergence) == 2
    for first in divergence.values():
        assert first["traced"] is False and first["step"] is None
        assert (first["epoch"], first["cause"]) == (0, "initialisation")
        assert first["layers"] == ["dense", "dense_1"]


def test_traced_runs_locate_the_first_step_that_differs(system: LiveSystem) -> None:
    profile = json.dumps({"preset": "full", "python_seed": False, "trace": True})
    report = _submit_wait(system, "seed_card_mlp", "--seeds", "42:1x2", "--profile", profile)
    assert report["status"] == "succeeded" and report["profile_name"] == "full+custom+trace"
    assert report["verdict"] == "nondeterministic"
    run_a, run_b = sorted(r["id"] for r in report["runs"])
    divergence = httpx.get(f"{system.url}/api/v1/runs/{run_a}/divergence/{run_b}").json()
    assert divergence["traced"] is True
    assert (divergence["epoch"], divergence["step"], divergence["cause"]) == (
        0,
        0,
        "initialisation",
    )
    # Defaults: 100 samples in batches of 32 (4 steps) for 2 epochs.
    steps = divergence["step_timeline"]
    assert len(steps) == 8 and (steps[-1]["epoch"], steps[-1]["step"]) == (2, 4)
    # The runs are fed the same batches; only the weights differ, from the start.
    assert all(row["input_differs"] is False for row in steps)
    assert all(row["differing"] == ["dense", "dense_1"] for row in steps)
    # The same from the CLI, next to the environment diff.
    cli = system.cli("diff", str(run_a), str(run_b), "--json")
    assert cli.returncode == 0, cli.stderr
    result = json.loads(cli.stdout)
    assert result["divergence"]["cause"] == "initialisation"
    assert "step_timeline" not in result["divergence"]
    text = system.cli("diff", str(run_a), str(run_b))
    assert "first divergence: before training: initial weights differ" in text.stdout


def test_submit_without_wait_returns_the_job_at_once(system: LiveSystem) -> None:
    result = system.cli("submit", "seed_card_mlp", "--seeds", "1:1x1", "--json")
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["id"] > 0 and job["status"] in ("queued", "running")
    bad = system.cli("submit", "seed_card_mlp", "--param", "epochs=-3")
    assert bad.returncode == 2 and "epochs" in bad.stderr


def test_failing_run_stores_its_traceback_and_the_others_go_on(system: LiveSystem) -> None:
    report = _submit_wait(
        system, "flaky_test", "--param", "fail_seed=8", "--seeds", "7:3x1", "--profile", "full"
    )
    assert report["_exit"] == 1 and report["status"] == "failed"
    by_seed = {r["seed"]: r for r in report["runs"]}
    assert by_seed[7]["status"] == by_seed[9]["status"] == "succeeded"
    assert by_seed[8]["status"] == "failed"
    assert "deliberate failure for seed 8" in by_seed[8]["error"]
    run = httpx.get(f"{system.url}/api/v1/runs/{by_seed[8]['id']}").json()
    assert "ValueError" in run["traceback"] and "plugin_experiments.py" in run["traceback"]
    page = httpx.get(f"{system.url}/runs/{by_seed[8]['id']}").text
    assert "deliberate failure for seed 8" in page


def _wait_for(predicate, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def test_cancel_stops_running_and_queued_runs(system: LiveSystem) -> None:
    result = system.cli(
        "submit", "credit_risk_mlp", "--param", "epochs=400", "--seeds", "1:4x1", "--json"
    )
    job_id = json.loads(result.stdout)["id"]
    report_url = f"{system.url}/api/v1/jobs/{job_id}/report"
    _wait_for(
        lambda: any(
            r["status"] == "running" and r["epoch"] for r in httpx.get(report_url).json()["runs"]
        )
    )
    assert system.cli("cancel", str(job_id)).returncode == 0
    final = _wait_for(
        lambda: (r := httpx.get(report_url).json())["status"] == "cancelled" and r, timeout=60
    )
    assert {r["status"] for r in final["runs"]} == {"cancelled"}


def test_killed_agent_run_is_retried_as_next_attempt(tmp_path: Path) -> None:
    live = LiveSystem(tmp_path, lease_seconds=8)
    try:
        live.start_server()
        doomed = live.start_agent("doomed")
        result = live.cli(
            "submit", "credit_risk_mlp", "--param", "epochs=60", "--seeds", "3:1x1", "--json"
        )
        job_id = json.loads(result.stdout)["id"]
        report_url = f"{live.url}/api/v1/jobs/{job_id}/report"
        _wait_for(lambda: (httpx.get(report_url).json()["runs"][0]["epoch"] or 0) >= 2)
        os.kill(doomed.pid, signal.SIGKILL)
        live.start_agent("rescuer")
        final = _wait_for(
            lambda: (r := httpx.get(report_url).json())["status"] in ("succeeded", "failed") and r,
            timeout=300,
        )
        assert final["status"] == "succeeded", live.logs()
        run = httpx.get(f"{live.url}/api/v1/runs/{final['runs'][0]['id']}").json()
        assert run["attempt"] == 2
        assert [a["outcome"] for a in run["attempts"]] == ["lease_expired", "succeeded"]
        metrics = httpx.get(f"{live.url}/api/v1/runs/{run['id']}/metrics").json()
        steps = [p[0] for s in metrics["series"] if s["key"] == "loss" for p in s["points"]]
        assert steps == list(range(1, 61))  # only the second attempt's points, all of them
    finally:
        live.stop()
