"""The executor seam: `--executor` resolves through the registry, an unknown name is refused
with the allowed ones, and an executor registered with one line runs a job's runs through the
ordinary agent against a real server."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from seedlab.agent import executors
from seedlab.agent.client import SeedlabClient
from seedlab.agent.executors import (
    AgentOptions,
    ExecutorEntry,
    ExecutorOptionError,
    Placement,
)
from seedlab.agent.worker import AgentWorker
from seedlab.cli import app
from seedlab.config import Settings
from seedlab.experiments.inspect import CatalogReport
from seedlab.profiles import Profile
from seedlab.runner.canonical import fingerprint_hash
from seedlab.runspec import RunSpec
from tests.factory import fingerprint
from tests.livesystem import TOKEN, LiveSystem


def test_the_registry_resolves_the_local_and_the_ray_executor() -> None:
    assert list(executors.EXECUTORS) == ["local", "ray"]
    assert type(executors.resolve("local").load()).__name__ == "LocalFactory"
    assert type(executors.resolve("ray").load()).__name__ == "RayFactory"


def test_an_unknown_executor_is_refused_with_the_allowed_names() -> None:
    with pytest.raises(ValueError, match=r"'slurm' is not one of 'local', 'ray'"):
        executors.resolve("slurm")
    result = CliRunner().invoke(
        app, ["agent", "--server", "http://127.0.0.1:9", "--executor", "slurm"]
    )
    assert result.exit_code == 2, result.output
    assert "'slurm' is not one of 'local', 'ray'" in " ".join(result.output.split())


def test_the_help_lists_every_registered_executor() -> None:
    result = CliRunner().invoke(app, ["agent", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.output.replace("│", " ").split())  # the help box's borders out
    assert "[local|ray]" in text
    for name, entry in executors.EXECUTORS.items():
        assert f"'{name}': {entry.help}" in text


def test_choosing_the_local_executor_never_imports_ray() -> None:
    code = (
        "import sys; from seedlab.agent import executors; from seedlab.config import Settings;"
        "f = executors.resolve('local').load();"
        "f.check(executors.AgentOptions(settings=Settings(), warm=None));"
        "executors.resolve('ray').load();"  # the Ray factory's module, not Ray itself
        "print('ray' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_each_executor_checks_its_options() -> None:
    settings = Settings(ray_address=None)
    local = executors.resolve("local").load()
    with pytest.raises(ExecutorOptionError, match="applies only with --executor ray"):
        local.check(AgentOptions(settings=settings, ray_address="auto"))
    with pytest.raises(ExecutorOptionError, match="needs at least 2 GPUs"):
        local.check(AgentOptions(settings=settings, concurrency=2, gpus=[0]))
    ray = executors.resolve("ray").load()
    with pytest.raises(ExecutorOptionError, match="needs --ray-address"):
        ray.check(AgentOptions(settings=settings))
    ray.check(AgentOptions(settings=settings, ray_address="auto"))


def test_the_local_workers_copy_spare_pages_only_when_the_setting_asks() -> None:
    local = executors.resolve("local").load()
    for asked in (False, True):
        options = AgentOptions(settings=Settings(spare_copies_pages=asked), concurrency=2)
        placements = local.build(options)  # launchers only: no zygote starts before a run
        assert [p.executor.copy_pages for p in placements] == [asked, asked]  # type: ignore[attr-defined]
        for placement in placements:
            placement.executor.close()


# A toy executor: it "trains" inside the agent's own process, with a weights checksum that is
# a function of the seeds alone, and runs up to two runs at once.


def toy_weights(seed: int) -> str:
    """The toy's weights checksum: the seed's alone."""
    return hashlib.sha256(f"toy/{seed}".encode()).hexdigest()


class ToyRun:
    """A run of the toy executor: the events a run process would send, then exit 0."""

    isolation = "process"  # one of the isolations the agent protocol knows
    isolation_reason: str | None = "the toy executor runs in the agent"
    lost_reason: str | None = None

    def __init__(self, spec: RunSpec, executor: ToyExecutor) -> None:
        self.spec = spec
        self.executor = executor

    def events(self) -> Iterator[dict[str, Any]]:
        """applied, fingerprint, two epochs, done."""
        with self.executor.lock:
            self.executor.running += 1
            self.executor.most = max(self.executor.most, self.executor.running)
        try:
            weights = toy_weights(self.spec.seed)
            data = fingerprint({"experiment.name": self.spec.experiment})
            yield {"event": "applied", "profile": {"seed": self.spec.seed}}
            yield {"event": "fingerprint", "hash": fingerprint_hash(data), "data": data}
            for epoch in (1, 2):
                time.sleep(0.2)  # long enough for the agent to claim the next run meanwhile
                yield {"event": "epoch", "epoch": epoch, "epochs": 2, "metrics": {"loss": 0.5}}
            yield {
                "event": "done",
                "final_metrics": {"loss": 0.5},
                "weights_checksum": weights,
                "epoch_checksums": [weights, weights],
            }
        finally:
            with self.executor.lock:
                self.executor.running -= 1

    def kill(self) -> None:
        """Nothing runs outside the events generator."""

    def wait(self) -> int:
        """Always a clean exit."""
        return 0

    def stderr_tail(self) -> str:
        """No output."""
        return ""


class ToyExecutor:
    """Two slots, three CPUs and GPU 5 advertised; records the specs it was given."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.specs: list[RunSpec] = []
        self.running = 0
        self.most = 0
        self.closed = False

    def slots(self) -> int:
        return 2

    def cpus(self) -> int | None:
        return 3

    def gpus(self) -> list[int]:
        return [5]

    def describe(self) -> str | None:
        return "toy executor, 2 slots"

    def start(self, spec: RunSpec) -> ToyRun:
        self.specs.append(spec)
        return ToyRun(spec, self)

    def warm(self, profile: Profile) -> int | None:
        return None

    def close(self) -> None:
        self.closed = True


