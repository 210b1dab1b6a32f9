"""The randomness-source audit end to end: real server, agents and TensorFlow; known leaks."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.livesystem import LiveSystem

pytestmark = pytest.mark.tf


@pytest.fixture
def system(shared_live: LiveSystem) -> LiveSystem:
    """The session's shared server and two agents (tests/conftest.py)."""
    return shared_live


def _audit(system: LiveSystem, experiment: str, *extra: str) -> dict:  # type: ignore[type-arg]
    result = system.cli("audit", experiment, "--seed", "42", "--wait", "--json", *extra)
    assert result.returncode == 0, result.stdout + result.stderr + system.logs()
    audit: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    assert audit["complete"], audit
    return audit


def test_reference_mlp_relies_on_exactly_its_three_seeds(system: LiveSystem) -> None:
    audit = _audit(system, "seed_card_mlp")
    assert audit["baseline_bitwise"] is True
    assert sorted(audit["culprits"]) == ["numpy_seed", "python_seed", "tf_seed"]
    # Without the TF seed, op determinism refuses the unseeded random ops: a failure, reported.
    assert "seed" in audit["toggles"]["tf_seed"]["error"]
    # Keras 3 seeds its initialisers from Python's random: the weights differ before training.
    python = audit["toggles"]["python_seed"]["first_divergence"]
    assert (python["epoch"], python["step"], python["cause"]) == (0, 0, "initialisation")
    assert python["layers"] == ["dense", "dense_1"]
    # The reference draws its data from NumPy's global generator: the first batch differs.
    numpy = audit["toggles"]["numpy_seed"]["first_divergence"]
    assert (numpy["epoch"], numpy["step"], numpy["cause"]) == (1, 1, "data_order")
    assert numpy["inputs_differ"] is True and numpy["data_hash_differs"] is True
    for toggle, row in audit["toggles"].items():
        assert row["seconds_per_epoch_on"] > 0, toggle
        if not row["error"]:
            assert row["seconds_per_epoch_off"] > 0, toggle


@pytest.mark.parametrize(
    ("experiment", "culprit"),
    [
        ("leak_hash_vocab", "hash_seed"),
        ("leak_python_shuffle", "python_seed"),
        ("leak_parallel_map", "op_determinism"),
    ],
)
def test_each_leak_is_traced_to_its_toggle(
    system: LiveSystem, experiment: str, culprit: str
) -> None:
    # The culprit among two innocent toggles (the reference test above audits all eight): 8
    # runs instead of 18 per leak.
    innocent = [t for t in ("numpy_seed", "tf_data_seed", "tf_seed") if t != culprit][:2]
    toggles = [arg for toggle in (culprit, *innocent) for arg in ("--toggle", toggle)]
    audit = _audit(system, experiment, *toggles)
    assert audit["baseline_bitwise"] is True
    assert set(audit["toggles"]) == {culprit, *innocent}
    assert audit["culprits"] == [culprit]
    assert audit["toggles"][culprit]["max_abs_diff"]["loss"] > 0
    first = audit["toggles"][culprit]["first_divergence"]
    # Every leak here changes what the model is fed, never its initial weights.
    assert first["traced"] is True
    assert first["cause"] == "data_order" and first["inputs_differ"] is True
    assert first["epoch"] >= 1 and first["step"] >= 1
    if experiment != "leak_parallel_map":  # the race may spare the first batch
        assert (first["epoch"], first["step"]) == (1, 1)


def test_unseeded_generator_is_blamed_on_no_toggle(system: LiveSystem) -> None:
    # With the baseline already differing no toggle can be blamed: one is enough to show it.
    audit = _audit(system, "leak_unseeded_numpy_rng", "--toggle", "numpy_seed")
    assert audit["baseline_bitwise"] is False
    assert audit["culprits"] == []
    assert audit["baseline"]["data_differs"] is True
    first = audit["baseline"]["first_divergence"]
    # It shows where the runs part: the input batch of the very first step.
    assert (first["epoch"], first["step"], first["cause"]) == (1, 1, "data_order")
    assert first["inputs_differ"] is True
    assert "epoch 1, step 1: input batch differs" in audit["conclusion"]
    assert "no single toggle" in audit["conclusion"]
    assert "data hashes already differ" in audit["conclusion"]


def test_onednn_matrix_names_the_environment_as_the_cause(system: LiveSystem) -> None:
    job = httpx.post(
        f"{system.url}/api/v1/jobs",
        json={
            "kind": "audit",
            "experiment": "seed_card_mlp",
            "audit": {
                "seed": 42,
                "toggles": [],
                "env_matrix": [
                    {"TF_ENABLE_ONEDNN_OPTS": "0"},
                    {"TF_ENABLE_ONEDNN_OPTS": "1"},
                ],
            },
        },
    ).json()
    assert job["run_count"] == 6
    deadline = time.monotonic() + 600
    report = httpx.get(f"{system.url}/api/v1/jobs/{job['id']}/report").json()
    while report["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        report = httpx.get(f"{system.url}/api/v1/jobs/{job['id']}/report").json()
    assert report["status"] == "succeeded", report
    matrix = {row["variant"]: row for row in report["audit"]["env_matrix"]}
    assert set(matrix) == {"TF_ENABLE_ONEDNN_OPTS=0", "TF_ENABLE_ONEDNN_OPTS=1"}
    assert all(row["bitwise_within"] for row in matrix.values())
    assert all(row["changes_results"] for row in matrix.values())
    assert "pre-import environment changes results" in report["audit"]["conclusion"]
