"""The Ray executor's factory: one agent for a whole Ray cluster, many runs in flight.

The agent's worker (agent/worker.py) claims as many runs as the cluster has free slots and runs
each in a thread of its own, with the same heartbeats, point batches and fenced finish as a
local run; runner/raylauncher.py submits each as a Ray task.
"""

from __future__ import annotations

import os
import socket

from seedlab.agent.executors import (
    AgentOptions,
    ExecutorOptionError,
    ExecutorUnavailable,
    Placement,
)


class RayFactory:
    """`seedlab agent --executor ray`: joins the cluster at --ray-address."""

    def check(self, options: AgentOptions) -> None:
        """A cluster address is needed; the cluster, not --concurrency or --gpus, decides."""
        if not (options.ray_address or options.settings.ray_address):
            raise ExecutorOptionError(
                "--executor ray needs --ray-address (or $SEEDLAB_RAY_ADDRESS): host:port of the "
                "Ray head, or 'auto' for the cluster started on this host"
            )
        if options.concurrency != 1 or options.gpus:
            raise ExecutorOptionError(
                "--concurrency and --gpus apply to the local executor; with --executor ray the "
                "cluster's free CPUs and its GPUs decide"
            )

    def build(self, options: AgentOptions) -> list[Placement]:
        """One worker for the cluster (a Ray worker starts its zygote with its first run)."""
        from seedlab.runner.raylauncher import RayLauncher, RayUnavailable

        address = options.ray_address or options.settings.ray_address
        assert address, "checked by check()"
        try:
            launcher = RayLauncher(address)
        except RayUnavailable as exc:
            raise ExecutorUnavailable(str(exc)) from None
        name = options.name or f"ray-{socket.gethostname()}-{os.getpid()}"
        return [Placement(name, launcher, warm=None)]
