"""A test-only experiment plugin, loaded through SEEDLAB_EXPERIMENT_MODULES (TF-free here)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from seedlab.experiments.catalog import ExperimentSpec


class FlakyParams(BaseModel):
    """Trains the reference MLP, but raises for one seed."""

    model_config = ConfigDict(extra="forbid")

    fail_seed: int = Field(-1, description="the seed whose run raises")
    epochs: int = Field(2, ge=1, le=100)


def train(params: FlakyParams, ctx: Any) -> None:
    """Fail on purpose for fail_seed, otherwise train the reference model."""
    from seedlab.experiments.builtin import train_seed_card_mlp
    from seedlab.experiments.catalog import SeedCardParams

    if ctx.seed == params.fail_seed:
        raise ValueError(f"deliberate failure for seed {ctx.seed}")
    train_seed_card_mlp(SeedCardParams(epochs=params.epochs), ctx)


EXPERIMENTS = [
    ExperimentSpec(
        name="flaky_test",
        version="1",
        description="test plugin: the reference MLP that raises for one seed",
        params_model=FlakyParams,
        entrypoint="tests.plugin_experiments:train",
    )
]
