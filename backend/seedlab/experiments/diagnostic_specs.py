"""Catalog entries of the diagnostic experiments: one known randomness leak each (TF-free)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from seedlab.experiments.spec import ExperimentSpec
from seedlab.experiments.versioning import builtin_version


class LeakParams(BaseModel):
    """A small classifier whose only uncontrolled randomness is one known leak."""

    model_config = ConfigDict(extra="forbid")

    n_samples: int = Field(256, ge=32, le=100_000, description="rows of generated data")
    n_features: int = Field(12, ge=2, le=200, description="features")
    epochs: int = Field(3, ge=1, le=1000, description="training epochs")
    batch_size: int = Field(16, ge=1, le=10_000, description="batch size")
    data_seed: int = Field(0, ge=0, le=2**32 - 1, description="seeds the generated data")


VERSION = builtin_version("diagnostics.py")


def _leak(name: str, description: str) -> ExperimentSpec:
    return ExperimentSpec(
        name=name,
        version=VERSION,
        description=description,
        params_model=LeakParams,
        entrypoint=f"seedlab.experiments.diagnostics:train_{name}",
    )


# Ground truth for the audit: weights use op-level seeds and there is no dropout, so the leak
# is the only thing a missing control can expose.
DIAGNOSTIC: tuple[ExperimentSpec, ...] = (
    _leak(
        "leak_hash_vocab",
        "Feature vocabulary built by iterating a set of strings: its order follows the hash "
        "seed. Needs hash_seed.",
    ),
    _leak(
        "leak_python_shuffle",
        "Training rows shuffled with the global random.shuffle() in data loading (the source "
        "story). Needs python_seed.",
    ),
    _leak(
        "leak_parallel_map",
        "tf.data map adding noise from a random op, run in parallel with deterministic=False. "
        "Needs op_determinism.",
    ),
    _leak(
        "leak_unseeded_numpy_rng",
        "Train/validation split drawn from an unseeded np.random.default_rng(): no toggle can "
        "fix it.",
    ),
)
