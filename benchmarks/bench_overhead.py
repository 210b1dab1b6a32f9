"""Per-run overhead with the zygote: from the claim request to the first epoch's report.

Usage: python benchmarks/bench_overhead.py [--runs 20]
Target: median under 0.2 s. The overhead is (claim sent -> first epoch reported) minus the first
epoch's own time as measured inside the run (which includes Keras' one-time graph tracing).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from common import median, report
from tests.livesystem import TOKEN, LiveSystem

from seedlab.agent.client import SeedlabClient
from seedlab.agent.worker import AgentWorker, _RunState


class TimedAgent(AgentWorker):
    """An agent that notes when it sent each claim and when each first epoch arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.samples: list[tuple[float, float]] = []
        self._claim_sent = 0.0
        self._first_seen: set[int] = set()

    def run_once(self) -> bool:
        """Claim and run one run, noting the time the claim was sent."""
        self._claim_sent = time.perf_counter()
        return super().run_once()

    def _buffer_epoch(self, state: _RunState, event: dict[str, Any]) -> None:  # type: ignore[override]
        if state.run_id not in self._first_seen:
            self._first_seen.add(state.run_id)
            total = time.perf_counter() - self._claim_sent
            self.samples.append((total, total - float(event["seconds"])))
        super()._buffer_epoch(state, event)


def main() -> None:
    """Run N reference-MLP runs through one in-process agent with a warm zygote."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveSystem(Path(tmp), lease_seconds=60)
        try:
            live.start_server()
            client = SeedlabClient(live.url, token=TOKEN)
            agent = TimedAgent(client, name="bench")
            with httpx.Client(base_url=live.url) as http:
                http.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "1:1x1"})
                agent.run_once()  # starts the zygote; not measured
                agent.samples.clear()
                http.post(
                    "/api/v1/jobs",
                    json={"experiment": "seed_card_mlp", "seeds": f"42:{args.runs}x1"},
                )
                for _ in range(args.runs):
                    agent.run_once()
            agent.executor.close()
            client.close()
        finally:
            live.stop()
    totals = [s[0] for s in agent.samples]
    overheads = [s[1] for s in agent.samples]
    report(
        "per-run overhead with a warm zygote (target: median < 0.2 s)",
        [
            ("runs measured", str(len(agent.samples))),
            ("claim sent -> first epoch reported", f"median {median(totals):.3f} s"),
            ("  minus the first epoch itself (overhead)", f"median {median(overheads):.3f} s"),
        ],
    )


if __name__ == "__main__":
    main()
