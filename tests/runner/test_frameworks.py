"""PyTorch and Keras 3 on JAX through the real launcher and start-up hook (CPU, no seedlab
import in the scripts): the control table's torch/jax/keras rows applied and recorded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedlab.runner.launcher import Launcher
from tests.conftest import require_frameworks
from tests.runner.support import RunResult, profile, run, spec

REPO = Path(__file__).resolve().parents[2]
TORCH_EXAMPLE = REPO / "examples" / "torch_script"
KERAS_JAX_EXAMPLE = REPO / "examples" / "keras_jax"

require_frameworks()


@pytest.fixture(scope="module")
def launcher() -> Iterator[Launcher]:
    """A launcher whose run processes import this worktree's seedlab."""
    pythonpath = os.pathsep.join(
        filter(None, [str(REPO / "backend"), str(REPO), os.environ.get("PYTHONPATH")])
    )
    shared = Launcher(base_env={**os.environ, "PYTHONPATH": pythonpath})
    yield shared
    shared.close()


def _in(directory: Path, launcher: Launcher, experiment: str, preset: str, seed: int,
        params: dict[str, object]) -> RunResult:
    before = Path.cwd()
    os.chdir(directory)
    try:
        return run(launcher, spec(experiment, seed=seed, params=params,
                                  run_profile=profile(preset)))
    finally:
        os.chdir(before)


def _checksums(result: RunResult) -> list[str]:
    assert result.exit_code == 0, (result.events, result.handle.stderr_tail())
    return [event["weights_checksum"] for event in result.epochs]


def test_torch_script_is_bitwise_under_full_and_not_under_none(launcher: Launcher) -> None:
    params = {"epochs": 2, "learning_rate": 0.05, "device": "cpu"}
    full = [_in(TORCH_EXAMPLE, launcher, "torch_script", "full", 42, params) for _ in range(2)]
    none = [_in(TORCH_EXAMPLE, launcher, "torch_script", "none", 42, params) for _ in range(2)]
    assert _checksums(full[0]) == _checksums(full[1]) and len(_checksums(full[0])) == 2
    assert _checksums(none[0])[-1] != _checksums(none[1])[-1]
    other_seed = _in(TORCH_EXAMPLE, launcher, "torch_script", "full", 43, params)
    assert _checksums(other_seed)[-1] != _checksums(full[0])[-1]

    how = full[0].applied["how"]
    assert how["torch_seed"].startswith("start-up hook: torch.manual_seed(seed)")
    assert "use_deterministic_algorithms(True)" in how["torch_deterministic"]
    assert "torch.Generator().manual_seed(seed)" in how["torch_loader_seed"]
    assert "allow_tf32=False" in how["torch_tf32_off"]
    assert "torch.set_num_threads(1)" in how["single_thread"]
    assert how["tf_seed"] == "not applied: the script never imported TensorFlow"
    assert how["xla_deterministic"] == "not applied: the script never imported JAX"
    assert none[0].applied["how"]["torch_deterministic"] == "off"
    # The fingerprint reads PyTorch's flags back, and the GPU section without TensorFlow.
    fingerprint = full[0].fingerprint["data"]
    flags = fingerprint["frameworks"]["torch"]
    assert flags["deterministic_algorithms"] is True and flags["cudnn_benchmark"] is False
    assert flags["threads"] == 1 and flags["tf32_matmul"] is False
    assert none[0].fingerprint["data"]["frameworks"]["torch"]["deterministic_algorithms"] is False
    assert fingerprint["tensorflow"] is None
    import torch

    if not torch.cuda.is_available():
        assert fingerprint["gpu"]["note"] == "no GPU" and fingerprint["gpu"]["devices"] == []


def test_keras_on_jax_is_bitwise_under_full_and_not_under_none(launcher: Launcher) -> None:
    params = {"epochs": 2, "learning_rate": 0.01}
    full = [_in(KERAS_JAX_EXAMPLE, launcher, "keras_jax", "full", 42, params) for _ in range(2)]
    none = [_in(KERAS_JAX_EXAMPLE, launcher, "keras_jax", "none", 42, params) for _ in range(2)]
    assert full[0].done["weights_checksum"] == full[1].done["weights_checksum"]
    assert len(full[0].epochs) == 2
    assert none[0].done["weights_checksum"] != none[1].done["weights_checksum"]

    how = full[0].applied["how"]
    assert "--xla_gpu_deterministic_ops=true" in how["xla_deterministic"]
    assert how["keras_seed"].startswith("Keras' global random seed set")
    assert how["keras_fit"].startswith("keras.Model.fit patched")
    assert how["tf_seed"] == "not applied: the script never imported TensorFlow"
    fingerprint = full[0].fingerprint["data"]
    jax_state = fingerprint["frameworks"]["jax"]
    assert "--xla_gpu_deterministic_ops=true" in jax_state["xla_flags"]
    assert fingerprint["frameworks"]["keras"]["backend"] == "jax"
    # The script never imported TensorFlow (the hook must not import it for Keras on JAX).
    assert fingerprint["tensorflow"] is None
