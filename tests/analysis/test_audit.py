"""The audit report on fixed data."""

from __future__ import annotations

from seedlab.analysis.audit import BASELINE, AuditRun, audit_report, env_variant, without
from seedlab.analysis.types import RunData

_ids = iter(range(1, 10_000))


def _run(
    variant: str,
    checksum: str,
    loss: float,
    *,
    status: str = "succeeded",
    seconds: float = 1.0,
    data_hash: str = "d",
    error: str | None = None,
) -> AuditRun:
    data = RunData(
        run_id=next(_ids),
        seed=42,
        repeat=0,
        status=status,
        final_metrics={"loss": loss} if status == "succeeded" else {},
        weights_checksum=checksum if status == "succeeded" else None,
        epoch_checksums=[checksum] if status == "succeeded" else [],
        curves={"loss": [(1, loss)]} if status == "succeeded" else {},
    )
    return AuditRun(
        data=data, variant=variant, seconds_per_epoch=seconds, data_hash=data_hash, error=error
    )


def _pair(
    variant: str, a: tuple[str, float], b: tuple[str, float], seconds: float = 1.0
) -> list[AuditRun]:
    return [_run(variant, *a, seconds=seconds), _run(variant, *b, seconds=seconds)]


def test_culprits_are_the_toggles_whose_removal_breaks_bit_equality() -> None:
    runs = [
        *_pair(BASELINE, ("w", 0.5), ("w", 0.5), seconds=2.0),
        *_pair(without("python_seed"), ("x", 0.5), ("y", 0.75)),
        *_pair(without("op_determinism"), ("w", 0.5), ("w", 0.5), seconds=1.5),
        _run(without("tf_seed"), "", 0, status="failed", error="RuntimeError: needs a seed"),
        _run(without("tf_seed"), "", 0, status="failed", error="RuntimeError: needs a seed"),
    ]
    report = audit_report(runs, ["python_seed", "op_determinism", "tf_seed"])
    assert report["baseline_bitwise"] is True and report["complete"] is True
    assert report["culprits"] == ["python_seed", "tf_seed"]
    python = report["toggles"]["python_seed"]
    assert python["breaks_bitwise"] is True and python["max_abs_diff"]["loss"] == 0.25
    assert python["first_divergence"]["epoch"] == 1
    assert python["first_divergence"]["traced"] is False  # no traces given: the epoch alone
    determinism = report["toggles"]["op_determinism"]
    assert determinism["breaks_bitwise"] is False
    assert (determinism["seconds_per_epoch_on"], determinism["seconds_per_epoch_off"]) == (2.0, 1.5)
    assert report["toggles"]["tf_seed"]["error"] == "RuntimeError: needs a seed"
    assert "relies on: python_seed, tf_seed" in report["conclusion"]


def test_nondeterministic_baseline_blames_no_toggle_and_points_at_the_data() -> None:
    runs = [
        _run(BASELINE, "a", 0.5, data_hash="d1"),
        _run(BASELINE, "b", 0.6, data_hash="d2"),
        *_pair(without("python_seed"), ("c", 0.1), ("e", 0.2)),
    ]
    report = audit_report(runs, ["python_seed"])
    assert report["baseline_bitwise"] is False
    assert report["culprits"] == []
    assert report["baseline"]["data_differs"] is True
    assert "no single toggle" in report["conclusion"]


def test_environment_matrix_flags_variants_that_change_results() -> None:
    off, on = (
        env_variant({"TF_ENABLE_ONEDNN_OPTS": "0"}),
        env_variant({"TF_ENABLE_ONEDNN_OPTS": "1"}),
    )
    runs = [
        *_pair(BASELINE, ("w", 0.5), ("w", 0.5)),
        *_pair(off, ("p", 0.5), ("p", 0.5)),
        *_pair(on, ("q", 0.5), ("q", 0.5)),
    ]
    report = audit_report(runs, [])
    rows = {row["variant"]: row for row in report["env_matrix"]}
    assert rows["TF_ENABLE_ONEDNN_OPTS=0"]["changes_results"] is True
    assert rows["TF_ENABLE_ONEDNN_OPTS=1"]["weights_checksum"] == "q"
    same = audit_report(
        [
            *_pair(BASELINE, ("w", 0.5), ("w", 0.5)),
            *_pair(off, ("p", 0.5), ("p", 0.5)),
            *_pair(on, ("p", 0.5), ("p", 0.5)),
        ],
        [],
    )
    assert not any(row["changes_results"] for row in same["env_matrix"])


def test_incomplete_audit_says_so() -> None:
    report = audit_report([_run(BASELINE, "w", 0.5)], ["python_seed"])
    assert report["complete"] is False
    assert report["baseline_bitwise"] is None
    assert report["toggles"]["python_seed"]["breaks_bitwise"] is None
