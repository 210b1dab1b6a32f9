"""The Ray-executor agent: one agent for a whole Ray cluster, many runs in flight."""

from __future__ import annotations

import logging
import threading
from typing import Any

from seedlab.agent.client import SeedlabClient
from seedlab.agent.worker import AgentWorker
from seedlab.queue.schemas import RunAssignment
from seedlab.runner.raylauncher import RayLauncher

log = logging.getLogger("seedlab.agent.ray")

# How long a stopping agent waits for its runs to report that they were interrupted.
DRAIN_SECONDS = 30.0


class RayAgentWorker(AgentWorker):
    """Claims as many runs as the cluster has free slots for; each executes as a Ray task.

    Every run goes through AgentWorker.execute in its own thread: the same heartbeats, point
    batches and fenced finish as a local run, with the Ray task in place of the run process.
    """

    def __init__(self, client: SeedlabClient, *, launcher: RayLauncher, **options: Any) -> None:
        super().__init__(
            client,
            launcher=launcher,
            warm_profile=None,  # a Ray worker starts its zygote with its first run
            # Per run, as for a local agent: the server hands out only runs that one node
            # can hold (requires.cpus); the cluster's total decides how many run at once.
            cpus=launcher.largest_node_cpus(),
            gpus=list(range(launcher.gpu_count())),
            **options,
        )
        self.ray = launcher
        # Each run's thread and the CPUs its task reserves (requires.cpus).
        self._inflight: list[tuple[threading.Thread, int]] = []

    def run_once(self) -> bool:
        """Start one more run when the cluster has a free slot; False when it has none or the
        queue is empty (the caller then waits a poll interval)."""
        self._inflight = [(thread, cpus) for thread, cpus in self._inflight if thread.is_alive()]
        # Read each time: a node that joins or dies changes the cluster's capacity. A run
        # claimed while its CPUs are busy waits in Ray's queue, heartbeating, until they free.
        if sum(cpus for _thread, cpus in self._inflight) >= self.ray.slots():
            return False
        assignment = self.claim()
        if assignment is None:
            return False
        thread = threading.Thread(
            target=self._execute, args=(assignment,), name=f"run-{assignment.run_id}", daemon=True
        )
        thread.start()
        self._inflight.append((thread, assignment.cpus))
        return True

    def _execute(self, assignment: RunAssignment) -> None:
        """One run's thread: a failure here must not pass silently (its lease then expires
        and the run is retried as the next attempt)."""
        try:
            self.execute(assignment)
        except Exception:
            log.exception(
                "run %s attempt %s: the agent failed", assignment.run_id, assignment.attempt
            )

    def drain(self) -> None:
        """After a stop: let each run cancel its task and report `interrupted` to the server."""
        for thread, _cpus in self._inflight:
            thread.join(DRAIN_SECONDS)
