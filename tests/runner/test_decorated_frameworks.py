"""Decorated experiments in PyTorch, JAX and Keras on the JAX and PyTorch backends, through the
real launcher (examples/decorated_frameworks): controls applied on import, ctx's seeded
generators, ctx.log on a torch module and a JAX pytree, Keras' fit hook on every backend."""

from __future__ import annotations

import sys

import pytest

from seedlab.analysis.runwarnings import MACHINE_CODES
from seedlab.runner.launcher import OTHER_KERAS_BACKEND, Launcher
from tests.conftest import require_frameworks
from tests.runner.support import RunResult, profile, run, spec

require_frameworks()
pytestmark = pytest.mark.tf  # trains models

SMALL = {"epochs": 2, "samples": 128}


def _checksums(result: RunResult) -> list[str]:
    assert result.exit_code == 0, (result.events, result.handle.stderr_tail())
    checksums = [event["weights_checksum"] for event in result.epochs]
    assert all(checksums) and result.done["weights_checksum"] == checksums[-1]
    return checksums


def test_a_decorated_torch_experiment_gets_the_torch_controls_and_reports_with_ctx_log(
    launcher: Launcher,
) -> None:
    forked = [run(launcher, spec("torch_mlp", seed=42, params=SMALL)) for _ in range(2)]
    cold = run(
        launcher,
        spec("torch_mlp", seed=42, params=SMALL, run_profile=profile("full", isolation="process")),
    )
    other = run(launcher, spec("torch_mlp", seed=43, params=SMALL))
    assert len(_checksums(forked[0])) == 2
    # Bit for bit: forked twice and cold-spawned; another seed moves the weights.
    assert _checksums(forked[0]) == _checksums(forked[1]) == _checksums(cold)
    assert _checksums(other)[-1] != _checksums(forked[0])[-1]
    assert forked[0].handle.isolation == "fork" and cold.handle.isolation == "process"

    how = forked[0].applied["how"]
    # Worded for a catalog run: the run process applied them, not a script's start-up hook.
    assert how["torch_seed"].startswith("torch.manual_seed(seed) (CPU and every CUDA device) by")
    assert how["python_seed"] == "random.seed(seed) by the run process before the experiment"
    assert how["tf_data_seed"].startswith("the experiment's shuffles take the run's order seed")
    assert not any("start-up hook" in text for text in how.values()), how
    assert "use_deterministic_algorithms(True)" in how["torch_deterministic"]
    assert how["keras_seed"].startswith("not applied: Keras runs on TensorFlow here")
    flags = forked[0].fingerprint["data"]["frameworks"]["torch"]
    assert flags["deterministic_algorithms"] is True and flags["threads"] == 1
    phases = forked[0].done["phases"]
    training = sum(event["seconds"] for event in forked[0].epochs)
    assert phases["training"] == pytest.approx(training) and phases["setup"] > 0
    # ctx.log(model=module): a per-module trace, as a Keras model gets per layer.
    assert forked[0].done["data_hash"] and forked[0].done["epoch_checksums"] == _checksums(cold)


def test_a_decorated_jax_experiment_is_bitwise_from_ctx_jax_key(launcher: Launcher) -> None:
    first, second = (run(launcher, spec("jax_mlp", seed=7, params=SMALL)) for _ in range(2))
    other = run(launcher, spec("jax_mlp", seed=8, params=SMALL))
    assert _checksums(first) == _checksums(second)
    assert _checksums(other)[-1] != _checksums(first)[-1]
    assert "--xla_cpu_multi_thread_eigen=false" in first.applied["how"]["single_thread"]
    assert first.fingerprint["data"]["frameworks"]["jax"]["backend"] == "cpu"


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_keras_fit_reports_on_the_jax_and_torch_backends(launcher: Launcher, backend: str) -> None:
    on_backend = profile("full", env={"KERAS_BACKEND": backend})
    results = [
        run(launcher, spec("keras_any_backend", seed=42, params=SMALL, run_profile=on_backend))
        for _ in range(2)
    ]
    assert len(_checksums(results[0])) == 2
    assert _checksums(results[0]) == _checksums(results[1])
    # The zygote's Keras runs on TensorFlow: these runs start fresh interpreters, and say why.
    assert results[0].handle.isolation == "process"
    assert results[0].handle.isolation_reason == OTHER_KERAS_BACKEND.format(backend=backend)
    fingerprint = results[0].fingerprint["data"]
    assert fingerprint["frameworks"]["keras"]["backend"] == backend
    assert results[0].applied["how"]["keras_seed"].startswith("Keras' global random seed set")


def test_ctx_generators_follow_their_seed_source() -> None:
    import io
    import os

    import jax
    import numpy as np
    import torch

    from seedlab.runner.context import RunContext, layer_checksums, weights_checksum
    from seedlab.runner.events import EventWriter

    read, write = os.pipe()
    ctx = RunContext(seed=1, shuffle_seed=None, events=EventWriter(write), order_seed=2)
    os.close(read)
    assert ctx.torch_generator().initial_seed() == 2  # "order" by default
    assert ctx.torch_generator("init").initial_seed() == 1
    assert np.array_equal(ctx.numpy_rng("split").random(3), np.random.default_rng(1).random(3))
    assert np.array_equal(np.asarray(ctx.jax_key()), np.asarray(jax.random.PRNGKey(1)))
    with pytest.raises(ValueError, match="allowed are"):
        ctx.seed_for("weights")
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    names, checksums = layer_checksums(module)
    assert names == ["0", "1"] and len(set(checksums)) == 2
    before = weights_checksum(module)
    with torch.no_grad():
        module[0].weight[0, 0] += 1e-7  # one weight, one ulp-scale change
    assert weights_checksum(module) != before
    pytree = {"b": np.zeros(2, np.float32), "a": [np.ones(3, np.float32)]}
    assert layer_checksums(pytree)[0] == ["a", "b"]
    with pytest.raises(TypeError, match="PyTorch module"):
        weights_checksum(io.StringIO())


def test_a_backend_chosen_after_keras_was_loaded_fails_the_run_saying_where_to_set_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    from seedlab.runner.child import check_keras_backend

    loaded = types.SimpleNamespace(backend=types.SimpleNamespace(backend=lambda: "tensorflow"))
    monkeypatch.setitem(sys.modules, "keras", loaded)
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    check_keras_backend()  # what was asked for is what runs
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    with pytest.raises(RuntimeError, match=r'environment instead .*"KERAS_BACKEND": "jax"'):
        check_keras_backend()


def test_a_decorated_torch_experiment_gets_portability_warnings_from_its_first_step(
    launcher: Launcher,
) -> None:
    upsampled = run(launcher, spec("torch_portability_probe", params={"upsample": True}))
    plain = run(launcher, spec("torch_portability_probe", params={"upsample": False}))
    # The model's warnings; a fact of the machine (oneDNN on by default on a CPU with
    # AVX512-VNNI, from the zygote's TensorFlow) is not the experiment's.
    warnings = [w for w in upsampled.done["warnings"] if w["code"] not in MACHINE_CODES]
    assert [(w["code"], w["where"]) for w in warnings] == [
        ("no_deterministic_cuda_kernel", "op aten.upsample_bilinear2d_backward")
    ], warnings
    assert [w for w in plain.done["warnings"] if w["code"] not in MACHINE_CODES] == []
    # The recorder is the scripts' one (runner/torchops.py): tests/runner/test_torchops.py shows
    # weights bit-identical with and without it.
    assert len(_checksums(upsampled)) == 2
