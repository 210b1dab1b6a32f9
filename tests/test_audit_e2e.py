"""The randomness-source audit end to end: real server, agents and TensorFlow; known leaks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.livesystem import LiveSystem

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    live = LiveSystem(tmp_path_factory.mktemp("audit"), lease_seconds=30)
    live.start_server()
    live.start_agent("one")
    live.start_agent("two")
    yield live
    live.stop()


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
    audit = _audit(system, experiment)
    assert audit["baseline_bitwise"] is True
    assert audit["culprits"] == [culprit]
    assert audit["toggles"][culprit]["max_abs_diff"]["loss"] > 0
    assert audit["toggles"][culprit]["first_divergence"] is not None


def test_unseeded_generator_is_blamed_on_no_toggle(system: LiveSystem) -> None:
    audit = _audit(system, "leak_unseeded_numpy_rng")
    assert audit["baseline_bitwise"] is False
    assert audit["culprits"] == []
    assert audit["baseline"]["data_differs"] is True
    assert audit["baseline"]["first_divergence"] == 1
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
