"""Determinism through the real launcher: bit-for-bit weight checksums, never allclose."""

from __future__ import annotations

import pytest

from seedlab.runner.launcher import HASH_SEED_OFF, Launcher
from tests.runner.conftest import RunKey
from tests.runner.support import (
    SMALL_PARAMS,
    RunResult,
    metric_curves,
    profile,
    run,
    run_concurrently,
    spec,
)

pytestmark = pytest.mark.tf

EXPECTED_METRICS = {
    "seed_card_mlp": {"loss", "accuracy", "val_loss", "val_accuracy"},
    "credit_risk_mlp": {"loss", "auc", "accuracy", "val_loss", "val_auc", "val_accuracy"},
    "digits_cnn": {"loss", "accuracy", "val_loss", "val_accuracy"},
}

# Layers that own weights, in model order, as the trace names them.
EXPECTED_LAYERS = {
    "seed_card_mlp": ["dense", "dense_1"],
    "credit_risk_mlp": ["dense", "dense_1"],
    "digits_cnn": ["conv2d", "dense", "dense_1"],
}


@pytest.mark.parametrize("experiment", sorted(SMALL_PARAMS))
def test_fork_and_process_give_identical_results(
    full_runs: dict[RunKey, RunResult], experiment: str
) -> None:
    forked = full_runs[(experiment, "fork", 42, 0)]
    cold = full_runs[(experiment, "process", 42, 0)]
    assert forked.handle.isolation == "fork" and forked.handle.isolation_reason is None
    assert cold.handle.isolation == "process"
    assert forked.kinds() == ["applied", "fingerprint", "epoch", "epoch", "done"]
    assert cold.kinds() == forked.kinds()
    assert forked.done["weights_checksum"] == cold.done["weights_checksum"]
    assert forked.done["epoch_checksums"] == cold.done["epoch_checksums"]
    assert forked.done["final_metrics"] == cold.done["final_metrics"]
    assert metric_curves(forked) == metric_curves(cold)
    assert forked.done["data_hash"] == cold.done["data_hash"]
    # The forked child sees the same environment as a fresh interpreter.
    assert forked.fingerprint["hash"] == cold.fingerprint["hash"]
    assert set(forked.done["final_metrics"]) == EXPECTED_METRICS[experiment]


@pytest.mark.parametrize("experiment", sorted(SMALL_PARAMS))
def test_epoch_events_are_complete(full_runs: dict[RunKey, RunResult], experiment: str) -> None:
    result = full_runs[(experiment, "fork", 42, 0)]
    epochs = result.epochs
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all(e["epochs"] == 2 for e in epochs)
    assert all(len(e["weights_checksum"]) == 64 and e["seconds"] > 0 for e in epochs)
    assert [e["weights_checksum"] for e in epochs] == result.done["epoch_checksums"]
    assert epochs[-1]["metrics"] == result.done["final_metrics"]
    assert epochs[0]["weights_checksum"] != epochs[1]["weights_checksum"]
    assert result.fingerprint["data"]["data_hash"] == result.done["data_hash"]


def test_two_cold_runs_same_seed_identical_other_seed_differs(
    full_runs: dict[RunKey, RunResult],
) -> None:
    first = full_runs[("seed_card_mlp", "process", 42, 0)].done
    again = full_runs[("seed_card_mlp", "process", 42, 1)].done
    other_seed = full_runs[("seed_card_mlp", "process", 43, 0)].done
    assert first["weights_checksum"] == again["weights_checksum"]
    assert first["epoch_checksums"] == again["epoch_checksums"]
    assert first["final_metrics"] == again["final_metrics"]
    assert other_seed["weights_checksum"] != first["weights_checksum"]
    assert other_seed["data_hash"] != first["data_hash"]  # the data come from np.random


def test_applied_profile_read_back_under_full(full_runs: dict[RunKey, RunResult]) -> None:
    forked = full_runs[("seed_card_mlp", "fork", 42, 0)].applied
    cold = full_runs[("seed_card_mlp", "process", 42, 0)].applied
    for applied, isolation in ((forked, "fork"), (cold, "process")):
        assert applied["isolation"] == isolation
        assert applied["op_determinism"] is True
        assert applied["inter_op_threads"] == 1 and applied["intra_op_threads"] == 1
        assert applied["hash_seed"] == "0" and applied["hash_randomization"] is False
        assert applied["python_seed"] == applied["numpy_seed"] == applied["tf_seed"] == 42
        assert applied["tf_data_seed"] == 42
        assert applied["omp_num_threads"] == "1"
        assert applied["onednn"].split(" ")[0] in ("on", "off")


