"""Launch runs as Ray tasks on an existing Ray cluster (agent side; never imports TensorFlow).

Each run is one task of runner/raytask.py in a fresh worker process (max_calls=1) whose
runtime_env carries the profile's pre-import variables; Ray retries nothing (max_retries=0):
the server's attempts are the one retry mechanism, fenced like every other run.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from seedlab.config import Settings, env_name
from seedlab.profiles import Profile
from seedlab.runner.launcher import command_project_dir
from seedlab.runspec import RunSpec

log = logging.getLogger("seedlab.agent.ray")

ISOLATION_REASON = "Ray task in a fresh worker process (max_calls=1)"
# Settings of the agent a Ray worker needs too: where user experiments live.
FORWARDED_SETTINGS = ("experiment_sources", "experiment_modules")
# A run's own code failing is RayTaskError; these mean the worker, its node or the cluster
# went away under the run, which is the executor's loss, not the run's failure.
LOST = (
    "WorkerCrashedError",
    "NodeDiedError",
    "LocalRayletDiedError",
    "ObjectLostError",
    "OwnerDiedError",
    "RaySystemError",
    "ObjectReconstructionFailedError",
    "TaskUnschedulableError",
    "RuntimeEnvSetupError",
    "OutOfMemoryError",
)


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def refuse_command_experiment(experiment: str, environ: Mapping[str, str]) -> None:
    """ValueError for a command experiment (a seedlab.toml script): it needs a fresh process
    started with seedlab's start-up hook in its project directory, which a Ray task is not."""
    if command_project_dir(experiment, environ) is not None:
        raise ValueError(
            f"{experiment} is a command experiment (seedlab.toml): the Ray executor runs "
            "training functions only; run command experiments on a local agent "
            "(`seedlab agent` without --executor ray)"
        )


def runtime_env(profile: Profile, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The task's runtime_env: the profile's pre-import variables, set before Python starts.

    A variable the profile removes (None) cannot be removed through a runtime_env; it is left
    out, and the run's applied profile and fingerprint record what the worker really had.
    """
    agent = Settings.from_environ(os.environ if environ is None else environ)
    variables = {
        env_name(field): value
        for field in FORWARDED_SETTINGS
        if (value := getattr(agent, field)) is not None
    }
    variables.update(
        {name: value for name, value in profile.pre_import_env().items() if value is not None}
    )
    return {"env_vars": variables}


class RayRunHandle:
    """A run executing as a Ray streaming-generator task: its events, exit code and cancel."""

    isolation = "ray"
    isolation_reason: str | None = ISOLATION_REASON

    def __init__(self, generator: Any, *, fetch: Callable[[Any], Any] | None = None) -> None:
        self._generator = generator
        # How an item of the stream becomes the event (ray.get; tests pass plain events).
        self._fetch = fetch
        self._code: int | None = None
        self._killed = False
        self._error = ""
        self.lost_reason: str | None = None

    def events(self) -> Iterator[dict[str, Any]]:
        """The run's events until the task ends (or is cancelled, or its worker is lost)."""
        import ray

        try:
            fetch = self._fetch or ray.get
            for ref in self._generator:
                event = fetch(ref)
                if event.get("event") == "exit":
                    self._code = int(event["code"])
                    continue
                yield event
        except ray.exceptions.TaskCancelledError:
            self._code = -9
        except ray.exceptions.RayTaskError as exc:  # raised in the task, outside run_child
            self._code, self._error = 1, str(exc)
        except ray.exceptions.RayError as exc:
            self._code, self._error = -9, str(exc)
            if type(exc).__name__ in LOST and not self._killed:
                self.lost_reason = f"the Ray worker running it was lost ({type(exc).__name__})"
                log.warning("%s: %s", self.lost_reason, exc)

    def kill(self) -> None:
        """Cancel the task and stop its worker process; harmless when it already ended."""
        import ray

        if self._code is None:
            self._killed = True
            try:
                ray.cancel(self._generator, force=True)
            except Exception:  # it ended between the check and the cancel
                log.debug("cancel of a finished Ray task", exc_info=True)

    def wait(self) -> int:
        """The exit code once the stream ended (-9: cancelled or lost)."""
        for _event in self.events():  # drain what the caller did not read
            pass
        return self._code if self._code is not None else -9

    @property
    def finished(self) -> bool:
        """Whether the task's stream has ended."""
        return self._code is not None

    def stderr_tail(self) -> str:
        """What Ray said about a task that ended without a result (the run's output stays in
        the Ray worker's log on its node)."""
        return self._error


class RayLauncher:
    """The Ray executor: submits runs to a Ray cluster and says how many it has room for."""

    def __init__(self, address: str, *, cpus_per_run: float = 1.0) -> None:
        try:
            import ray
        except ImportError:
            raise RayUnavailable("the Ray executor needs Ray: pip install 'seedlab[ray]'") from None
        self.address = address
        self.cpus_per_run = cpus_per_run
        self._lock = threading.Lock()
        try:
            ray.init(address=address, namespace="seedlab", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayUnavailable(f"cannot join the Ray cluster at {address!r}: {exc}") from None
        from seedlab.runner.raytask import run_on_ray

        self._task = ray.remote(max_calls=1, max_retries=0, num_returns="streaming")(run_on_ray)

    def resources(self) -> dict[str, float]:
        """The cluster's total resources now (nodes that died are no longer counted)."""
        import ray

        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
        return {k: float(v) for k, v in resources.items()}

    def slots(self) -> int:
        """How many runs the cluster can execute at once."""
        return int(self.resources().get("CPU", 0.0) // self.cpus_per_run)

    def cpus(self) -> int:
        """The CPUs advertised for the cluster: one run slot each."""
        return self.slots()

    def gpus(self) -> list[int]:
        """The cluster's GPUs, numbered 0..n-1 (Ray places each run on a node that has them)."""
        return list(range(int(self.resources().get("GPU", 0.0))))

    def describe(self) -> str:
        """The cluster as the agent's start-up line shows it."""
        return f"Ray cluster at {self.address}, {self.slots()} run slots, {len(self.gpus())} GPUs"

    def start(self, spec: RunSpec) -> RayRunHandle:
        """Submit the run as a Ray task with the job's resources and the profile's variables."""

        refuse_command_experiment(spec.experiment, os.environ)
        # The agent's data set files may not exist on the node that runs the task: ship them
        # (Ray keeps large arguments in its object store).
        contents = {sha: Path(path).read_bytes() for sha, path in spec.datasets.items()}
        # The spec's JSON as the run process reads it; its data sets are re-pointed on the node.
        payload = spec.model_copy(update={"datasets": {}}).model_dump_json()
        with self._lock:
            generator = self._task.options(
                num_cpus=self.cpus_per_run,
                num_gpus=spec.gpus,
                runtime_env=runtime_env(spec.profile),
                name=f"seedlab-run-{spec.run_id}-attempt-{spec.attempt}",
            ).remote(payload, contents)
        return RayRunHandle(generator)

    def warm(self, profile: Profile) -> int | None:
        """Nothing to warm: every run gets a fresh Ray worker."""
        return None

    def close(self) -> None:
        """Leave the cluster (running tasks are cancelled by Ray when their owner leaves)."""
        import ray

        ray.shutdown()
