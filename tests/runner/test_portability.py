"""Portability warnings from real runs: tiny Keras models, each with one trap, one epoch."""

from __future__ import annotations

from typing import Any

import pytest

from seedlab.analysis.portability import (
    NO_DETERMINISTIC_GPU_KERNEL,
    NONDETERMINISTIC_DATA_STAGE,
    NONDETERMINISTIC_GPU_KERNEL,
    ONEDNN_ENABLED,
    UNSEEDED_RANDOM_OP,
    XLA_COMPILED,
)
from seedlab.queue.schemas import RunFinished
from seedlab.runner.launcher import Launcher
from seedlab.runner.portability import inspect_fit
from tests.runner.support import RunResult, profile, run, spec

pytestmark = pytest.mark.tf

# oneDNN off: every warning of a run under QUIET comes from the trap under test.
QUIET = profile("full", onednn_off=True)
# No Python or TF seed and no op determinism: what a profile without them lets through.
LOOSE = profile("full", onednn_off=True, python_seed=False, tf_seed=False, op_determinism=False)

# trap -> (code, where) of every warning expected under QUIET.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "clean": [],
    "resize_nearest": [
        (
            NO_DETERMINISTIC_GPU_KERNEL,
            "backprop of layer upscale (Resizing): op ResizeNearestNeighborGrad",
        )
    ],
    "bincount": [(NO_DETERMINISTIC_GPU_KERNEL, "layer pixel_bins (Lambda): op DenseBincount")],
    "fused_batch_norm_inference": [
        (
            NO_DETERMINISTIC_GPU_KERNEL,
            "backprop of layer frozen_norm (Lambda): op FusedBatchNormGradV3",
        )
    ],
    # Op determinism is on: TensorFlow would pick its deterministic GPU kernel.
    "segment_sum": [],
    "parallel_map": [(NONDETERMINISTIC_DATA_STAGE, "tf.data stage 2: map() (deterministic=False)")],
    "options_not_deterministic": [
        (NONDETERMINISTIC_DATA_STAGE, "tf.data stage 3: map() (options.deterministic = False)")
    ],
    "parallel_interleave": [
        (NONDETERMINISTIC_DATA_STAGE, "tf.data stage 2: interleave() (deterministic=False)")
    ],
    # Keras turns compile(jit_compile=True) off under op determinism: nothing is compiled.
    "xla_model": [],
    "xla_function": [
        (XLA_COMPILED, "layer xla_square (Lambda): tf.function(jit_compile=True)")
    ],
    # Under full every seed derives from the seeded global state: nothing is unseeded.
    "unseeded": [],
}


def _probe(launcher: Launcher, trap: str, run_profile: Any = QUIET) -> RunResult:
    return run(launcher, spec("portability_probe", params={"trap": trap}, run_profile=run_profile))


def _found(result: RunResult) -> list[tuple[str, str]]:
    return [(w["code"], w["where"]) for w in result.done["warnings"]]


@pytest.mark.parametrize("trap", sorted(EXPECTED))
def test_each_trap_gives_its_warning_and_the_clean_model_none(
    launcher: Launcher, trap: str
) -> None:
    result = _probe(launcher, trap)
    assert _found(result) == EXPECTED[trap], result.done["warnings"]
    for warning in result.done["warnings"]:
        assert "What to do:" in warning["message"], warning
    # What the agent forwards from the done event is what the server's finish accepts.
    RunFinished(attempt=1, status="succeeded", warnings=result.done["warnings"])
    # Measured in the run process: one graph walk of a traced step is milliseconds.
    assert 0 < result.done["inspection_seconds"] < 1.0


def test_without_seeds_and_op_determinism_unseeded_atomic_and_xla_ops_show(
    launcher: Launcher,
) -> None:
    unseeded = _probe(launcher, "unseeded", LOOSE)
    assert _found(unseeded) == [
        (UNSEEDED_RANDOM_OP, "layer raw_noise (Lambda): op RandomStandardNormal"),
        (UNSEEDED_RANDOM_OP, "layer keras_noise (GaussianNoise)"),
        (UNSEEDED_RANDOM_OP, "layer head (Dense)"),
        (UNSEEDED_RANDOM_OP, "tf.data stage 2: shuffle()"),
        (UNSEEDED_RANDOM_OP, "tf.data stage 3: map() function: op RandomUniform"),
    ]
    segment = _probe(launcher, "segment_sum", LOOSE)
    assert _found(segment) == [
        (NONDETERMINISTIC_GPU_KERNEL, "layer segment_total (Lambda): op UnsortedSegmentSum")
    ]
    assert "op_determinism" in segment.done["warnings"][0]["message"]
    xla = _probe(launcher, "xla_model", LOOSE)
    assert _found(xla) == [(XLA_COMPILED, "model.compile(jit_compile=True)")]
    # The data stage warning says whether op determinism rescued this machine.
    loose_map = _probe(launcher, "parallel_map", LOOSE).done["warnings"][0]["message"]
    assert "Op determinism overrides it" not in loose_map
    strict_map = _probe(launcher, "parallel_map").done["warnings"][0]["message"]
    assert "Op determinism overrides it in this run" in strict_map


def test_onednn_warning_follows_what_tensorflow_reports(launcher: Launcher) -> None:
    result = _probe(launcher, "clean", profile("full"))
    onednn = result.applied["onednn"]
    expected = [ONEDNN_ENABLED] if onednn.startswith("on") else []
    assert [w["code"] for w in result.done["warnings"]] == expected, onednn
    if expected:
        assert result.done["warnings"][0]["where"] == f"TensorFlow oneDNN custom ops: {onednn}"
        assert "onednn_off" in result.done["warnings"][0]["message"]
        # And it matters: the same seed under `full` ends with other weights with oneDNN off.
        on = run(launcher, spec("credit_risk_mlp")).done["weights_checksum"]
        off = run(launcher, spec("credit_risk_mlp", run_profile=QUIET)).done["weights_checksum"]
        assert on != off
    # With the toggle, TensorFlow reports it off and the run has nothing to warn about.
    quiet = _probe(launcher, "clean")
    assert quiet.applied["onednn"].startswith("off") and quiet.done["warnings"] == []


def test_the_parallel_map_diagnostic_is_flagged_where_its_leak_is(launcher: Launcher) -> None:
    # The built-in diagnostic whose only leak is a deterministic=False map (its random op is
    # seeded): the warning names that stage and nothing else.
    result = run(launcher, spec("leak_parallel_map", params={"epochs": 1}, run_profile=QUIET))
    assert _found(result) == [
        (NONDETERMINISTIC_DATA_STAGE, "tf.data stage 2: map() (deterministic=False)")
    ]


def test_a_failing_inspection_costs_only_the_warnings_it_would_have_found(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        """A model whose layers and train function cannot be read; it did compile with XLA."""

        jit_compile = True

        def _flatten_layers(self, **_: Any) -> Any:
            raise RuntimeError("layers unreadable")

        @property
        def train_function(self) -> Any:
            raise RuntimeError("graph unreadable")

    found, seconds = inspect_fit(Broken(), None, op_determinism=False, python_seeded=True)
    assert [w["code"] for w in found] == [XLA_COMPILED] and seconds >= 0
    assert "_layers failed" in caplog.text and "_train_ops failed" in caplog.text
