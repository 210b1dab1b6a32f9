"""The executor seam: where an agent's runs execute, and the registry `--executor` reads.

An executor launches runs (`start`, giving a RunProcess whose `kill()` cancels the run), says
how many it executes at once (`slots`) and what the agent advertises for it (`cpus`, `gpus`).
`EXECUTORS` maps each name of `seedlab agent --executor NAME` to its entry: a help line and
the "module:attribute" of its factory, imported only when that executor is chosen (so Ray is
imported by `--executor ray` alone). The factory checks the agent's options before anything
starts and builds the agent's workers. Adding an executor = its module (the executor and its
factory) + one line in EXECUTORS. See docs/runner-protocol.md.
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from seedlab.config import Settings
from seedlab.profiles import Profile, resolve_profile
from seedlab.runspec import RunSpec


class RunProcess(Protocol):
    """What the agent needs of a started run, wherever it executes (here or on Ray)."""

    isolation: str
    isolation_reason: str | None
    # Set when the executor lost the run (a Ray worker or node died), not its own code: the
    # agent hands it back to the queue as its next attempt.
    lost_reason: str | None

    def events(self) -> Iterator[dict[str, Any]]:
        """The run's events until it stops talking."""
        ...

    def kill(self) -> None:
        """Cancel the run at once (user cancel, stale lease, agent stopping)."""
        ...

    def wait(self) -> int:
        """The exit code."""
        ...

    def stderr_tail(self) -> str:
        """The last output of a run that ended without a result."""
        ...


class Executor(Protocol):
    """Where an agent's runs execute: local processes (Launcher) or Ray tasks (RayLauncher)."""

    def slots(self) -> int:
        """How many runs it executes at once now (read before each claim)."""
        ...

    def cpus(self) -> int | None:
        """The CPUs the agent advertises for it (None: not said)."""
        ...

    def gpus(self) -> list[int]:
        """The GPU indices the agent advertises for it."""
        ...

    def describe(self) -> str | None:
        """A line for the agent's start-up output, or None."""
        ...

    def start(self, spec: RunSpec) -> RunProcess:
        """Launch the run."""
        ...

    def warm(self, profile: Profile) -> int | None:
        """Prepare for runs of this profile before the first claim; a pid started, or None."""
        ...

    def close(self) -> None:
        """Stop whatever the executor keeps running."""
        ...


class ExecutorOptionError(ValueError):
    """The agent's options do not fit the chosen executor (the CLI exits 2 with the message)."""


class ExecutorUnavailable(RuntimeError):
    """The executor cannot start here (Ray missing, cluster unreachable): the CLI exits 1."""


@dataclass(frozen=True)
class AgentOptions:
    """What `seedlab agent` was given, as an executor's factory reads it."""

    settings: Settings
    name: str | None = None
    concurrency: int = 1
    gpus: list[int] = field(default_factory=list)
    # Profile preset whose zygote starts with the agent; None for none.
    warm: str | None = None
    max_zygotes: int | None = None
    # --ray-address as given (None: not given; the Ray factory falls back on the settings).
    ray_address: str | None = None


@dataclass(frozen=True)
class Placement:
    """One worker of the agent: its name on pages, its executor, the preset it warms."""

    name: str
    executor: Executor
    warm: str | None = None


class ExecutorFactory(Protocol):
    """Checks an agent's options and builds its workers, for one executor."""

    def check(self, options: AgentOptions) -> None:
        """ExecutorOptionError when the options do not fit; nothing starts here."""
        ...

    def build(self, options: AgentOptions) -> list[Placement]:
        """The agent's workers; ExecutorUnavailable when the executor cannot start."""
        ...


@dataclass(frozen=True)
class ExecutorEntry:
    """One name of `--executor`: its help and where its factory lives."""

    help: str
    factory: str  # "module:attribute", imported when the executor is chosen

    def load(self) -> ExecutorFactory:
        """The factory (its module imported now)."""
        module, _, attribute = self.factory.partition(":")
        made: ExecutorFactory = getattr(importlib.import_module(module), attribute)()
        return made


EXECUTORS: dict[str, ExecutorEntry] = {
    "local": ExecutorEntry(
        "local processes forked from a zygote (--concurrency at once)",
        "seedlab.agent.executors:LocalFactory",
    ),
    "ray": ExecutorEntry(
        "Ray tasks on a Ray cluster (one agent claims as many runs as the cluster has free "
        "CPUs)",
        "seedlab.agent.rayworker:RayFactory",
    ),
}
DEFAULT_EXECUTOR = "local"


def resolve(name: str) -> ExecutorEntry:
    """The entry of this executor; ValueError listing the allowed names when there is none."""
    entry = EXECUTORS.get(name)
    if entry is None:
        allowed = ", ".join(repr(known) for known in EXECUTORS)
        raise ValueError(f"{name!r} is not one of {allowed}")
    return entry


def help_text() -> str:
    """What `--executor` says in `seedlab agent --help`: each name with its help."""
    return "where runs execute: " + "; ".join(
        f"'{name}': {entry.help}" for name, entry in EXECUTORS.items()
    )


class LocalFactory:
    """The local executor: --concurrency workers, each with its zygotes and share of --gpus."""

    def check(self, options: AgentOptions) -> None:
        """Refuse Ray's option, an unknown --warm preset and too few GPUs for --concurrency."""
        if options.ray_address is not None:
            raise ExecutorOptionError("--ray-address applies only with --executor ray")
        if options.warm:
            try:
                resolve_profile(options.warm)  # the one check of preset names, with its message
            except ValueError as exc:
                raise ExecutorOptionError(f"{exc}, or '' for none") from None
        if options.gpus and len(options.gpus) < options.concurrency:
            raise ExecutorOptionError(
                f"--concurrency {options.concurrency} needs at least {options.concurrency} GPUs "
                f"in --gpus (got {len(options.gpus)}): each worker gets its own"
            )

    def build(self, options: AgentOptions) -> list[Placement]:
        """One Launcher per worker, registered as NAME-i when there are several."""
        from seedlab.runner.launcher import Launcher

        base = options.name or f"{socket.gethostname()}-{os.getpid()}"
        count = options.concurrency
        cpus = max(1, (os.cpu_count() or 1) // count)
        placements = []
        for index in range(count):
            share = options.gpus[index::count]
            env = dict(os.environ)
            if options.gpus:
                # Pinned before the zygote imports TensorFlow: its runs see only these devices.
                env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in share)
            launcher = Launcher(
                max_zygotes=options.max_zygotes or options.settings.max_zygotes,
                copy_pages=options.settings.spare_copies_pages,
                base_env=env,
                cpus=cpus,
                gpus=share,
            )
            name = base if count == 1 else f"{base}-{index + 1}"
            placements.append(Placement(name, launcher, warm=options.warm or None))
        return placements
