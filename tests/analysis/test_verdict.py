"""compute_verdict: exact comparisons of same-seed runs, per seed, with hand-made evidence."""

from __future__ import annotations

import json
import math

from seedlab.analysis.types import RunData
from seedlab.analysis.verdict import compute_verdict
from tests.factory import make_run

CURVES = {"loss": [(1, 0.7), (2, 0.5)], "val_auc": [(1, 0.6), (2, 0.8)]}
FINAL = {"loss": 0.5, "val_auc": 0.8}
EPOCHS = ["e1", "e2"]


def _twin(
    run_id: int,
    seed: int,
    repeat: int,
    *,
    status: str = "succeeded",
    final: dict[str, float] | None = None,
    weights: str | None = "w",
    epochs: list[str] | None = None,
    curves: dict[str, list[tuple[int, float]]] | None = None,
) -> RunData:
    """A run identical to every other _twin unless told otherwise."""
    return make_run(
        run_id,
        seed,
        repeat,
        status=status,
        final=FINAL if final is None else final,
        weights=weights,
        epochs=EPOCHS if epochs is None else epochs,
        curves=CURVES if curves is None else curves,
    )


def test_bitwise_when_every_repeated_seed_is_identical() -> None:
    runs = [_twin(1, 42, 0), _twin(2, 42, 1), _twin(3, 7, 0), _twin(4, 7, 1), _twin(5, 9, 0)]
    verdict = compute_verdict(runs)
    assert verdict.verdict == "bitwise"
    assert verdict.checked_seeds == 2  # seed 9 has a single run
    assert [s.seed for s in verdict.seeds] == [7, 42]
    seed42 = verdict.seeds[1]
    assert seed42.run_ids == [1, 2]
    assert seed42.weights_identical and seed42.metrics_identical
    assert seed42.max_abs_diff == {"loss": 0.0, "val_auc": 0.0}
    assert seed42.first_divergent_epoch is None


def test_nondeterministic_reports_first_divergent_epoch_and_exact_diff() -> None:
    other_curves = {"loss": [(1, 0.7), (2, 0.4000001)], "val_auc": [(1, 0.6), (2, 0.8)]}
    runs = [
        _twin(1, 42, 0),
        _twin(2, 42, 1, weights="other", epochs=["e1", "x2"], curves=other_curves),
    ]
    verdict = compute_verdict(runs)
    assert verdict.verdict == "nondeterministic"
    (seed,) = verdict.seeds
    assert not seed.weights_identical
    assert not seed.metrics_identical
    assert seed.first_divergent_epoch == 2
    # |0.5 - 0.4000001| at epoch 2 is the largest loss gap; val_auc never moved.
    assert seed.max_abs_diff == {"loss": abs(0.5 - 0.4000001), "val_auc": 0.0}
    assert "seed 42" in verdict.summary and "epoch 2" in verdict.summary


def test_a_divergence_located_before_training_is_epoch_0_in_the_verdict() -> None:
    runs = [_twin(1, 42, 0), _twin(2, 42, 1, weights="other", epochs=["x1", "x2"])]
    assert compute_verdict(runs).seeds[0].first_divergent_epoch == 1  # checksums alone
    verdict = compute_verdict(runs, located_epochs={42: 0})
    assert verdict.seeds[0].first_divergent_epoch == 0
    assert "already differ before training" in verdict.summary


def test_floats_are_compared_exactly_not_approximately() -> None:
    runs = [
        _twin(1, 1, 0, final={"loss": 0.1 + 0.2}),
        _twin(2, 1, 1, final={"loss": 0.3}),
    ]
    verdict = compute_verdict(runs)
    assert verdict.verdict == "nondeterministic"
    assert verdict.seeds[0].max_abs_diff["loss"] == (0.1 + 0.2) - 0.3 > 0


def test_within_tolerance_when_every_difference_is_tolerated() -> None:
    runs = [
        _twin(1, 1, 0),
        _twin(2, 1, 1, weights="w2", final={"loss": 0.5004, "val_auc": 0.8}),
    ]
    assert compute_verdict(runs, {"loss": 1e-3}).verdict == "within_tolerance"
    # Too tight a tolerance, or none at all, leaves the difference unexplained.
    assert compute_verdict(runs, {"loss": 1e-4}).verdict == "nondeterministic"
    assert compute_verdict(runs).verdict == "nondeterministic"
    assert compute_verdict(runs, {}).verdict == "nondeterministic"


def test_metrics_without_a_tolerance_must_be_identical() -> None:
    runs = [
        _twin(1, 1, 0),
        _twin(2, 1, 1, weights="w2", final={"loss": 0.5004, "val_auc": 0.8000001}),
    ]
    assert compute_verdict(runs, {"loss": 1e-3}).verdict == "nondeterministic"
    both = {"loss": 1e-3, "val_auc": 1e-6}
    assert compute_verdict(runs, both).verdict == "within_tolerance"


