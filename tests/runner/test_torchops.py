"""PyTorch portability warnings through the real launcher and start-up hook (CPU): the aten ops
of the first optimizer step, recorded without changing a single weight."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seedlab.analysis.torchportability import (
    NO_DETERMINISTIC_CUDA_KERNEL,
    NONDETERMINISTIC_CUDA_KERNEL,
)
from seedlab.runner.launcher import Launcher
from seedlab.runner.starthook import TORCH_OPS_ENV
from tests.conftest import require_frameworks
from tests.runner.support import RunResult, profile, run, spec

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "tests" / "torch_project"
TORCH_EXAMPLE = REPO / "examples" / "torch_script"

require_frameworks()


def _launcher(**env: str) -> Launcher:
    pythonpath = os.pathsep.join(
        filter(None, [str(REPO / "backend"), str(REPO), os.environ.get("PYTHONPATH")])
    )
    return Launcher(base_env={**os.environ, "PYTHONPATH": pythonpath, **env})


@pytest.fixture(scope="module")
def launcher() -> Iterator[Launcher]:
    """A launcher whose run processes import this worktree's seedlab."""
    shared = _launcher()
    yield shared
    shared.close()


def _in(directory: Path, launcher: Launcher, experiment: str, params: dict[str, Any],
        preset: str = "full") -> RunResult:
    before = Path.cwd()
    os.chdir(directory)
    try:
        return run(launcher, spec(experiment, params=params, run_profile=profile(preset)))
    finally:
        os.chdir(before)


def _codes(result: RunResult) -> list[tuple[str, str]]:
    return [(w["code"], w["where"]) for w in result.done["warnings"]]


def test_interpolate_backprop_is_named_and_a_plain_net_is_not(launcher: Launcher) -> None:
    upsampled = _in(PROJECT, launcher, "torch_middle", {"middle": "bilinear"})
    assert _codes(upsampled) == [
        (NO_DETERMINISTIC_CUDA_KERNEL, "op aten.upsample_bilinear2d_backward")
    ]
    message = upsampled.done["warnings"][0]["message"]
    assert "F.interpolate" in message and "does not have a deterministic implementation" in message
    # The same net without the upsampling, trained the same way: nothing to warn about.
    plain = _in(PROJECT, launcher, "torch_middle", {"middle": "none"})
    assert plain.done["warnings"] == []
    # No torch.optim optimizer (a hand-written update): recorded until the script ended.
    manual = _in(PROJECT, launcher, "torch_middle",
                 {"middle": "bilinear", "optimizer": "manual"})
    assert _codes(manual) == _codes(upsampled)


def test_atomic_kernels_warn_only_without_torch_deterministic(launcher: Launcher) -> None:
    # gather's backprop is a scatter_add: deterministic on CUDA only when asked for.
    loose = _in(PROJECT, launcher, "torch_middle", {"middle": "gather"}, preset="seeds_only")
    assert _codes(loose) == [(NONDETERMINISTIC_CUDA_KERNEL, "op aten.scatter_add")]
    assert "torch_deterministic" in loose.done["warnings"][0]["message"]
    strict = _in(PROJECT, launcher, "torch_middle", {"middle": "gather"}, preset="full")
    assert strict.done["warnings"] == []


def test_recording_leaves_the_weights_bit_identical(launcher: Launcher) -> None:
    params = {"epochs": 2, "learning_rate": 0.05, "device": "cpu"}
    recorded = _in(TORCH_EXAMPLE, launcher, "torch_script", params)
    off = _launcher(**{TORCH_OPS_ENV: "0"})
    try:
        unrecorded = _in(TORCH_EXAMPLE, off, "torch_script", params)
    finally:
        off.close()
    checksums = [[e["weights_checksum"] for e in r.epochs] for r in (recorded, unrecorded)]
    assert checksums[0] == checksums[1] and len(checksums[0]) == 2
    # The example trains Linear layers with BCE: no op of it lacks a deterministic CUDA kernel.
    assert recorded.done["warnings"] == unrecorded.done["warnings"] == []
    # With bilinear upsampling, the recording's own run and one without it match too.
    upsampled = _in(PROJECT, launcher, "torch_middle", {"middle": "bilinear"})
    off = _launcher(**{TORCH_OPS_ENV: "0"})
    try:
        plain = _in(PROJECT, off, "torch_middle", {"middle": "bilinear"})
    finally:
        off.close()
    assert upsampled.done["weights_checksum"] == plain.done["weights_checksum"]
    assert plain.done["warnings"] == []


def test_every_watched_name_is_an_aten_op_of_this_torch() -> None:
    import torch

    from seedlab.analysis.torchportability import WATCHED_OPS

    missing = [name for name in sorted(WATCHED_OPS) if not hasattr(torch.ops.aten, name)]
    assert missing == []
