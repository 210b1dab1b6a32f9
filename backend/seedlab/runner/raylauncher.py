"""Launch runs as Ray tasks on an existing Ray cluster (agent side; never imports TensorFlow).

Each run is one task of runner/raytask.py whose runtime_env carries the profile's pre-import
variables, so its Ray worker process starts with them. A CPU run goes to a warm worker of that
environment, which forks it from the zygote it keeps; a GPU run gets a fresh worker
(max_calls=1). The agent's experiment code travels with the task as a content-hashed bundle
(runner/raycode.py). Ray retries nothing (max_retries=0): the server's attempts are the one
retry mechanism, fenced like every other run.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from seedlab.experiments.loader import sources_from_env
from seedlab.profiles import Profile
from seedlab.runner.raycode import CodeBundle, build_bundle, plan
from seedlab.runspec import RunSpec

log = logging.getLogger("seedlab.agent.ray")

ISOLATION_REASON = "Ray task in a fresh worker process (max_calls=1)"
FORKED_REASON = (
    "Ray task: forked from the zygote that a long-lived Ray worker of this pre-import "
    "environment keeps on its node"
)
CLIENT_REFUSED = (
    "Ray Client addresses (ray://) are not supported: the Ray agent is a driver on a node of "
    "the cluster (it streams every run's events and cancels tasks by force). On the agent's "
    "machine run `ray start --address=HEAD:6379 --num-cpus=0`, then give --ray-address auto "
    "(or HEAD:6379)"
)
# Bundles the agent keeps in the object store (the newest ones; older code is not run again).
KEPT_BUNDLES = 4
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


def runtime_env(profile: Profile) -> dict[str, Any]:
    """The task's runtime_env: the profile's pre-import variables, set before Python starts.

    Nothing else: Ray reuses a worker only for tasks of the same runtime_env, so one warm
    worker (and its zygote) serves exactly one pre-import environment. The experiment sources
    travel as the code bundle, not as variables. A variable the profile removes (None) cannot
    be removed through a runtime_env; it is left out, and the run's applied profile and
    fingerprint record what the worker really had.
    """
    return {
        "env_vars": {
            name: value for name, value in profile.pre_import_env().items() if value is not None
        }
    }


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
        self.isolation_reason = ISOLATION_REASON

    def events(self) -> Iterator[dict[str, Any]]:
        """The run's events until the task ends (or is cancelled, or its worker is lost)."""
        import ray

        try:
            fetch = self._fetch or ray.get
            for ref in self._generator:
                event = fetch(ref)
                kind = event.get("event")
                if kind == "exit":
                    self._code = int(event["code"])
                    self._error = str(event.get("stderr") or "")
                    continue
                if kind == "isolation":  # a warm worker says how it started the run
                    self.isolation_reason = _reason(event)
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


def _reason(event: dict[str, Any]) -> str:
    """The run page's isolation reason for a run started by a warm Ray worker."""
    if event.get("isolation") == "fork":
        return FORKED_REASON
    why = event.get("reason") or "the profile asks for a fresh process"
    return f"Ray task: a fresh interpreter on its node ({why})"


