"""End to end: the CSV walkthrough through a real server, real agents and real TensorFlow."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.livesystem import LiveSystem

REPO = Path(__file__).resolve().parents[2]
WALKTHROUGH = REPO / "examples" / "csv_walkthrough"

pytestmark = pytest.mark.tf


@pytest.fixture
def system(shared_live: LiveSystem) -> LiveSystem:
    """The session's shared server and two agents (tests/conftest.py)."""
    return shared_live


def walkthrough_commands() -> list[list[str]]:
    """The `seedlab ...` lines of the walkthrough's bash block, as argument lists."""
    text = (WALKTHROUGH / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "the walkthrough has no bash block"
    lines = block.group(1).splitlines()
    return [shlex.split(line)[1:] for line in lines if line.startswith("seedlab ")]


def run_in_example(system: LiveSystem, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seedlab.cli", *args, "--server", system.url],
        env=system.env,
        cwd=WALKTHROUGH,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_csv_walkthrough_runs_through_real_agents(system: LiveSystem) -> None:
    commands = walkthrough_commands()
    assert [c[:2] for c in commands] == [
        ["data", "add"],
        ["data", "list"],
        ["submit", "tabular_csv"],
    ]
    add, listing, submit = (run_in_example(system, args) for args in commands)
    assert add.returncode == 0, add.stderr + system.logs()
    dataset = json.loads(add.stdout)
    sha = hashlib.sha256((WALKTHROUGH / "churn.csv").read_bytes()).hexdigest()
    assert dataset["sha256"] == sha and dataset["name"] == "churn" and dataset["rows"] == 200
    columns = {c["name"]: c for c in dataset["columns"]}
    assert columns["plan"]["type"] == "string" and columns["tenure_months"]["missing"] > 0
    assert listing.returncode == 0 and f"churn  sha256 {sha}  200 rows" in listing.stdout

    assert submit.returncode == 0, submit.stdout + submit.stderr + system.logs()
    report = json.loads(submit.stdout)
    assert report["status"] == "succeeded" and report["verdict"] == "bitwise", report
    runs = report["runs"]
    assert len(runs) == 10 and all(r["status"] == "succeeded" for r in runs)
    by_seed: dict[int, set[str]] = {}
    for run in runs:
        by_seed.setdefault(run["seed"], set()).add(run["weights_checksum"])
    assert all(len(checksums) == 1 for checksums in by_seed.values())  # bit-identical pairs
    assert len({next(iter(c)) for c in by_seed.values()}) == 5  # different seeds differ
    auc = report["metrics"]["val_auc"]
    assert auc["n"] == 5 and auc["std"] is not None and auc["std"] > 0
    metrics = {"auc", "accuracy", "loss", "val_auc", "val_accuracy", "val_loss"}
    assert set(report["metrics"]) >= metrics

    job = httpx.get(f"{system.url}/api/v1/jobs/{report['id']}").json()
    assert job["params"]["dataset"] == sha  # the name was resolved at submission
    fingerprint = httpx.get(f"{system.url}/api/v1/fingerprints/{runs[0]['fingerprint_hash']}")
    assert fingerprint.json()["data"]["experiment"]["dataset_sha256"] == sha
    cached = system.data_dir / "cache" / "datasets" / f"{sha}.csv"
    assert cached.read_bytes() == (WALKTHROUGH / "churn.csv").read_bytes()
    assert not list(cached.parent.glob("*.part"))


def test_split_seed_changes_the_data_not_the_seed(system: LiveSystem) -> None:
    """Same seed, another split_seed: other data hash; same split_seed: the same data hash."""
    submit = ["submit", "tabular_csv", "--param", "dataset=churn", "--param", "target=churned"]
    submit += ["--param", "epochs=1", "--param", 'features=["monthly_charges","plan"]']
    result = run_in_example(system, [*submit, "--seeds", "7", "--wait", "--json"])
    assert result.returncode == 0, result.stdout + result.stderr + system.logs()
    first = json.loads(result.stdout)
    other = run_in_example(
        system, [*submit, "--param", "split_seed=1", "--seeds", "7", "--wait", "--json"]
    )
    assert other.returncode == 0, other.stdout + other.stderr + system.logs()
    second = json.loads(other.stdout)

    def data_hash(report: dict) -> str:  # type: ignore[type-arg]
        run = report["runs"][0]
        data = httpx.get(f"{system.url}/api/v1/fingerprints/{run['fingerprint_hash']}").json()
        return str(data["data"]["data_hash"])

    assert data_hash(first) != data_hash(second)
    assert first["runs"][0]["weights_checksum"] != second["runs"][0]["weights_checksum"]


def test_a_corrupted_stored_file_fails_the_run_and_is_not_cached(system: LiveSystem) -> None:
    """The agent checks the sha256 of what it downloads; a mismatch never reaches the cache."""
    content = b"x,label\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n7,0\n8,1\n"
    sha = hashlib.sha256(content).hexdigest()
    stored = httpx.post(
        f"{system.url}/api/v1/datasets?name=tampered",
        content=content,
        headers={"Content-Type": "text/csv"},
    )
    assert stored.status_code == 201, stored.text
    path = system.data_dir / "datasets" / f"{sha}.csv"
    path.write_bytes(content.replace(b"8,1", b"8,0"))  # the disk no longer holds that content
    result = run_in_example(
        system,
        ["submit", "tabular_csv", "--param", "dataset=tampered", "--param", "target=label",
         "--param", "epochs=1", "--seeds", "3", "--wait", "--json"],
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    (run,) = report["runs"]
    assert run["status"] == "failed"
    assert f"data set {sha} downloaded from" in run["error"] and "refusing" in run["error"]
    cache = system.data_dir / "cache" / "datasets"
    assert not (cache / f"{sha}.csv").exists() and not list(cache.glob("*.part"))

    path.unlink()  # gone altogether: the server says so and the run fails with the reason
    again = run_in_example(
        system,
        ["submit", "tabular_csv", "--param", f"dataset={sha}", "--param", "target=label",
         "--param", "epochs=1", "--seeds", "3", "--wait", "--json"],
    )
    (run,) = json.loads(again.stdout)["runs"]
    assert run["status"] == "failed" and "its file" in run["error"] and "is missing" in run["error"]
