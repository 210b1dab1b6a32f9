"""The agent: claims runs over HTTP, launches each through its executor, streams points back."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedlab import __version__
from seedlab.agent.client import ApiError, SeedlabClient, ServerUnreachable, StaleAttempt
from seedlab.agent.datasets import DatasetFetchError, cache_dir, fetch_for_run
from seedlab.agent.executors import Executor, RunProcess
from seedlab.agent.protocol import AgentApi
from seedlab.config import get_settings
from seedlab.profiles import resolve_profile
from seedlab.queue.schemas import (
    MAX_SOURCE_ERROR,
    AgentRegister,
    ClaimRequest,
    ExperimentAdvert,
    Heartbeat,
    PointsBatch,
    RunAssignment,
    RunEnd,
    RunFinished,
    RunStarted,
    SourceReport,
)
from seedlab.runner.events import RunEvent
from seedlab.runner.launcher import Launcher
from seedlab.runspec import RunSpec

if TYPE_CHECKING:
    from seedlab.experiments.inspect import CatalogReport

log = logging.getLogger("seedlab.agent")

TRACEBACK_TAIL = 4000
# How long a stopping agent waits for each run in flight to report that it was interrupted.
DRAIN_SECONDS = 30.0


@dataclass
class _RunState:
    """What the agent knows about the run it is executing (shared with the pump thread)."""

    run_id: int
    attempt: int
    lease_seconds: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (key, step, value) in arrival order; grouped per key only when a batch is sent.
    pending: list[tuple[str, int, float]] = field(default_factory=list)
    epoch: int | None = None
    epochs: int | None = None
    cancelled: bool = False
    stale: bool = False
    interrupted: bool = False
    applied: dict[str, Any] | None = None
    fingerprint: dict[str, Any] | None = None
    started_sent: bool = False
    handle: RunProcess | None = None

    def kill(self) -> None:
        """Stop the run process if it was launched already."""
        with self.lock:
            if self.handle is not None:
                self.handle.kill()


def as_series(points: list[tuple[str, int, float]]) -> list[dict[str, Any]]:
    """Group (key, step, value) points into the batch format: one series of arrays per key."""
    series: dict[str, dict[str, Any]] = {}
    for key, step, value in points:
        one = series.get(key)
        if one is None:
            one = series[key] = {"key": key, "steps": [], "values": []}
        one["steps"].append(step)
        one["values"].append(value)
    return list(series.values())


def advertisement(
    report: CatalogReport | None = None,
) -> tuple[list[ExperimentAdvert], list[SourceReport]]:
    """The experiments this agent can run and the sources they came from, for registration."""
    if report is None:
        # Loaded in a subprocess, as `seedlab agent` does: the agent imports no user code.
        from seedlab.experiments.inspect import InspectFailed, inspect_catalog
        from seedlab.experiments.loader import sources_from_env

        try:
            report = inspect_catalog(sources_from_env(), project_dir=Path.cwd())
        except InspectFailed as exc:
            return _builtin_only(str(exc))
    experiments = [ExperimentAdvert.model_validate(item) for item in report.experiments]
    sources = [
        SourceReport.model_validate({**status, "error": _clip(status.get("error"))})
        for status in report.sources
    ]
    return experiments, sources


def _clip(error: str | None) -> str | None:
    """An error short enough for the advertisement (the head names the problem)."""
    return None if error is None else error[:MAX_SOURCE_ERROR]


def _builtin_only(error: str) -> tuple[list[ExperimentAdvert], list[SourceReport]]:
    """Built-ins only, with the failure of the catalog loader as a failed source."""
    from seedlab.experiments.catalog import builtin_specs
    from seedlab.experiments.inspect import advert

    specs = builtin_specs()
    return (
        [ExperimentAdvert.model_validate(advert(spec)) for spec in specs],
        [
            SourceReport(source="builtin", ok=True, experiments=[spec.name for spec in specs]),
            SourceReport(source="experiment catalog", ok=False, error=_clip(error)),
        ],
    )


# Longest wait between attempts to reach a server that is away.
MAX_BACKOFF_SECONDS = 30.0


class AgentWorker:
    """One agent: runs as many runs at once as its executor has slots (more than one: threads)."""

    def __init__(
        self,
        client: SeedlabClient,
        *,
        name: str | None = None,
        executor: Executor | None = None,
        poll_interval: float = 0.25,
        flush_interval: float = 0.5,
        max_batch: int = 5000,
        warm_profile: str | None = None,
        dataset_cache: Path | None = None,
        catalog: CatalogReport | None = None,
        labels: list[str] | None = None,
    ) -> None:
        self.client = client
        self.api = AgentApi(client)
        # What `seedlab agent` loaded; None: loaded at registration, the same way.
        self.catalog = catalog
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.executor: Executor = executor or Launcher()
        self.poll_interval = poll_interval
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        # A preset whose zygote run_forever starts at once; None: started by the first run.
        self.warm_profile = warm_profile
        self.agent_id: int | None = None
        # Set by SIGTERM / Ctrl-C: the current run is stopped and handed back to the queue.
        self.stop = threading.Event()
        # Where uploaded data sets are cached on this host (None: <data dir>/cache/datasets).
        self.dataset_cache = dataset_cache
        # Capabilities sent at registration (with the executor's CPUs and GPUs); the server
        # hands out only runs they satisfy.
        self.labels = list(labels or [])
        self._inflight: list[threading.Thread] = []

    def register(self) -> int:
        """Announce this agent to the server."""
        experiments, sources = advertisement(self.catalog)
        reply = self.api.register(
            AgentRegister(
                name=self.name,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                experiments=experiments,
                sources=sources,
                cpus=self.executor.cpus(),
                gpus=self.executor.gpus(),
                labels=self.labels,
            )
        )
        self.agent_id = reply.id
        log.info("agent %s registered as %s", self.name, self.agent_id)
        return self.agent_id

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Claim and execute runs until stopped."""
        stop = self.stop = stop or self.stop
        if self.warm_profile is not None:
            threading.Thread(target=self._warm, name="warm-zygote", daemon=True).start()
        backoff = self.poll_interval
        try:
            while not stop.is_set():
                try:
                    worked = self.run_once()  # registers first, also after the server was away
                    backoff = self.poll_interval
                except ServerUnreachable as exc:
                    # The server is away (restart, network): wait longer each time, up to a cap.
                    backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF_SECONDS)
                    log.warning("%s; retrying in %.0f s", exc, backoff)
                    stop.wait(backoff)
                    continue
                if not worked:
                    stop.wait(self.poll_interval)
        finally:
            self.drain()
            self.executor.close()

    def drain(self) -> None:
        """After a stop: let each run in flight cancel itself and report `interrupted`."""
        for thread in self._inflight:
            thread.join(DRAIN_SECONDS)

    def _warm(self) -> None:
        """Start the default profile's zygote before the first claim, so the first job after
        the agent starts does not wait for TensorFlow to import."""
        assert self.warm_profile is not None
        try:
            pid = self.executor.warm(resolve_profile(self.warm_profile))
        except Exception:  # the first run will start it (or report why it cannot)
            log.exception("could not warm a zygote for profile %s", self.warm_profile)
            return
        if pid is not None:
            log.info("zygote %s warm for profile %s", pid, self.warm_profile)

    def run_once(self) -> bool:
        """Claim and execute a run when the executor has a free slot; False: no slot or no run."""
        self._inflight = [thread for thread in self._inflight if thread.is_alive()]
        # Read each time: a Ray node that joins or dies changes the cluster's capacity.
        slots = self.executor.slots()
        if len(self._inflight) >= slots:
            return False
        assignment = self.claim()
        if assignment is None:
            return False
        if slots == 1:
            self.execute(assignment)  # one at a time: to its end, here
            return True
        thread = threading.Thread(
            target=self._execute, args=(assignment,), name=f"run-{assignment.run_id}", daemon=True
        )
        thread.start()
        self._inflight.append(thread)
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

    def claim(self) -> RunAssignment | None:
        """Lease the next run this agent can execute (registering first); None when idle."""
        if self.agent_id is None:
            self.register()
        assert self.agent_id is not None
        return self.api.claim(ClaimRequest(agent_id=self.agent_id))

    def execute(self, assignment: RunAssignment) -> None:
        """Run one claimed attempt to its end and report it."""
        state = _RunState(
            run_id=assignment.run_id,
            attempt=assignment.attempt,
            lease_seconds=assignment.lease_seconds,
        )
        log.info("run %s attempt %s: seed %s", state.run_id, state.attempt, assignment.seed)
        spec = assignment.only_spec()
        started = time.monotonic()
        done = threading.Event()
        # Heartbeats start before the launch: starting a zygote can take longer than a lease.
        pump = threading.Thread(
            target=self._pump, args=(state, done), name=f"pump-{state.run_id}", daemon=True
        )
        pump.start()
        watcher = threading.Thread(
            target=self._watch_stop, args=(state, done), name=f"stop-{state.run_id}", daemon=True
        )
        watcher.start()
        try:
            spec = spec.model_copy(update={"datasets": self._fetch_datasets(spec)})
        except DatasetFetchError as exc:
            log.exception("could not fetch the data sets of run %s", state.run_id)
            done.set()
            pump.join()
            self._finish(state, status="failed", error=str(exc))
            return
        try:
            handle = self.executor.start(spec)
        except Exception as exc:  # a launch failure fails this run, not the agent
            log.exception("could not launch run %s", state.run_id)
            done.set()
            pump.join()
            self._finish(state, status="failed", error=f"could not start run process: {exc}")
            return
        with state.lock:
            state.handle = handle
            if state.cancelled or state.stale or state.interrupted:
                handle.kill()
        final: dict[str, Any] | None = None
        failure: dict[str, Any] | None = None
        try:
            for event in handle.events():
                kind = event.get("event")
                if kind == RunEvent.APPLIED:
                    state.applied = event["profile"]
                elif kind == RunEvent.FINGERPRINT:
                    state.fingerprint = {"hash": event["hash"], "data": event["data"]}
                elif kind == RunEvent.EPOCH:
                    self._buffer_epoch(state, event)
                elif kind == RunEvent.DONE:
                    final = event
                elif kind == RunEvent.ERROR:
                    failure = event
                if state.applied and state.fingerprint and not state.started_sent:
                    self._send_started(state, handle)
        finally:
            code = handle.wait()
            done.set()
            pump.join()
        if state.stale:
            log.warning("run %s attempt %s was taken over; dropped", state.run_id, state.attempt)
            return
        seconds = time.monotonic() - started
        if handle.lost_reason is not None and not state.cancelled:
            # The executor lost the run (a Ray node died): not the run's failure, so the
            # server puts it back in the queue as its next attempt, like a lost agent's.
            self._finish(state, status="interrupted", error=handle.lost_reason, seconds=seconds)
            return
        if state.interrupted:
            # Not a failure of the run: the server puts it back in the queue as its next
            # attempt (this attempt's points are not kept).
            self._finish(
                state, status="interrupted", error="agent stopped during the run", seconds=seconds
            )
            return
        self._flush(state)
        if state.cancelled:
            self._finish(state, status="cancelled", error="cancelled by user", seconds=seconds)
        elif final is not None and code == 0:
            self._finish(
                state,
                status="succeeded",
                final_metrics=final.get("final_metrics"),
                weights_checksum=final.get("weights_checksum"),
                epoch_checksums=final.get("epoch_checksums"),
                seconds_per_epoch=final.get("seconds_per_epoch"),
                phases=final.get("phases"),
                trace=final.get("trace"),
                warnings=final.get("warnings"),
                predictions=final.get("predictions"),
                seconds=seconds,
            )
        elif failure is not None:
            self._finish(
                state,
                status="failed",
                error=failure.get("error"),
                traceback=failure.get("traceback"),
                seconds=seconds,
            )
        else:
            self._finish(
                state,
                status="failed",
                error=f"run process exited with code {code} before reporting a result",
                traceback=handle.stderr_tail()[-TRACEBACK_TAIL:],
                seconds=seconds,
            )

    def _fetch_datasets(self, spec: RunSpec) -> dict[str, str]:
        """Download (or find cached) the data sets the run's parameters name."""
        if self.dataset_cache is None:
            self.dataset_cache = cache_dir(get_settings().data_dir)
        return fetch_for_run(self.client, spec.experiment, spec.params, self.dataset_cache)

    def _send_started(self, state: _RunState, handle: RunProcess) -> None:
        assert state.applied is not None and state.fingerprint is not None
        state.started_sent = True
        try:
            self.api.started(
                state.run_id,
                RunStarted(
                    attempt=state.attempt,
                    applied_profile=state.applied,
                    fingerprint_hash=state.fingerprint["hash"],
                    fingerprint=state.fingerprint["data"],
                    isolation=handle.isolation,
                    isolation_reason=handle.isolation_reason,
                    # The run process records the version of the spec it loaded.
                    experiment_version=(state.fingerprint["data"].get("experiment") or {}).get(
                        "version"
                    ),
                ),
            )
        except StaleAttempt:
            state.stale = True
            handle.kill()

    @staticmethod
    def _buffer_epoch(state: _RunState, event: dict[str, Any]) -> None:
        epoch = int(event["epoch"])
        with state.lock:
            state.pending.extend(
                (key, epoch, float(value)) for key, value in event["metrics"].items()
            )
            state.epoch = epoch
            state.epochs = event.get("epochs")

    def _flush(self, state: _RunState) -> None:
        """Send buffered points; they leave the buffer only once the server acknowledged them."""
        while not state.stale:
            with state.lock:
                batch = state.pending[: self.max_batch]
                epoch, epochs = state.epoch, state.epochs
            if not batch:
                return
            try:
                self.api.points(
                    state.run_id,
                    PointsBatch.model_validate(
                        {
                            "attempt": state.attempt,
                            "series": as_series(batch),
                            "epoch": epoch,
                            "epochs": epochs,
                        }
                    ),
                )
            except StaleAttempt:
                state.stale = True
                return
            with state.lock:
                del state.pending[: len(batch)]

    def _pump(self, state: _RunState, done: threading.Event) -> None:
        """Background: flush points and heartbeat until the run process ends."""
        beat_every = max(0.5, state.lease_seconds / 3)
        next_beat = 0.0
        while not done.wait(self.flush_interval):
            try:
                self._flush(state)
                now = time.monotonic()
                if now >= next_beat:
                    next_beat = now + beat_every
                    with state.lock:
                        epoch, epochs = state.epoch, state.epochs
                    reply = self.api.heartbeat(
                        state.run_id, Heartbeat(attempt=state.attempt, epoch=epoch, epochs=epochs)
                    )
                    if reply.cancel and not state.cancelled:
                        state.cancelled = True
                        state.kill()
            except StaleAttempt:
                state.stale = True
                state.kill()
                return
            except ServerUnreachable as exc:
                log.warning("run %s: %s", state.run_id, exc)
            except ApiError as exc:
                if exc.status_code < 500:
                    raise
                # The server cannot write (507: its disk is full) or is failing: keep the
                # points buffered and beating; the reaper waits out such an outage.
                log.warning("run %s: %s", state.run_id, exc)

    def _watch_stop(self, state: _RunState, done: threading.Event) -> None:
        """Background: kill the run process as soon as the agent is told to stop."""
        while not done.wait(0.2):
            if self.stop.is_set():
                with state.lock:
                    state.interrupted = True
                state.kill()
                return

    def _finish(self, state: _RunState, *, status: RunEnd, **fields: Any) -> None:
        payload = RunFinished(attempt=state.attempt, status=status, **fields)
        try:
            self.api.finish(state.run_id, payload)
        except StaleAttempt:
            log.warning("run %s attempt %s: finish refused (stale)", state.run_id, state.attempt)
        log.info("run %s attempt %s: %s", state.run_id, state.attempt, status)
