"""The typed run spec: the claim answer's keys, and a malformed spec refused at each boundary
(run process, command supervisor, start-up hook) with the problems named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.profiles import resolve_profile
from seedlab.queue.schemas import RunAssignment
from seedlab.runner.starthook import EVENT_FD_ENV, HOOK_SPEC_ENV
from seedlab.runspec import RunSpec, RunSpecError

HOOK_DIR = Path(__file__).resolve().parent.parent / "backend" / "seedlab" / "runner" / "hook"
# The claim answer's keys before the spec was one model (README's REST section, agents of
# older versions): the spec's agent-side fields (datasets, ray) never reach it.
CLAIM_KEYS = {
    "run_id", "job_id", "attempt", "experiment", "params", "seed", "repeat", "profile",
    "lease_seconds", "gpus", "cpus", "order_seed", "split_seed",
}


def _spec(**changes: Any) -> RunSpec:
    fields: dict[str, Any] = {
        "run_id": 7,
        "attempt": 1,
        "experiment": "seed_card_mlp",
        "params": {},
        "seed": 42,
        "profile": resolve_profile("full"),
    }
    return RunSpec(**{**fields, **changes})


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, Database(settings.resolved_database_url()))
    with TestClient(app) as c:
        yield c


def test_the_claim_answer_keeps_its_keys_and_reads_back_as_the_spec(client: TestClient) -> None:
    agent = client.post("/api/v1/agent/register", json={"name": "a", "hostname": "h"})
    job = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "5:1x1"})
    assert agent.status_code == 201 and job.status_code == 201, (agent.text, job.text)
    answer = client.post("/api/v1/agent/claim", json={"agent_id": agent.json()["id"]}).json()
    assert set(answer) == CLAIM_KEYS
    spec = RunAssignment.model_validate(answer).only_spec()
    assert type(spec) is RunSpec and spec.seed == 5 and spec.profile == resolve_profile("full")
    assert RunSpec.parse(spec.model_dump_json()) == spec
    # A spec written before requires.cpus existed still reads back: one CPU per run.
    older = json.loads(spec.model_dump_json())
    del older["cpus"]
    assert RunSpec.parse(json.dumps(older)).cpus == 1


def test_agent_side_fields_travel_only_once_set() -> None:
    spec = _spec()
    assert "datasets" not in json.loads(spec.model_dump_json())
    located = spec.model_copy(update={"datasets": {"ab" * 32: "/tmp/x.csv"}})
    assert RunSpec.parse(located.model_dump_json()).datasets == {"ab" * 32: "/tmp/x.csv"}


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ('{"run_id": 7}', "seed: Field required"),
        (_spec().model_dump_json().replace('"seed":42', '"seed":"forty-two"'), "seed: Input"),
        (_spec().model_dump_json()[:-1] + ', "sed": 1}', "sed: Extra inputs are not permitted"),
        (_spec().model_dump_json().replace('"hash_seed":true', '"hash_seed":"x"'), "profile."),
        ("not json", "Invalid JSON"),
    ],
)
def test_a_malformed_spec_is_refused_naming_the_problem(raw: str, named: str) -> None:
    with pytest.raises(RunSpecError, match="malformed run spec") as refused:
        RunSpec.parse(raw)
    assert named in str(refused.value)


def _events(module: str, stdin: str) -> tuple[int, list[Any]]:
    """Run `python -m module --event-fd N` with stdin; its exit code and events."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--event-fd", str(write_fd)],
        pass_fds=[write_fd],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    os.close(write_fd)
    proc.communicate(stdin.encode(), timeout=120)
    with os.fdopen(read_fd) as pipe:
        return proc.returncode, [json.loads(line) for line in pipe if line.strip()]


@pytest.mark.parametrize("module", ["seedlab.runner.child", "seedlab.runner.command"])
def test_the_run_process_refuses_a_malformed_spec_with_an_error_event(module: str) -> None:
    code, events = _events(module, '{"run_id": 7, "seed": "x"}')
    assert code == 1
    assert [event["event"] for event in events] == ["error"]
    assert events[0]["error"].startswith("RunSpecError: malformed run spec")
    assert "seed: Input should be a valid integer" in events[0]["error"]


def test_the_start_up_hook_refuses_a_malformed_spec_before_the_script_runs(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    read_fd, write_fd = os.pipe()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HOOK_DIR), os.environ.get("PYTHONPATH", "")]),
        EVENT_FD_ENV: str(write_fd),
        HOOK_SPEC_ENV: json.dumps({"run": {"seed": 1}}),
    }
    proc = subprocess.run(
        [sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
        env=env,
        pass_fds=[write_fd],
        capture_output=True,
        timeout=120,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        events = [json.loads(line) for line in pipe if line.strip()]
    assert proc.returncode == 1 and not marker.exists(), proc.stderr
    assert [event["event"] for event in events] == ["error"]
    assert "malformed run spec" in events[0]["error"]
    assert "run.run_id: Field required" in events[0]["error"]
    assert "version: Field required" in events[0]["error"]
