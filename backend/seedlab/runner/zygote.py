"""The zygote: imports the heavy modules once, runs no TF op, forks a child per run.

Protocol on the control socket (a socketpair from the launcher):
  launcher -> zygote: 4-byte big-endian length + JSON spec, with fds [event_w, stderr_w] attached
  zygote -> launcher: JSON lines: {"ready", "fork_safe", "reason"} once, then per run
  {"pid": N} after the fork and {"exit": code} when the child ends.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
from typing import Any

PRELOAD = (
    "numpy",
    "tensorflow",
    "keras",
    "sklearn.datasets",
    "sklearn.model_selection",
    "sklearn.preprocessing",
    "seedlab.experiments.builtin",
    "seedlab.runner.setup",
    "seedlab.fingerprints.capture",
)


def fork_safety() -> tuple[bool, str | None]:
    """Forking after TF import is unsafe once a GPU runtime could be initialised in the parent."""
    import tensorflow as tf

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    has_gpu_device = any(name.startswith("nvidia") and name[6:].isdigit()
                         for name in os.listdir("/dev")) if os.path.isdir("/dev") else False
    if tf.test.is_built_with_cuda() and has_gpu_device and visible not in ("", "-1"):
        return False, "a CUDA GPU is visible; forking a process that loaded CUDA is unsafe"
    return True, None


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall((json.dumps(message) + "\n").encode())


def _receive(sock: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 2)
    if not data:
        return None
    (length,) = struct.unpack(">I", data[:4])
    body = data[4:]
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return json.loads(body), list(fds)


def serve(control_fd: int) -> None:
    """Preload, announce readiness, then fork one child per request until the launcher leaves."""
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    sock = socket.socket(fileno=control_fd)
    safe, reason = fork_safety()
    _send(sock, {"ready": True, "fork_safe": safe, "reason": reason})
    while True:
        request = _receive(sock)
        if request is None:
            return  # the launcher (agent) is gone
        spec, (event_fd, stderr_fd) = request
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sock.close()
                os.dup2(stderr_fd, 1)
                os.dup2(stderr_fd, 2)
                os.close(stderr_fd)
                from seedlab.runner.child import run_child

                code = run_child(spec, event_fd, "fork")
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(event_fd)
        os.close(stderr_fd)
        try:
            _send(sock, {"pid": pid})
            _, status = os.waitpid(pid, 0)
            _send(sock, {"exit": os.waitstatus_to_exitcode(status)})
        except BrokenPipeError:
            return  # the launcher is gone; the child ends on its own when its pipe breaks


def main() -> None:
    """Entry: `python -m seedlab.runner.zygote --control-fd N`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--control-fd", type=int, required=True)
    serve(parser.parse_args().control_fd)


if __name__ == "__main__":
    main()
