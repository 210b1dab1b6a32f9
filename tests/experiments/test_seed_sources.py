"""Declared seed sources: canonical order, the allowed names, the built-ins' declarations."""

from __future__ import annotations

import pytest

from seedlab.experiments.catalog import get_experiment
from seedlab.experiments.decorated import NoParams, experiment
from seedlab.experiments.spec import ExperimentSpec


def _spec(sources: object) -> ExperimentSpec:
    return ExperimentSpec(
        name="x", version="1", description="", params_model=NoParams, entrypoint="m:f",
        seed_sources=sources,  # type: ignore[arg-type]
    )  # fmt: skip


def test_sources_are_kept_in_canonical_order_and_default_to_init() -> None:
    assert _spec(("split", "init")).seed_sources == ("init", "split")
    assert _spec(["order", "init", "split"]).seed_sources == ("init", "order", "split")
    assert ExperimentSpec("x", "1", "", NoParams, "m:f").seed_sources == ("init",)


@pytest.mark.parametrize("sources", [("dropout", "init"), ("order",), "init"])
def test_bad_sources_name_what_is_allowed(sources: object) -> None:
    with pytest.raises(ValueError, match=r"\['init', 'order', 'split'\]"):
        _spec(sources)
    with pytest.raises(ValueError, match="seed_sources"):
        experiment(name="bad", seed_sources=sources)  # type: ignore[arg-type]


def test_builtins_declare_what_they_seed_separately() -> None:
    assert get_experiment("credit_risk_mlp").seed_sources == ("init", "order", "split")
    assert get_experiment("tabular_csv").seed_sources == ("init", "order", "split")
    assert get_experiment("digits_cnn").seed_sources == ("init", "order", "split")
    assert get_experiment("seed_card_mlp").seed_sources == ("init", "order")
    assert get_experiment("leak_hash_vocab").seed_sources == ("init",)