def test_none_profile_falls_back_to_process_and_runs_differ(launcher: Launcher) -> None:
    secret = "s3cr3t-value-never-shown"
    loose = profile("none", env={"TF_FAKE_TOKEN": secret})
    first, second = run_concurrently(
        launcher, [spec("seed_card_mlp", run_profile=loose) for _ in range(2)]
    )
    for result in (first, second):
        assert result.handle.isolation == "process"
        assert result.handle.isolation_reason == HASH_SEED_OFF
        applied = result.applied
        assert applied["op_determinism"] is False
        assert applied["hash_seed"] is None and applied["hash_randomization"] is True
        assert applied["python_seed"] is None and applied["tf_seed"] is None
        assert applied["inter_op_threads"] == 0 and applied["intra_op_threads"] == 0
        fingerprint = result.fingerprint["data"]
        assert fingerprint["env"]["TF_FAKE_TOKEN"] == "***"
        assert secret not in str(result.events)
    assert first.done["weights_checksum"] != second.done["weights_checksum"]
    assert first.done["data_hash"] != second.done["data_hash"]


def test_unseeded_generators_are_reseeded_after_fork(launcher: Launcher) -> None:
    # `full` with one seed toggle off keeps the pre-import environment, so the same zygote
    # forks both children: only reseeding from OS entropy can make them differ.
    python_off = profile("full", python_seed=False)
    a, b = (run(launcher, spec("seed_card_mlp", run_profile=python_off)) for _ in range(2))
    assert a.handle.isolation == b.handle.isolation == "fork"
    assert a.handle.zygote_pid == b.handle.zygote_pid
    assert a.applied["python_seed"] is None
    assert a.done["data_hash"] == b.done["data_hash"]  # NumPy still seeded: same data
    assert a.done["weights_checksum"] != b.done["weights_checksum"]  # Keras seeds from random

    numpy_off = profile("full", numpy_seed=False)
    c, d = (run(launcher, spec("seed_card_mlp", run_profile=numpy_off)) for _ in range(2))
    assert c.handle.isolation == d.handle.isolation == "fork"
    assert c.done["data_hash"] != d.done["data_hash"]


def test_unseeded_tensorflow_differs_between_forked_children(launcher: Launcher) -> None:
    # TF's own RNG for unseeded ops must not be shared through the zygote either. Single
    # threaded, so the unseeded tf.data shuffle is the only thing that can differ.
    tf_off = profile("full", tf_seed=False, tf_data_seed=False, op_determinism=False)
    a, b = (run(launcher, spec("credit_risk_mlp", run_profile=tf_off)) for _ in range(2))
    assert a.handle.isolation == b.handle.isolation == "fork"
    assert a.applied["tf_seed"] is None and a.applied["tf_data_seed"] is None
    assert a.done["data_hash"] == b.done["data_hash"]
    assert a.done["weights_checksum"] != b.done["weights_checksum"]


@pytest.mark.parametrize("experiment", sorted(SMALL_PARAMS))
def test_tracing_every_step_leaves_the_weights_bit_identical(
    launcher: Launcher, full_runs: dict[RunKey, RunResult], experiment: str
) -> None:
    plain = full_runs[(experiment, "fork", 42, 0)].done
    traced = run(launcher, spec(experiment, run_profile=profile("full", trace=True))).done
    assert traced["weights_checksum"] == plain["weights_checksum"]
    assert traced["epoch_checksums"] == plain["epoch_checksums"]
    assert traced["final_metrics"] == plain["final_metrics"]
    trace = traced["trace"]
    # Every run carries per-layer checksums per epoch; only the traced one has steps.
    assert plain["trace"]["steps"] is None
    assert plain["trace"]["epochs"] == trace["epochs"] and len(trace["epochs"]) == 2
    assert trace["layers"] == EXPECTED_LAYERS[experiment]
    assert len(trace["initial"]) == len(trace["layers"])
    steps = trace["steps"]
    per_epoch = len(steps) // 2
    assert [(e, s) for e, s, _, _ in steps] == [
        (e, s) for e in (1, 2) for s in range(1, per_epoch + 1)
    ]
    # Each step of an epoch saw its own batch; the last step's weights are the epoch's.
    inputs = [batch for _, _, batch, _ in steps]
    first, second = inputs[:per_epoch], inputs[per_epoch:]
    assert all(inputs) and len(set(first)) == per_epoch
    # tf.data reshuffles every epoch; Keras 3's fit on NumPy arrays (the reference model)
    # repeats one shuffled order in every epoch, as the trace shows.
    assert (first != second) is (experiment != "seed_card_mlp")
    assert steps[per_epoch - 1][3] == trace["epochs"][0] and steps[-1][3] == trace["epochs"][1]
