"""CLI text for the seed science fields: seed lottery, warnings, probability of improvement."""

from __future__ import annotations

from typing import Any

import pytest

from seedlab.analysis.runwarnings import job_warnings, run_warnings
from seedlab.analysis.seedscience import prob_improvement, seed_lottery
from seedlab.cli.diagnosis import _print_comparison
from seedlab.cli.jobs import print_report


def test_status_text_shows_lottery_and_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    values = [0.80, 0.84, 0.82]
    report: dict[str, Any] = {
        "id": 7, "experiment": "seed_card_mlp", "seed_plan": "42:3x1", "profile_name": "full",
        "status": "succeeded", "verdict": "bitwise", "verdict_evidence": {"summary": "ok"},
        "metrics": {"val_accuracy": {"n": 3, "mean": 0.82, "std": 0.02, "ci95": None}},
        "seed_lottery": {"val_accuracy": seed_lottery(values)},
        "warnings": job_warnings([(1, run_warnings(first_batches=["a", "a"], where="fit"))]),
        "runs": [],
    }
    print_report(report)
    out = capsys.readouterr().out
    best = seed_lottery(values)["expected_best_of_k"][-1]
    assert f"best of 3 seeds: expected {best:.6g} vs 0.82 for one seed" in out
    assert "warning repeated_epoch_order (fit in 1 of 1 run(s) (#1))" in out


def test_compare_text_shows_probability_of_improvement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    improvement = prob_improvement([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 0.5, 3.0, 2.5, 5.0])
    sample = {"job_id": 1, "label": None, "experiment": "x", "seed_plan": "1:5x1",
              "profile_name": "full"}
    result: dict[str, Any] = {
        "sentence": "s", "a": sample, "b": {**sample, "job_id": 2}, "n_a": 5, "n_b": 5,
        "mean_a": 2.0, "mean_b": 2.4, "std_a": 1.0, "std_b": 1.0, "diff": 0.4,
        "ci95": [0.1, 0.7], "bootstrap": 100, "p_welch": 0.5, "p_mannwhitney": 0.5,
        "cohens_d": 0.4, "paired": True, "p_paired_t": 0.4, "p_wilcoxon": 0.4,
        "seeds_needed": 9, "prob_improvement": improvement.to_dict(),
        "conclusion": improvement.conclusion, "seeds_to_decide": improvement.seeds_to_decide,
    }
    _print_comparison(result)
    out = capsys.readouterr().out
    assert f"P(B > A) = {improvement.value:.3g}" in out
    assert f"inconclusive; about {improvement.seeds_to_decide} paired seeds" in out