def test_tolerance_cannot_excuse_a_metric_logged_at_different_epochs() -> None:
    short = {"loss": [(1, 0.7)], "val_auc": [(1, 0.6), (2, 0.8)]}
    runs = [_twin(1, 1, 0), _twin(2, 1, 1, curves=short)]
    verdict = compute_verdict(runs, {"loss": 1.0, "val_auc": 1.0})
    assert verdict.verdict == "nondeterministic"
    (seed,) = verdict.seeds
    assert seed.weights_identical and not seed.metrics_identical
    assert seed.mismatched_metrics == ["loss"]
    assert seed.max_abs_diff["loss"] == 0.0  # the epochs both logged agree


def test_not_checked_with_one_run_per_seed() -> None:
    runs = [_twin(1, 1, 0), _twin(2, 2, 0), _twin(3, 3, 0)]
    verdict = compute_verdict(runs)
    assert verdict.verdict == "not_checked"
    assert verdict.checked_seeds == 0 and verdict.seeds == []
    assert compute_verdict([]).verdict == "not_checked"


def test_failed_and_unfinished_runs_are_ignored() -> None:
    runs = [
        _twin(1, 1, 0),
        _twin(2, 1, 1),
        _twin(3, 1, 2, status="failed", weights="broken", final={"loss": 9.0}),
        _twin(4, 1, 3, status="running", weights=None),
        _twin(5, 2, 0),
        _twin(6, 2, 1, status="cancelled", weights="x"),
    ]
    verdict = compute_verdict(runs)
    assert verdict.verdict == "bitwise"
    assert [(s.seed, s.run_ids) for s in verdict.seeds] == [(1, [1, 2])]
    only_failed_twins = [_twin(1, 1, 0), _twin(2, 1, 1, status="failed")]
    assert compute_verdict(only_failed_twins).verdict == "not_checked"


def test_missing_weights_checksum_is_not_identical() -> None:
    runs = [_twin(1, 1, 0, weights=None), _twin(2, 1, 1, weights=None)]
    verdict = compute_verdict(runs)
    assert verdict.verdict == "nondeterministic"
    assert not verdict.seeds[0].weights_identical
    assert verdict.seeds[0].metrics_identical


def test_final_metrics_count_in_the_difference() -> None:
    runs = [_twin(1, 1, 0), _twin(2, 1, 1, final={"loss": 0.5, "val_auc": 0.8, "acc": 0.5})]
    runs.append(_twin(3, 1, 2, final={"loss": 0.5, "val_auc": 0.8, "acc": 0.75}))
    (seed,) = compute_verdict(runs).seeds
    assert seed.max_abs_diff["acc"] == 0.25
    assert seed.mismatched_metrics == ["acc"]  # run 1 has no final acc


def test_largest_gap_is_between_extremes_not_against_the_first_run() -> None:
    runs = [
        _twin(1, 1, 0, final={"loss": 0.5}),
        _twin(2, 1, 1, final={"loss": 0.25}),
        _twin(3, 1, 2, final={"loss": 0.75}),
    ]
    (seed,) = compute_verdict(runs).seeds
    assert seed.max_abs_diff["loss"] == 0.5


def test_shorter_epoch_checksum_list_diverges_where_it_stops() -> None:
    runs = [_twin(1, 1, 0, epochs=["a", "b", "c"]), _twin(2, 1, 1, epochs=["a", "b"])]
    (seed,) = compute_verdict(runs).seeds
    assert seed.first_divergent_epoch == 3


def test_to_dict_is_strict_json_even_with_nan() -> None:
    nan_curves = {"loss": [(1, 0.7), (2, math.nan)], "val_auc": [(1, 0.6), (2, 0.8)]}
    same_nan = [_twin(1, 1, 0, curves=nan_curves), _twin(2, 1, 1, curves=nan_curves)]
    verdict = compute_verdict(same_nan)
    # The same divergence to NaN in both runs is still bit-identical.
    assert verdict.verdict == "bitwise"
    one_nan = [_twin(1, 1, 0), _twin(2, 1, 1, curves=nan_curves)]
    data = compute_verdict(one_nan).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["verdict"] == "nondeterministic"
    assert data["seeds"][0]["max_abs_diff"] == {"loss": None, "val_auc": 0.0}
    assert set(data) == {"verdict", "summary", "checked_seeds", "seeds"}
    assert set(data["seeds"][0]) >= {
        "seed",
        "run_ids",
        "weights_identical",
        "metrics_identical",
        "max_abs_diff",
        "first_divergent_epoch",
    }


def test_summary_is_one_sentence() -> None:
    cases = [
        [_twin(1, 1, 0)],
        [_twin(1, 1, 0), _twin(2, 1, 1)],
        [_twin(1, 1, 0), _twin(2, 1, 1, weights="x", epochs=["e1", "x"])],
    ]
    for runs in cases:
        summary = compute_verdict(runs).summary
        assert summary.endswith(".") and summary.count(". ") == 0, summary
