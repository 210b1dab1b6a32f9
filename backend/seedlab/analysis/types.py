"""Plain-data inputs of the analysis functions (no database, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunData:
    """What analysis needs to know about one run."""

    run_id: int
    seed: int
    repeat: int
    status: str
    final_metrics: dict[str, float] = field(default_factory=dict)
    weights_checksum: str | None = None
    epoch_checksums: list[str] = field(default_factory=list)
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        """Only succeeded runs count in verdicts and spreads."""
        return self.status == "succeeded"