class ToyFactory:
    """The toy's factory: refuses --concurrency (it has slots), builds one worker."""

    def check(self, options: AgentOptions) -> None:
        if options.concurrency != 1:
            raise ExecutorOptionError("the toy executor decides its own concurrency")

    def build(self, options: AgentOptions) -> list[Placement]:
        return [Placement(options.name or "toy", ToyExecutor())]


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy, registered with one line."""
    monkeypatch.setitem(
        executors.EXECUTORS, "toy", ExecutorEntry("in the agent", f"{__name__}:ToyFactory")
    )


@pytest.mark.usefixtures("toy")
def test_a_registered_executor_is_an_executor_name_of_the_cli() -> None:
    result = CliRunner().invoke(
        app, ["agent", "--server", "http://127.0.0.1:9", "--executor", "toy", "--concurrency", "2"]
    )
    assert result.exit_code == 2, result.output
    assert "the toy executor decides its own concurrency" in " ".join(result.output.split())


@pytest.mark.usefixtures("toy")
def test_a_registered_executor_runs_a_job_through_the_agent(tmp_path: Path) -> None:
    live = LiveSystem(tmp_path)
    live.start_server()
    factory = executors.resolve("toy").load()
    options = AgentOptions(settings=Settings(), name="toy-agent")
    factory.check(options)
    (placement,) = factory.build(options)
    client = SeedlabClient(live.url, token=TOKEN)
    builtins = CatalogReport(experiments=[], sources=[])
    worker = AgentWorker(client, name=placement.name, executor=placement.executor,
                         catalog=builtins, poll_interval=0.05)
    stop = threading.Event()
    loop = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    try:
        with httpx.Client(base_url=live.url, timeout=30) as http:
            job = http.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "3:2x2"})
            assert job.status_code == 201, job.text
            loop.start()
            deadline = time.monotonic() + 120
            report: dict[str, Any] = {}
            while time.monotonic() < deadline:
                report = http.get(f"/api/v1/jobs/{job.json()['id']}/report").json()
                if report["status"] not in ("queued", "running"):
                    break
                time.sleep(0.2)
            agents = http.get("/api/v1/agents").json()
    finally:
        stop.set()
        loop.join(60)
        client.close()
        live.stop()
    assert report["status"] == "succeeded", (report, live.logs())
    for run in report["runs"]:
        assert run["status"] == "succeeded" and run["attempt"] == 1
        assert run["weights_checksum"] == toy_weights(run["seed"])
    assert sorted(run["seed"] for run in report["runs"]) == [3, 3, 4, 4]
    executor = placement.executor
    assert isinstance(executor, ToyExecutor)
    # Every run reached the executor as the typed spec, claimed two at a time at most.
    assert sorted(s.seed for s in executor.specs) == [3, 3, 4, 4]
    assert all(type(s) is RunSpec and s.profile.name == "full" for s in executor.specs)
    assert 1 <= executor.most <= 2 and executor.closed
    (registered,) = [a for a in agents if a["name"] == "toy-agent"]
    assert (registered["cpus"], registered["gpus"]) == (3, [5])
