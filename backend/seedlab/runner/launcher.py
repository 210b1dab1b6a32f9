"""Launch runs in their own process: forked from a zygote (fast) or cold-spawned (reference).

Agent side; never imports TensorFlow. See docs/runner-protocol.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any, Literal

from seedlab.config import DEFAULT_MAX_ZYGOTES
from seedlab.profiles import Profile
from seedlab.runspec import RunSpec

STDERR_TAIL_BYTES = 4096
# Each zygote holds an imported TensorFlow (about 640 MB here); an audit with an environment
# matrix would otherwise keep one per environment alive for the agent's lifetime.
ZYGOTE_START_TIMEOUT = 300.0  # importing TF on a loaded 2-core machine can take half a minute
PREVIOUS_RUN_EXIT_TIMEOUT = 10.0
COMMAND_COLD = (
    "command experiment: a script needs a fresh interpreter, started with seedlab's start-up hook"
)
HASH_SEED_OFF = (
    "hash seed toggle is off: forked children would share the zygote's hash secret, so each "
    "run gets a fresh interpreter"
)

NO_TENSORFLOW = (
    "TensorFlow is not installed: zygotes preload it, so each run gets a fresh interpreter"
)
OTHER_KERAS_BACKEND = (
    "KERAS_BACKEND={backend}: the zygotes' Keras runs on TensorFlow, so each run gets a fresh "
    "interpreter"
)

ZygoteKey = tuple[tuple[str, str | None], ...]


def cold_reason(profile: Profile) -> str | None:
    """Why a training function under this forking profile must start a fresh interpreter."""
    import importlib.util

    if not profile.hash_seed:
        return HASH_SEED_OFF
    backend = profile.env.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        return OTHER_KERAS_BACKEND.format(backend=backend)
    if importlib.util.find_spec("tensorflow") is None:
        return NO_TENSORFLOW
    return None


def command_project_dir(experiment: str, environ: Mapping[str, str]) -> str | None:
    """The project directory of a command experiment; None for a training function.

    Looks in the project files of the directory sources the agent was given and of the working
    directory (the catalog's order); reads TOML only, never a user module.
    """
    from pathlib import Path

    from seedlab.experiments.loader import classify, sources_from_env
    from seedlab.experiments.project import find_command_experiment

    try:
        sources = sources_from_env(environ)
    except ValueError:
        sources = []  # a malformed variable fails the run process, with its message
    directories = [Path(target) for kind, target in map(classify, sources) if kind == "directory"]
    spec = find_command_experiment(experiment, [*directories, Path.cwd()])
    return None if spec is None or spec.command is None else str(spec.command.project_dir)


class ZygoteGone(RuntimeError):
    """The zygote died or stopped answering."""


def child_environment(
    changes: dict[str, str | None], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The base environment (os.environ) with a profile's pre-import changes applied.

    A change of None removes the variable.
    """
    env = dict(os.environ if base is None else base)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def zygote_key(changes: dict[str, str | None]) -> ZygoteKey:
    """One zygote serves every profile with this pre-import environment."""
    return tuple(sorted(changes.items(), key=lambda item: item[0]))


def _temporary_log() -> IO[bytes]:
    """An anonymous file for a process's stdout/stderr; writers append whatever its offset."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the handle that reads it
    # The run process shares this open file; O_APPEND keeps its writes at the end even when
    # the agent reads the tail concurrently.
    flags = fcntl.fcntl(log.fileno(), fcntl.F_GETFL)
    fcntl.fcntl(log.fileno(), fcntl.F_SETFL, flags | os.O_APPEND)
    return log


def _tail(log: IO[bytes], limit: int) -> str:
    """The last `limit` bytes of the file, read without moving its shared offset."""
    try:
        size = os.fstat(log.fileno()).st_size
        return os.pread(log.fileno(), limit, max(0, size - limit)).decode(errors="replace")
    except (OSError, ValueError):
        return ""


class RunHandle:
    """A running run process: its events, its exit code, and a way to stop it."""

    # Set when the run was lost with its executor (a Ray worker or node died), not failed by
    # its own code: the agent hands it back to the queue as the next attempt.
    lost_reason: str | None = None

    def __init__(
        self,
        *,
        pid: int,
        event_fd: int,
        stderr_file: IO[bytes],
        isolation: str,
        isolation_reason: str | None,
        wait_exit: Callable[[], int],
        zygote_pid: int | None = None,
    ) -> None:
        self.pid = pid
        self.isolation = isolation
        self.isolation_reason = isolation_reason
        self.zygote_pid = zygote_pid
        self._events = os.fdopen(event_fd, "r", encoding="utf-8")
        self._stderr = stderr_file
        self._wait_exit = wait_exit
        self._exit: int | None = None

    def events(self) -> Iterator[dict[str, Any]]:
        """Events until the run process closes its pipe; a later call resumes where one stopped."""
        if self._events.closed:
            return
        for line in self._events:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a killed process; the exit code tells
            if isinstance(event, dict):
                yield event
        self._events.close()

    def kill(self) -> None:
        """Stop the run process at once (SIGKILL); harmless when it already ended."""
        if self._exit is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        """The exit code (negative: killed by that signal)."""
        if self._exit is None:
            self._exit = self._wait_exit()
        return self._exit

    @property
    def finished(self) -> bool:
        """Whether wait() already returned."""
        return self._exit is not None

    def stderr_tail(self) -> str:
        """The last few KB the run process wrote to stdout/stderr."""
        return _tail(self._stderr, STDERR_TAIL_BYTES)


class Zygote:
    """A process that imported numpy/TF once and forks a child per run, one at a time."""

    def __init__(
        self, env: dict[str, str], python: str, start_timeout: float, *, copy_pages: bool = False
    ) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._log = _temporary_log()
        command = [python, "-m", "seedlab.runner.zygote", "--control-fd", str(theirs.fileno())]
        with theirs:
            self.proc = subprocess.Popen(
                [*command, "--copy-pages"] if copy_pages else command,
                env=env,
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
            )
        self._sock = ours
        self._received = b""
        self._current: RunHandle | None = None
        ready = self._reply(timeout=start_timeout)
        if ready is None or not ready.get("ready"):
            self.close()
            raise ZygoteGone(f"zygote failed to start: {_tail(self._log, 2000)}")
        self.fork_safe = bool(ready["fork_safe"])
        self.unsafe_reason: str | None = ready.get("reason")

    @property
    def pid(self) -> int:
        """The zygote's process id."""
        return self.proc.pid

    def alive(self) -> bool:
        """Whether the zygote process still runs."""
        return self.proc.poll() is None

    @property
    def busy(self) -> bool:
        """Whether a run forked from it has not been waited for yet."""
        return self._current is not None and not self._current.finished

    def _await_line(self, timeout: float | None) -> Literal["line", "eof", "timeout"]:
        """Receive until a whole reply line is buffered, the socket closes, or time runs out."""
        while b"\n" not in self._received:
            if timeout is not None and not select.select([self._sock], [], [], timeout)[0]:
                return "timeout"
            try:
                chunk = self._sock.recv(4096)
            except OSError:
                return "eof"
            if not chunk:
                return "eof"
            self._received += chunk
        return "line"

    def _reply(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next reply, or None when the zygote closed the socket (or did not answer)."""
        if self._await_line(timeout) != "line":
            return None
        line, _, self._received = self._received.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def fork(self, spec: RunSpec) -> RunHandle:
        """Fork a child for the run; its events come over a fresh pipe."""
        if self._current is not None and not self._current.finished:
            # The zygote answers in order: the previous run's exit comes before our pid.
            if self._await_line(PREVIOUS_RUN_EXIT_TIMEOUT) == "timeout":
                raise RuntimeError(
                    f"run process {self._current.pid} is still running in this zygote; "
                    "wait() for it before starting the next run"
                )
            self._current.wait()
        read_fd, write_fd = os.pipe()
        stderr_file = _temporary_log()
        body = spec.model_dump_json().encode()
        try:
            socket.send_fds(
                self._sock, [len(body).to_bytes(4, "big") + body], [write_fd, stderr_file.fileno()]
            )
            reply = self._reply()
        except OSError as exc:
            os.close(read_fd)
            raise ZygoteGone(f"zygote {self.pid} is gone: {exc}") from exc
        finally:
            os.close(write_fd)  # the child's copy is the only one left: its exit is our EOF
        if reply is None or "pid" not in reply:
            os.close(read_fd)
            raise ZygoteGone(f"zygote {self.pid} did not fork the run: {reply}")
        pid = int(reply["pid"])
        handle = RunHandle(
            pid=pid,
            event_fd=read_fd,
            stderr_file=stderr_file,
            isolation="fork",
            isolation_reason=None,
            wait_exit=lambda: self._wait_exit(pid),
            zygote_pid=self.pid,
        )
        self._current = handle
        return handle

    def _wait_exit(self, pid: int) -> int:
        reply = self._reply()
        if reply is None:
            # The zygote died; its children are killed with it (PR_SET_PDEATHSIG).
            return -int(signal.SIGKILL)
        if reply.get("pid") != pid:
            raise RuntimeError(f"zygote answered for pid {reply.get('pid')}, expected {pid}")
        return int(reply["exit"])

    def close(self) -> None:
        """Stop the zygote (closing the socket tells it to leave)."""
        with contextlib.suppress(OSError):
            self._sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class Launcher:
    """The local executor: starts one run at a time on this host; owns one zygote per
    pre-import environment, the least recently used first to go when more than `max_zygotes`
    would be alive."""

    def __init__(
        self,
        python: str | None = None,
        *,
        base_env: Mapping[str, str] | None = None,
        zygote_start_timeout: float = ZYGOTE_START_TIMEOUT,
        max_zygotes: int = DEFAULT_MAX_ZYGOTES,
        copy_pages: bool = False,
        cpus: int | None = None,
        gpus: Sequence[int] = (),
    ) -> None:
        if max_zygotes < 1:
            raise ValueError(f"max_zygotes must be at least 1, not {max_zygotes}")
        # What the agent advertises for this launcher: its share of the host's CPUs and the
        # GPU indices its runs see (pinned in base_env by whoever made it).
        self._cpus = cpus
        self._gpus = list(gpus)
        self.python = python or sys.executable
        # Environment every run process starts from (the profile's changes go on top); None
        # means this process's environment at the time of each start.
        self.base_env = None if base_env is None else dict(base_env)
        self.zygote_start_timeout = zygote_start_timeout
        self.max_zygotes = max_zygotes
        # Whether each zygote's spare child copies its inherited pages ahead of its run.
        self.copy_pages = copy_pages
        # Least recently used first.
        self._zygotes: OrderedDict[ZygoteKey, Zygote] = OrderedDict()
        self._fork_unsafe: dict[ZygoteKey, str] = {}
        self._lock = threading.Lock()

    def slots(self) -> int:
        """One run at a time: a zygote forks the next run once the previous one ended."""
        return 1

    def cpus(self) -> int | None:
        """The CPUs advertised for this launcher's runs (None: not said)."""
        return self._cpus

    def gpus(self) -> list[int]:
        """The GPU indices this launcher's runs see."""
        return list(self._gpus)

    def describe(self) -> str | None:
        """Nothing to add to the agent's start-up output."""
        return None

    def start(self, spec: RunSpec) -> RunHandle:
        """Launch the run with the isolation its profile asks for (or the honest fallback)."""
        profile = spec.profile
        changes = profile.pre_import_env()
        command_dir = command_project_dir(
            spec.experiment, os.environ if self.base_env is None else self.base_env
        )
        if command_dir is not None:
            return self._spawn(
                spec, changes, reason=COMMAND_COLD, module="seedlab.runner.command", cwd=command_dir
            )
        if profile.isolation == "process":
            return self._spawn(spec, changes, reason=None)
        cold = cold_reason(profile)
        if cold is not None:
            return self._spawn(spec, changes, reason=cold)
        key = zygote_key(changes)
        with self._lock:
            zygote = self._zygote(key, changes)
            if zygote is None:
                return self._spawn(spec, changes, reason=self._fork_unsafe[key])
            try:
                return zygote.fork(spec)
            except ZygoteGone:
                # It died between runs: one fresh zygote, one more try.
                self._drop(key)
                zygote = self._zygote(key, changes)
                assert zygote is not None  # it was fork-safe a moment ago
                return zygote.fork(spec)

    def warm(self, profile: Profile) -> int | None:
        """Start the zygote for this profile's pre-import environment now; its pid, or None
        when the profile does not fork (cold spawn) or fork is unsafe here."""
        if profile.isolation == "process" or cold_reason(profile) is not None:
            return None
        changes = profile.pre_import_env()
        with self._lock:
            zygote = self._zygote(zygote_key(changes), changes)
            return None if zygote is None else zygote.pid

    def zygote_pids(self) -> list[int]:
        """Process ids of the zygotes alive now."""
        with self._lock:
            return [z.pid for z in self._zygotes.values() if z.alive()]

    def _zygote(self, key: ZygoteKey, changes: dict[str, str | None]) -> Zygote | None:
        """The zygote for this environment (restarted if it died); None when fork is unsafe."""
        if key in self._fork_unsafe:
            return None
        zygote = self._zygotes.get(key)
        if zygote is not None and not zygote.alive():
            self._drop(key)
            zygote = None
        if zygote is None:
            self._make_room()
            env = child_environment(changes, self.base_env)
            zygote = Zygote(
                env, self.python, self.zygote_start_timeout, copy_pages=self.copy_pages
            )
            if not zygote.fork_safe:
                self._fork_unsafe[key] = zygote.unsafe_reason or "fork is unsafe here"
                zygote.close()  # it will never fork: do not keep TF loaded for nothing
                return None
            self._zygotes[key] = zygote
        self._zygotes.move_to_end(key)
        return zygote

    def _make_room(self) -> None:
        """Stop idle zygotes, least recently used first, until a new one fits under the cap."""
        idle = [key for key, zygote in self._zygotes.items() if not zygote.busy]
        while len(self._zygotes) >= self.max_zygotes and idle:
            self._drop(idle.pop(0))

    def _drop(self, key: ZygoteKey) -> None:
        zygote = self._zygotes.pop(key, None)
        if zygote is not None:
            zygote.close()

    def _spawn(
        self,
        spec: RunSpec,
        changes: dict[str, str | None],
        *,
        reason: str | None,
        module: str = "seedlab.runner.child",
        cwd: str | None = None,
    ) -> RunHandle:
        """Cold spawn: a fresh interpreter started with the profile's pre-import environment."""
        read_fd, write_fd = os.pipe()
        stderr_file = _temporary_log()
        try:
            proc = subprocess.Popen(
                [self.python, "-m", module, "--event-fd", str(write_fd)],
                cwd=cwd,
                env=child_environment(changes, self.base_env),
                pass_fds=[write_fd],
                stdin=subprocess.PIPE,
                stdout=stderr_file,
                stderr=stderr_file,
            )
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        assert proc.stdin is not None
        # A child that dies before reading its spec shows up in its exit code and stderr.
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(spec.model_dump_json().encode())
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        return RunHandle(
            pid=proc.pid,
            event_fd=read_fd,
            stderr_file=stderr_file,
            isolation="process",
            isolation_reason=reason,
            wait_exit=proc.wait,
        )

    def close(self) -> None:
        """Stop every zygote."""
        with self._lock:
            for key in list(self._zygotes):
                self._drop(key)
