"""A decompose job end to end: real server, two agents, TensorFlow on credit_risk_mlp."""

from __future__ import annotations

import json

import httpx
import pytest

from seedlab.analysis.seedscience import decompose_variance
from tests.livesystem import LiveSystem

pytestmark = pytest.mark.tf

PLAN = "decompose credit_risk_mlp: 4 groups \u00d7 3 runs + 3 all-vary = 15 runs"


@pytest.fixture
def system(shared_live: LiveSystem) -> LiveSystem:
    """The session's shared server and two agents (tests/conftest.py)."""
    return shared_live


def test_credit_risk_decomposition_with_real_training(system: LiveSystem) -> None:
    result = system.cli(
        "decompose", "credit_risk_mlp", "--param", "epochs=2", "--seeds", "42:3", "--wait",
        "--json", timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr + system.logs()
    assert PLAN in result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and len(report["runs"]) == 15
    runs = report["runs"]
    by_group: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for run in runs:
        by_group.setdefault(run["variant"], []).append(run)
    assert {g: len(r) for g, r in by_group.items()} == {
        "init": 3, "order": 3, "split": 3, "kernels": 3, "all_vary": 3
    }  # fmt: skip

    # Same seeds under `full` give the same bits whatever group the run is in.
    base = [r for r in runs if (r["init_seed"], r["order_seed"], r["split_seed"]) == (42, 42, 42)
            and r["variant"] != "kernels"]  # fmt: skip
    assert len(base) == 4 and len({r["weights_checksum"] for r in base}) == 1
    # Each one-source group moves the weights with its seed: three different results.
    for group in ("init", "order", "split", "all_vary"):
        assert len({r["weights_checksum"] for r in by_group[group]}) == 3, group
    # Kernels: the same seed three times with op determinism off. On this CPU the kernels are
    # deterministic anyway: bit-identical weights, so the kernels share is exactly 0.
    kernels = by_group["kernels"]
    assert len({r["weights_checksum"] for r in kernels}) == 1
    assert len({json.dumps(r["final_metrics"], sort_keys=True) for r in kernels}) == 1
    assert report["verdict"] == "bitwise"

    decomposition = report["decomposition"]
    assert set(decomposition) == set(runs[0]["final_metrics"])
    for metric, section in decomposition.items():
        assert list(section["sources"]) == ["init", "order", "split", "kernels"], metric
        assert section["sources"]["kernels"]["share"] == 0.0
        assert section["sources"]["kernels"]["ci95"][1] < 1e-6
        shares = [row["share"] for row in section["sources"].values()]
        assert sum(shares) == pytest.approx(1.0)
        groups = {
            g: [r["final_metrics"][metric] for r in by_group[g]]
            for g in ("init", "order", "split", "kernels")
        }
        vary = [r["final_metrics"][metric] for r in by_group["all_vary"]]
        assert section == decompose_variance(groups, all_vary=vary).to_dict()

    # Each run process applied the seeds it was given; the kernels ran under seeds_only.
    with httpx.Client(base_url=system.url, timeout=30) as http:
        for run in by_group["order"] + kernels:
            detail = http.get(f"/api/v1/runs/{run['id']}").json()
            applied = detail["applied_profile"]
            assert (applied["init_seed"], applied["order_seed"], applied["split_seed"]) == (
                run["init_seed"], run["order_seed"], run["split_seed"]
            )  # fmt: skip
            assert applied["tf_data_seed"] == run["order_seed"]
            assert applied["op_determinism"] is (run["variant"] != "kernels")
