"""Launch runs in their own process: forked from a zygote (fast) or cold-spawned (reference).

Agent side; never imports TensorFlow.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import IO, Any

from seedlab.runner.profile import Profile

STDERR_TAIL = 4000
HASH_SEED_OFF = (
    "hash seed toggle is off: forked children would share the zygote's hash secret, so each "
    "run gets a fresh interpreter"
)


@dataclass(frozen=True)
class RunSpec:
    """Everything the run process needs."""

    run_id: int
    attempt: int
    experiment: str
    params: dict[str, Any]
    seed: int
    profile: dict[str, Any]

    def to_json(self) -> str:
        """Serialised form sent to the run process."""
        return json.dumps(asdict(self))


def child_environment(changes: dict[str, str | None]) -> dict[str, str]:
    """os.environ with a profile's pre-import changes applied (None removes a variable)."""
    env = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class RunHandle:
    """A running run process: its events, its exit code, and a way to stop it."""

    def __init__(
        self,
        *,
        pid: int,
        event_fd: int,
        stderr_file: IO[bytes],
        isolation: str,
        isolation_reason: str | None,
        wait_exit: Callable[[], int],
    ) -> None:
        self.pid = pid
        self.isolation = isolation
        self.isolation_reason = isolation_reason
        self._events = os.fdopen(event_fd, "r", encoding="utf-8")
        self._stderr = stderr_file
        self._wait_exit = wait_exit
        self._exit: int | None = None

    def events(self) -> Iterator[dict[str, Any]]:
        """Events until the run process closes its pipe."""
        with self._events:
            for line in self._events:
                line = line.strip()
                if line:
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a torn line from a killed process; the exit code tells

    def kill(self) -> None:
        """Stop the run process at once."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self) -> int:
        """The exit code (negative: killed by that signal)."""
        if self._exit is None:
            self._exit = self._wait_exit()
        return self._exit

    def stderr_tail(self) -> str:
        """The last few KB the run process wrote to stdout/stderr."""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - STDERR_TAIL))
            return self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""


class Zygote:
    """A process that imported numpy/TF once and forks a child per run."""

    def __init__(self, env: dict[str, str], python: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [python, "-m", "seedlab.runner.zygote", "--control-fd", str(theirs.fileno())],
            env=env, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=self._log,
        )
        theirs.close()
        self._sock = ours
        self._replies = ours.makefile("rb")
        ready = self._reply()
        if ready is None:
            self._log.seek(0)
            raise RuntimeError(f"zygote failed to start: {self._log.read()[-2000:].decode()}")
        self.fork_safe = bool(ready["fork_safe"])
        self.unsafe_reason: str | None = ready.get("reason")

    def alive(self) -> bool:
        """Whether the zygote process still runs."""
        return self.proc.poll() is None

    def _reply(self) -> dict[str, Any] | None:
        line = self._replies.readline()
        return json.loads(line) if line else None

    def fork(self, spec: RunSpec) -> RunHandle:
        """Fork a child for the run; its events come over a fresh pipe."""
        read_fd, write_fd = os.pipe()
        stderr_file = tempfile.TemporaryFile()
        body = spec.to_json().encode()
        try:
            socket.send_fds(
                self._sock, [struct.pack(">I", len(body)) + body], [write_fd, stderr_file.fileno()]
            )
        finally:
            os.close(write_fd)
        reply = self._reply()
        if reply is None:
            os.close(read_fd)
            raise RuntimeError("zygote died before forking the run")
        return RunHandle(
            pid=int(reply["pid"]), event_fd=read_fd, stderr_file=stderr_file,
            isolation="fork", isolation_reason=None, wait_exit=self._wait_exit,
        )

    def _wait_exit(self) -> int:
        reply = self._reply()
        return int(reply["exit"]) if reply else -int(signal.SIGKILL)

    def close(self) -> None:
        """Stop the zygote."""
        try:
            self._sock.close()
            self._replies.close()
        finally:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Launcher:
    """Starts runs; owns one zygote per pre-import environment."""

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable
        self._zygotes: dict[tuple[tuple[str, str | None], ...], Zygote] = {}

    def start(self, spec: RunSpec) -> RunHandle:
        """Launch the run with the isolation its profile asks for (or the honest fallback)."""
        profile = Profile.model_validate(spec.profile)
        changes = profile.pre_import_env()
        if profile.isolation == "process":
            return self._spawn(spec, changes, reason=None)
        if not profile.hash_seed:
            return self._spawn(spec, changes, reason=HASH_SEED_OFF)
        zygote = self._zygote(changes)
        if not zygote.fork_safe:
            return self._spawn(spec, changes, reason=zygote.unsafe_reason)
        return zygote.fork(spec)

    def _zygote(self, changes: dict[str, str | None]) -> Zygote:
        key = tuple(sorted(changes.items(), key=lambda item: item[0]))
        zygote = self._zygotes.get(key)
        if zygote is not None and not zygote.alive():
            zygote.close()
            zygote = None  # it died: start a new one
        if zygote is None:
            zygote = Zygote(child_environment(changes), self.python)
            self._zygotes[key] = zygote
        return zygote

    def _spawn(
        self, spec: RunSpec, changes: dict[str, str | None], *, reason: str | None
    ) -> RunHandle:
        read_fd, write_fd = os.pipe()
        stderr_file = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen(
                [self.python, "-m", "seedlab.runner.child", "--event-fd", str(write_fd)],
                env=child_environment(changes), pass_fds=[write_fd], stdin=subprocess.PIPE,
                stdout=stderr_file, stderr=stderr_file,
            )
        finally:
            os.close(write_fd)
        assert proc.stdin is not None
        proc.stdin.write(spec.to_json().encode())
        proc.stdin.close()
        return RunHandle(
            pid=proc.pid, event_fd=read_fd, stderr_file=stderr_file, isolation="process",
            isolation_reason=reason, wait_exit=proc.wait,
        )

    def close(self) -> None:
        """Stop every zygote."""
        for zygote in self._zygotes.values():
            zygote.close()
        self._zygotes.clear()
