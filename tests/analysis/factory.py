"""A terse RunData builder for the analysis and chart tests."""

from __future__ import annotations

from seedlab.analysis.types import RunData


def make_run(
    run_id: int,
    seed: int,
    repeat: int = 0,
    *,
    status: str = "succeeded",
    final: dict[str, float] | None = None,
    weights: str | None = "w",
    epochs: list[str] | None = None,
    curves: dict[str, list[tuple[int, float]]] | None = None,
) -> RunData:
    """A run with sensible defaults: succeeded, checksum "w", no epochs, no curves."""
    return RunData(
        run_id=run_id,
        seed=seed,
        repeat=repeat,
        status=status,
        final_metrics=dict(final or {}),
        weights_checksum=weights,
        epoch_checksums=list(epochs or []),
        curves=dict(curves or {}),
    )
