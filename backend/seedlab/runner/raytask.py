"""A run as a Ray task: the same run-process code, inside a fresh Ray worker process.

Worker side. The agent (runner/raylauncher.py) submits `run_on_ray` with max_calls=1 and a
runtime_env carrying the profile's pre-import variables, so the worker process was started
for this run with its hash seed and oneDNN/thread variables in place, exactly like a cold
spawn. The run's events come back to the agent as the items of a streaming generator; the
agent sends them to the server over the agent protocol, fenced by attempt, as for local runs.
Never imports TensorFlow at module level: run_child imports it after the profile is applied.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seedlab.runspec import RunSpec

# The last item of the stream: the run process's exit code (not a RunEvent of the protocol).
EXIT_EVENT = "exit"
ISOLATION = "ray"


def ray_node() -> dict[str, Any]:
    """Where this task runs, for the fingerprint: Ray's version, node id and the host."""
    import ray

    context = ray.get_runtime_context()
    return {
        "version": ray.__version__,
        "node_id": context.get_node_id(),
        "hostname": socket.gethostname(),
        "worker_pid": os.getpid(),
    }


def materialise_datasets(contents: dict[str, Any]) -> dict[str, str]:
    """Write each data set the agent shipped (sha256 -> bytes) to a node-local file.

    The agent's cache is on its own host; a Ray worker may be on another one. Each file is
    checked against its sha256 so a run never trains on bytes other than the job's.
    """
    if not contents:
        return {}
    folder = Path(tempfile.gettempdir()) / "seedlab-ray-datasets"
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    for sha256, data in contents.items():
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"data set {sha256[:12]} arrived corrupted on this Ray node")
        target = folder / sha256
        if not target.exists():
            partial = target.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(data)
            partial.replace(target)  # atomic: a concurrent run on this node sees all or nothing
        paths[sha256] = str(target)
    return paths


def run_on_ray(spec_json: str, datasets: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Run the spec's JSON in this worker; yield its events, then {"event": "exit", "code"}."""
    from seedlab.runner.child import run_child

    spec = RunSpec.parse(spec_json).model_copy(
        update={"datasets": materialise_datasets(datasets), "ray": ray_node()}
    )
    read_fd, write_fd = os.pipe()
    outcome: dict[str, int] = {}

    def execute() -> None:
        outcome["code"] = run_child(spec, write_fd, ISOLATION)  # closes write_fd when done

    # The generator must yield from the task's thread, so the run trains on another one; TF
    # and Keras do not mind, and nothing else runs in this single-use worker.
    runner = threading.Thread(target=execute, name="seedlab-run", daemon=True)
    runner.start()
    with os.fdopen(read_fd, "r", encoding="utf-8") as pipe:
        for line in pipe:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                yield event
    runner.join()
    yield {"event": EXIT_EVENT, "code": outcome.get("code", 1)}
