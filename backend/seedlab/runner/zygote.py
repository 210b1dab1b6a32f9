"""The zygote: imports the heavy modules once, runs no TF op, forks a child per run.

Started by the launcher as `python -m seedlab.runner.zygote --control-fd N [--copy-pages]`, in
the pre-import environment of one profile. Protocol on the control socket (a socketpair from
the launcher):
  launcher -> zygote: 4-byte big-endian length + RunSpec JSON, with fds [event_w, stderr_w]
                      attached (SCM_RIGHTS)
  zygote -> launcher: JSON lines: {"ready": true, "fork_safe": bool, "reason": str|null} once,
                      then per request {"pid": N} after the fork and {"pid": N, "exit": code}
                      when that child ended (or {"error": str} for a malformed request).
Requests are served one at a time: an agent runs one run at a time. The next run's child is
forked ahead (a Spare) while the current one runs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import signal
import socket
import struct
import sys
from typing import Any, NoReturn

from seedlab.lifetime import die_with_parent

# Imported once here so each forked run starts warm. None of them may run a TF op at import:
# thread pools and op determinism must still be settable in the child.
PRELOAD = (
    "numpy",
    "tensorflow",
    "keras",
    "sklearn.datasets",
    "sklearn.model_selection",
    "sklearn.preprocessing",
    "seedlab.experiments.builtin",
    "seedlab.experiments.diagnostics",
    "seedlab.runner.child",
    "seedlab.runner.setup",
    "seedlab.runner.fingerprint",
)
MAX_FDS = 2
HEADER = struct.Struct(">I")
PR_SET_PDEATHSIG = 1


def fork_safety() -> tuple[bool, str | None]:
    """Whether forking this process is safe, judged without initialising CUDA."""
    import tensorflow as tf

    # Asking TF for its GPUs would initialise CUDA here, and a process that did that cannot be
    # forked safely; so look for the device nodes instead.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    try:
        nvidia_nodes = [n for n in os.listdir("/dev") if n.removeprefix("nvidia").isdigit()]
    except OSError:
        nvidia_nodes = []
    if tf.test.is_built_with_cuda() and nvidia_nodes and visible not in ("", "-1"):
        return False, "a CUDA GPU is visible: a process that loaded CUDA cannot be forked safely"
    return True, None


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall((json.dumps(message) + "\n").encode())


def _receive(sock: socket.socket) -> tuple[bytes, list[int]] | None:
    """One request (the spec's JSON, read by the run, and its fds); None: the launcher left."""
    data, fds, _flags, _address = socket.recv_fds(sock, 1 << 16, MAX_FDS)
    try:
        while len(data) < HEADER.size:
            if not (more := sock.recv(HEADER.size - len(data))):
                raise EOFError
            data += more
        (length,) = HEADER.unpack_from(data)
        body = data[HEADER.size :]
        while len(body) < length:
            if not (more := sock.recv(length - len(body))):
                raise EOFError
            body += more
    except EOFError:
        for fd in fds:
            os.close(fd)
        return None
    return body, list(fds)


def _die_with_parent(zygote_pid: int) -> None:
    """Have the kernel SIGKILL this child if the zygote dies, so no run outlives its zygote."""
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere runs may linger
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != zygote_pid:  # the zygote died before prctl took effect
        os._exit(1)


def _run_forked(
    sock: socket.socket, spec: bytes, event_fd: int, stderr_fd: int, zygote_pid: int
) -> NoReturn:
    """Child side of the fork: run the spec and leave without running the zygote's cleanup."""
    code = 1
    try:
        sock.close()
        _die_with_parent(zygote_pid)
        _start_run(spec, event_fd, stderr_fd)
    finally:
        _leave(code)


def _start_run(spec: bytes, event_fd: int, stderr_fd: int) -> NoReturn:
    # stdout too, as in a cold spawn: whatever the experiment prints is crash evidence.
    os.dup2(stderr_fd, 1)
    os.dup2(stderr_fd, 2)
    os.close(stderr_fd)
    from seedlab.runner.child import run_child

    _leave(run_child(spec, event_fd, "fork"))


def _leave(code: int) -> NoReturn:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _copy_shared_pages() -> None:
    """Write once to every object inherited from the zygote, so the pages holding them are
    copied now, while the child waits, instead of one page fault at a time during the run.
    """
    # At idle priority: this runs while the previous run trains, and must not slow it down.
    idle = _set_policy(os.SCHED_IDLE)
    try:
        # unfreeze/freeze only move the frozen generation as a whole; listing the objects
        # takes a reference to each, which writes its page.
        gc.unfreeze()
        gc.get_objects()
        gc.freeze()
    finally:
        if idle:
            _set_policy(os.SCHED_OTHER)


def _set_policy(policy: int) -> bool:
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except (OSError, AttributeError):  # not Linux, or not allowed: only slower
        return False
    return True


class Spare:
    """A child forked ahead of its request, waiting for its spec on a socket of its own."""

    # The fork (about 15 ms for a process that holds TensorFlow) and, when asked for, the page
    # copies then happen while the previous run trains, not between claim and first epoch.
    # The copies are off by default: they wait at idle priority ahead of the spec, so where
    # every core trains they land between claim and first epoch after all. The child is
    # forked from the same zygote state as at request time and does nothing else before its
    # spec arrives, so what it runs is unchanged.

    def __init__(self, sock: socket.socket, zygote_pid: int, *, copy_pages: bool) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sock.close()
                ours.close()
                _die_with_parent(zygote_pid)
                if copy_pages:
                    _copy_shared_pages()
                request = _receive(theirs)
                if request is None:
                    code = 0  # the zygote is leaving: never used
                else:
                    theirs.close()
                    (spec, (event_fd, stderr_fd)) = request
                    _start_run(spec, event_fd, stderr_fd)
            finally:
                _leave(code)
        theirs.close()
        self.pid = pid
        self._sock = ours

    def start(self, spec: bytes, fds: list[int]) -> bool:
        """Hand the spec's JSON and fds to the waiting child; False when it is gone."""
        try:
            socket.send_fds(self._sock, [HEADER.pack(len(spec)) + spec], fds)
        except OSError:
            self.discard()
            return False
        finally:
            self._sock.close()
        return True

    def discard(self) -> None:
        """End the unused child and reap it."""
        self._sock.close()
        # Killed rather than told: at idle priority it may still be copying pages.
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def serve(control_fd: int, *, copy_pages: bool = False) -> None:
    """Preload, announce readiness, then run one request at a time until the launcher leaves."""
    for module in PRELOAD:
        importlib.import_module(module)
    from seedlab.runner.fingerprint import warm_static_fields

    warm_static_fields()
    # Objects that exist now are never collected in the children: their pages stay shared.
    gc.freeze()
    sock = socket.socket(fileno=control_fd)
    safe, reason = fork_safety()
    _send(sock, {"ready": True, "fork_safe": safe, "reason": reason})
    zygote_pid = os.getpid()
    # No spare when fork is unsafe: the launcher closes this zygote without a request.
    spare = Spare(sock, zygote_pid, copy_pages=copy_pages) if safe else None
    try:
        while True:
            request = _receive(sock)
            if request is None:
                return
            spec, fds = request
            if len(fds) != MAX_FDS:
                for fd in fds:
                    os.close(fd)
                _send(sock, {"error": f"expected {MAX_FDS} fds with the request, got {len(fds)}"})
                continue
            if spare is not None and spare.start(spec, fds):
                pid = spare.pid
            else:
                pid = _fork_now(sock, spec, fds, zygote_pid)
            spare = None
            for fd in fds:
                os.close(fd)  # the child holds the only write end: its exit is the agent's EOF
            try:
                _send(sock, {"pid": pid})
                # The next run's child, forked and warmed while this run trains.
                spare = Spare(sock, zygote_pid, copy_pages=copy_pages)
                _, status = os.waitpid(pid, 0)
                _send(sock, {"pid": pid, "exit": os.waitstatus_to_exitcode(status)})
            except (BrokenPipeError, ConnectionResetError):
                return  # the launcher is gone; the child fails at its next event write
    finally:
        if spare is not None:
            spare.discard()


def _fork_now(sock: socket.socket, spec: bytes, fds: list[int], zygote_pid: int) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _run_forked(sock, spec, fds[0], fds[1], zygote_pid)
    return pid


def main() -> None:
    """Entry: `python -m seedlab.runner.zygote --control-fd N`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--control-fd", type=int, required=True, help="socket to the launcher")
    parser.add_argument(
        "--copy-pages",
        action="store_true",
        help="spare children copy their inherited pages while they wait",
    )
    args = parser.parse_args()
    # A zygote holds ~640 MB: it must not outlive an agent that was SIGKILLed mid-run.
    die_with_parent()
    serve(args.control_fd, copy_pages=args.copy_pages)


if __name__ == "__main__":
    main()
