"""A run as a Ray task: the same run-process code, on a Ray node.

Worker side. The agent (runner/raylauncher.py) submits one task per run with a runtime_env
carrying the profile's pre-import variables, so the Ray worker process was started with its
hash seed and oneDNN/thread variables in place, exactly like a cold spawn.

CPU runs (`run_warm`) reuse that worker: it keeps one zygote (runner/zygote.py, started by the
local runner's own Launcher from the worker's environment: the profile's pre-import
environment and the shipped code) and forks one child per run, so a run pays no TensorFlow
import and inherits no state from an earlier run, as on a local agent. GPU runs (`run_on_ray`)
run in a fresh worker (max_calls=1): a process that loaded CUDA cannot be forked.

The experiment code arrives as a content-hashed bundle (runner/raycode.py), unpacked once per
node. The run's events come back to the agent as the items of a streaming generator; the agent
sends them to the server over the agent protocol, fenced by attempt, as for local runs.
Never imports TensorFlow at module level.
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

from seedlab.runner.launcher import Launcher, RunHandle
from seedlab.runner.raycode import cache_root, materialise_bundle, node_environment
from seedlab.runspec import RunSpec

# The last item of the stream: the run process's exit code (not a RunEvent of the protocol).
EXIT_EVENT = "exit"
# The first item of a warm task's stream: how the run process was started on the node.
ISOLATION_EVENT = "isolation"
ISOLATION = "ray"
STDERR_TAIL = 4000

# The code a task needs: the bundle's sha256 and, in a list so Ray does not fetch it before
# the node knows whether it has the bundle unpacked already, its object reference.
CodeRef = tuple[str, list[Any]]


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


def code_environment(code: CodeRef | None, environ: dict[str, str]) -> dict[str, str]:
    """The environment with the experiment sources pointing at the shipped code on this node
    (unpacked once per node, checked by its sha256); unchanged when nothing was shipped."""
    if code is None:
        return dict(environ)
    sha256, refs = code
    folder = cache_root() / sha256
    if not folder.is_dir():
        import ray

        data: bytes = ray.get(refs[0])  # type: ignore[assignment]  # one ref, not a list
        folder = materialise_bundle(sha256, data)
    return node_environment(folder, environ)


def _payload(spec_json: str, datasets: dict[str, Any]) -> RunSpec:
    """The spec of the agent's JSON, with its data sets re-pointed on this node and where it
    runs (the fingerprint's `ray` section)."""
    return RunSpec.parse(spec_json).model_copy(
        update={"datasets": materialise_datasets(datasets), "ray": ray_node()}
    )


# One per warm Ray worker process: the Launcher (and its zygote) of the code and environment
# it last ran. A different one replaces it: a worker keeps one TensorFlow-holding zygote.
_warm: dict[str, Launcher] = {}
_warm_lock = threading.Lock()


def _launcher(env: dict[str, str]) -> Launcher:
    """This worker's launcher for the environment; the previous one (other code) is closed."""
    key = hashlib.sha256(json.dumps(sorted(env.items())).encode()).hexdigest()
    with _warm_lock:
        launcher = _warm.get(key)
        if launcher is None:
            for old in _warm.values():
                old.close()
            _warm.clear()
            launcher = _warm[key] = Launcher(base_env=env, max_zygotes=1)
        return launcher


def run_warm(
    spec_json: str, datasets: dict[str, Any], code: CodeRef | None
) -> Iterator[dict[str, Any]]:
    """Fork the run from this worker's zygote (or spawn it cold when its profile asks, as a
    local agent does); yield how it started, its events, then {"event": "exit", "code"}."""
    env = code_environment(code, dict(os.environ))
    handle: RunHandle = _launcher(env).start(_payload(spec_json, datasets))
    exit_code: int | None = None
    try:
        yield {
            "event": ISOLATION_EVENT,
            "isolation": handle.isolation,
            "reason": handle.isolation_reason,
            "pid": handle.pid,
        }
        yield from handle.events()
        exit_code = handle.wait()
    finally:
        if exit_code is None:  # the stream was closed (cancel): the run must not outlive it
            handle.kill()
            handle.wait()
    yield {
        "event": EXIT_EVENT,
        "code": exit_code,
        "stderr": handle.stderr_tail()[-STDERR_TAIL:] if exit_code else "",
    }


def run_on_ray(
    spec_json: str, datasets: dict[str, Any], code: CodeRef | None
) -> Iterator[dict[str, Any]]:
    """Run the spec in this (single-use) worker process; yield its events, then
    {"event": "exit", "code"}."""
    import sys

    from seedlab.runner.child import run_child

    env = code_environment(code, dict(os.environ))
    os.environ.update(env)  # the run process's settings: where the shipped sources are
    for folder in reversed(env.get("PYTHONPATH", "").split(os.pathsep)):
        if folder and folder not in sys.path:
            sys.path.insert(0, folder)
    run_spec = _payload(spec_json, datasets)
    read_fd, write_fd = os.pipe()
    outcome: dict[str, int] = {}

    def execute() -> None:
        outcome["code"] = run_child(run_spec, write_fd, ISOLATION)  # closes write_fd when done

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