class RayLauncher:
    """The Ray executor: submits runs to a Ray cluster and says how many it has room for."""

    def __init__(self, address: str, *, cpus_per_run: float = 1.0) -> None:
        if address.strip().lower().startswith("ray://"):
            raise RayUnavailable(CLIENT_REFUSED)
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
        from seedlab.runner.raytask import run_on_ray, run_warm

        # GPU runs: a fresh worker each (CUDA, once loaded, cannot be forked).
        self._task = ray.remote(max_calls=1, max_retries=0, num_returns="streaming")(run_on_ray)
        # CPU runs: workers live on and fork each run from their zygote.
        self._warm_task = ray.remote(max_retries=0, num_returns="streaming")(run_warm)
        # Code bundles by the stat of the files they were built from, and in the object store.
        self._bundle_key: tuple[Any, ...] | None = None
        self._bundle: CodeBundle | None = None
        self._refs: dict[str, Any] = {}
        # Each run in flight and the slots its task reserves (requires.cpus).
        self._reserved: list[tuple[RayRunHandle, int]] = []

    def resources(self) -> dict[str, float]:
        """The cluster's total resources now (nodes that died are no longer counted)."""
        import ray

        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
        return {k: float(v) for k, v in resources.items()}

    def slots(self) -> int:
        """How many runs the cluster can execute at once, given the runs in flight: the agent
        counts each of them as one slot, so a run that reserves more CPUs (requires.cpus)
        takes the difference from the total. A run claimed while its CPUs are busy waits in
        Ray's queue, heartbeating, until they free."""
        total = int(self.resources().get("CPU", 0.0) // self.cpus_per_run)
        with self._lock:
            self._reserved = [(h, cpus) for h, cpus in self._reserved if not h.finished]
            extra = sum(cpus - 1 for _handle, cpus in self._reserved)
        return max(0, total - extra)

    def cpus(self) -> int:
        """The CPUs advertised for one run: the most one node has, since a run cannot span
        nodes (the server hands out only runs with requires.cpus up to this)."""
        import ray

        cpus = [
            float(node.get("Resources", {}).get("CPU", 0.0))
            for node in ray.nodes()  # type: ignore[no-untyped-call]
            if node.get("Alive")
        ]
        return max(1, int(max(cpus, default=0.0)))

    def gpus(self) -> list[int]:
        """The cluster's GPUs, numbered 0..n-1 (Ray places each run on a node that has them)."""
        return list(range(int(self.resources().get("GPU", 0.0))))

    def describe(self) -> str:
        """The cluster as the agent's start-up line shows it."""
        return f"Ray cluster at {self.address}, {self.slots()} run slots, {len(self.gpus())} GPUs"

    def start(self, spec: RunSpec) -> RayRunHandle:
        """Submit the run as a Ray task with the job's resources and the profile's variables."""

        # The agent's data set files may not exist on the node that runs the task: ship them
        # (Ray keeps large arguments in its object store).
        contents = {sha: Path(path).read_bytes() for sha, path in spec.datasets.items()}
        # The spec's JSON as the run process reads it; its data sets are re-pointed on the node.
        payload = spec.model_copy(update={"datasets": {}}).model_dump_json()
        with self._lock:
            code = self.code()
            task = self._task if spec.gpus else self._warm_task
            generator = task.options(
                num_cpus=max(self.cpus_per_run, spec.cpus),
                num_gpus=spec.gpus,
                runtime_env=runtime_env(spec.profile),
                name=f"seedlab-run-{spec.run_id}-attempt-{spec.attempt}",
            ).remote(payload, contents, code)
            handle = RayRunHandle(generator)
            slots = max(self.cpus_per_run, spec.cpus) / self.cpus_per_run
            self._reserved.append((handle, max(1, int(slots))))
        return handle

    def code(self) -> tuple[str, list[Any]] | None:
        """The agent's experiment code as (sha256, [object ref]); None when there is none to
        ship (built-in experiments only). Built again when a file changed: a run executes the
        code as it is when the run starts, as on a local agent."""
        import ray

        _sources, files = plan(sources_from_env(os.environ), Path.cwd())
        if not files:
            return None
        key = tuple(sorted((name, *_stat(path)) for name, path in files.items()))
        if key != self._bundle_key or self._bundle is None:
            self._bundle = build_bundle(sources_from_env(os.environ), Path.cwd())
            self._bundle_key = key
        sha256 = self._bundle.sha256
        if sha256 not in self._refs:
            while len(self._refs) >= KEPT_BUNDLES:
                self._refs.pop(next(iter(self._refs)))
            self._refs[sha256] = ray.put(self._bundle.data)
        return sha256, [self._refs[sha256]]

    def warm(self, profile: Profile) -> int | None:
        """Nothing to warm ahead: a Ray worker starts its zygote with its first run."""
        return None

    def close(self) -> None:
        """Leave the cluster (running tasks are cancelled by Ray when their owner leaves)."""
        import ray

        ray.shutdown()


def _stat(path: Path) -> tuple[int, int]:
    """What tells a changed file: its mtime and size (-1 when it cannot be read)."""
    try:
        stat = path.stat()
    except OSError:
        return -1, -1
    return stat.st_mtime_ns, stat.st_size
