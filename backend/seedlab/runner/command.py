"""Supervisor of a command experiment's run (run process side, TF-free).

`python -m seedlab.runner.command --event-fd N` with the RunSpec JSON on stdin, started by the
launcher in the agent's project directory. It starts the declared command (no shell) with the
profile's environment and the start-up hook (runner/starthook.py) on PYTHONPATH, forwards the
hook's events, turns JSON lines on stdout and the metrics file into epoch events, and decides
the outcome from the exit code: `done` only when the script exited 0.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import seedlab
from seedlab.analysis.portability import merge
from seedlab.runner.context import steady_seconds_per_epoch
from seedlab.runner.events import EventWriter, RunEvent
from seedlab.runner.starthook import EVENT_FD_ENV, HOOK_DIR_ENV, HOOK_SPEC_ENV, SEED_ENV, HookSpec
from seedlab.runspec import RunSpec

if TYPE_CHECKING:
    from seedlab.experiments.spec import ExperimentSpec

HOOK_DIR = Path(__file__).resolve().parent / "hook"
PR_SET_PDEATHSIG = 1
STDERR_TAIL_BYTES = 4000
METRICS_FILE_POLL_SECONDS = 0.5
ERROR_MESSAGE_LIMIT = 2000
# Keys of a metrics line that are not metrics.
RESERVED_KEYS = ("epoch", "step", "epochs", "weights_checksum")


class _Events:
    """The agent's event pipe, shared by the hook forwarder and the stdout reader."""

    def __init__(self, fd: int) -> None:
        self.writer = EventWriter(fd)
        self.lock = threading.Lock()
        self.epochs: list[dict[str, Any]] = []  # epochs parsed from stdout / the metrics file
        self.keras_epochs = 0
        self.last_record = time.perf_counter()
        self.failure: str | None = None  # a metrics line that cannot be reported

    def emit(self, event: RunEvent, **fields: Any) -> None:
        with self.lock:
            self.writer.emit(event, **fields)

    def record(self, line: dict[str, Any]) -> None:
        """One metrics line as an epoch event."""
        number = line.get("epoch", line.get("step"))
        metrics = {
            key: float(value)
            for key, value in line.items()
            if key not in RESERVED_KEYS and isinstance(value, int | float)
            and not isinstance(value, bool)
        }
        not_finite = sorted(name for name, value in metrics.items() if not math.isfinite(value))
        if not_finite:
            raise FloatingPointError(f"metrics {not_finite} are not finite at epoch {number}")
        now = time.perf_counter()
        checksum = line.get("weights_checksum")
        event = {
            "epoch": int(number),  # type: ignore[arg-type]  # checked by metrics_line
            "epochs": line.get("epochs") if isinstance(line.get("epochs"), int) else None,
            "metrics": metrics,
            "weights_checksum": checksum if isinstance(checksum, str) else None,
            "seconds": now - self.last_record,
        }
        self.last_record = now
        with self.lock:
            self.epochs.append(event)
            self.writer.emit(RunEvent.EPOCH, **event)


def metrics_line(text: str) -> dict[str, Any] | None:
    """The JSON object on a line when it is a metrics line (an int `epoch` or `step`), else None."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    number = value.get("epoch", value.get("step"))
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        return None
    return value


def hook_environment(spec: RunSpec, experiment: ExperimentSpec, fd: int) -> dict[str, str]:
    """The command's environment: this one plus the seed, the hook and op determinism."""
    profile = spec.profile
    command = experiment.command
    assert command is not None  # checked by the caller
    package_root = str(Path(seedlab.__file__).resolve().parent.parent)
    env = dict(os.environ)
    # The hook first (its sitecustomize), then whatever the agent had, and this seedlab last: it
    # is needed by the hook only, and must not move site-packages ahead of the user's paths.
    path = [str(HOOK_DIR), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep)), package_root]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    env[HOOK_DIR_ENV] = str(HOOK_DIR)
    env[EVENT_FD_ENV] = str(fd)
    env[SEED_ENV] = str(spec.seed)
    env[HOOK_SPEC_ENV] = HookSpec(
        run=spec,
        version=experiment.version,
        entrypoint=experiment.entrypoint,
        source_digest=command.sources_digest or None,
        command_template=command.template,
    ).model_dump_json()
    if profile.op_determinism:
        env["TF_DETERMINISTIC_OPS"] = "1"  # read by TF itself, even before the hook runs
    return env


def run_command(spec: RunSpec | str | bytes, event_fd: int) -> int:
    """Run one command experiment (a spec or its JSON) to its end; returns the exit code."""
    events = _Events(event_fd)
    try:
        return _run(spec if isinstance(spec, RunSpec) else RunSpec.parse(spec), events)
    except BaseException as exc:  # a failure of the supervisor itself is the run's failure
        with contextlib.suppress(Exception):
            events.emit(
                RunEvent.ERROR,
                error=f"{type(exc).__name__}: {exc}"[:ERROR_MESSAGE_LIMIT],
                traceback="",
            )
        return 1
    finally:
        events.writer.close()


def _run(spec: RunSpec, events: _Events) -> int:
    from seedlab.experiments.project import find_command_experiment

    # The launcher started us in the project directory of this experiment.
    experiment = find_command_experiment(spec.experiment, [Path.cwd()])
    if experiment is None or experiment.command is None:
        raise ValueError(
            f"experiment {spec.experiment!r} is not declared in {Path.cwd()}'s project file"
        )
    command = experiment.command
    params = experiment.validate_params(spec.params)
    argv = command.argv(params, seed=spec.seed, python=sys.executable)
    if command.metrics_file is not None:
        # A file left by an earlier run would be read as this run's metrics.
        command.metrics_file.unlink(missing_ok=True)
    hook_read, hook_write = os.pipe()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=command.workdir,
            env=hook_environment(spec, experiment, hook_write),
            pass_fds=[hook_write],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_supervisor(os.getpid()),  # no reader threads run yet
        )
    except OSError as exc:
        os.close(hook_read)
        raise OSError(f"cannot start the command {argv}: {exc}") from exc
    finally:
        os.close(hook_write)
    assert proc.stdout is not None and proc.stderr is not None
    tail: collections.deque[bytes] = collections.deque()
    readers = [
        threading.Thread(target=_read_stdout, args=(proc.stdout, events), daemon=True),
        threading.Thread(target=_read_stderr, args=(proc.stderr, tail), daemon=True),
    ]
    metrics_tail = None if command.metrics_file is None else _MetricsTail(command.metrics_file)
    if metrics_tail is not None:
        readers.append(
            threading.Thread(target=metrics_tail.follow, args=(proc, events), daemon=True)
        )
    for reader in readers:
        reader.start()
    held: dict[str, dict[str, Any]] = {}
    warnings: list[dict[str, Any]] = []  # the hook's, added to `done`
    with os.fdopen(hook_read, "r", encoding="utf-8") as hook_events:
        for line in hook_events:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn line from a killed script; its exit code tells
            try:
                kind = RunEvent(event.pop("event", None))
            except ValueError:
                continue  # not an event of the protocol
            if kind == RunEvent.WARNINGS:
                if isinstance(event.get("warnings"), list):
                    warnings = merge(warnings, event["warnings"])
                continue
            if kind in (RunEvent.DONE, RunEvent.ERROR):
                held[kind] = event  # the exit code decides
                continue
            if kind == RunEvent.EPOCH:
                events.keras_epochs += 1
            if kind == RunEvent.APPLIED:
                held["applied"] = event
            events.emit(kind, **event)
    code = proc.wait()
    for reader in readers:
        reader.join()
    stderr_tail = b"".join(tail).decode(errors="replace")[-STDERR_TAIL_BYTES:]
    if code != 0:
        error = held.get("error", {}).get("error") or f"command exited with code {code}"
        events.emit(RunEvent.ERROR, error=error, traceback=stderr_tail or "(no output on stderr)")
        return 1
    if events.failure is not None:
        events.emit(RunEvent.ERROR, error=events.failure, traceback=stderr_tail)
        return 1
    if "applied" not in held:
        events.emit(
            RunEvent.ERROR,
            error=f"seedlab's start-up hook did not run in {argv[0]!r}: the command must start "
            "Python (write `python script.py ...`), so seeds and controls can be applied",
            traceback=stderr_tail,
        )
        return 1
    if metrics_tail is not None:
        # What the script wrote last; a FloatingPointError fails the run.
        metrics_tail.read_new_lines(final=True)
    if "done" in held:
        done = held["done"]
        done["warnings"] = merge(done.get("warnings") or [], warnings)
        events.emit(RunEvent.DONE, **done)
        return 0
    if events.epochs:
        events.emit(RunEvent.DONE, **_done_fields(events.epochs), warnings=warnings)
        return 0
    events.emit(
        RunEvent.ERROR,
        error="the command reported no metrics: train with Keras fit, print JSON lines such "
        'as {"epoch": 1, "loss": 0.3} on stdout, or write them to the metrics_file',
        traceback=stderr_tail,
    )
    return 1


def _die_with_supervisor(supervisor_pid: int) -> Callable[[], None]:
    """A preexec_fn: the kernel SIGKILLs the script when the supervisor dies.

    The agent stops a run (cancel, lost lease) by killing the supervisor; the training script
    must not go on in the background.
    """

    def set_death_signal() -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux only
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != supervisor_pid:  # it died before prctl took effect
            os._exit(1)

    return set_death_signal


def _done_fields(epochs: list[dict[str, Any]]) -> dict[str, Any]:
    """`done` from epochs the script printed (no model: checksums only if it printed them)."""
    checksums = [e["weights_checksum"] for e in epochs if e["weights_checksum"] is not None]
    seconds = [e["seconds"] for e in epochs if e["seconds"] is not None]
    return {
        "final_metrics": epochs[-1]["metrics"],
        "weights_checksum": epochs[-1]["weights_checksum"],
        "epoch_checksums": checksums if len(checksums) == len(epochs) else None,
        "data_hash": None,
        "seconds_per_epoch": steady_seconds_per_epoch(seconds) if seconds else None,
        "trace": None,
    }


class _MetricsTail:
    """Follows the metrics file while the script runs: each complete new line is an epoch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.events: _Events | None = None

    def follow(self, proc: subprocess.Popen[bytes], events: _Events) -> None:
        """Read new lines every half second until the script ended."""
        self.events = events
        while proc.poll() is None:
            try:
                self.read_new_lines()
            except FloatingPointError as exc:
                events.failure = events.failure or f"FloatingPointError: {exc}"
                return
            time.sleep(METRICS_FILE_POLL_SECONDS)

    def read_new_lines(self, *, final: bool = False) -> None:
        """Report the lines completed since the last read (a line still being written waits,
        unless the script ended: then its last line counts without a newline)."""
        if self.events is None:
            return
        try:
            with self.path.open("rb") as metrics:
                metrics.seek(self.offset)
                data = metrics.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        if final:
            lines.append(self.partial)
            self.partial = b""
        for raw in lines:
            parsed = metrics_line(raw.decode(errors="replace"))
            if parsed is not None:
                self.events.record(parsed)


def _read_stdout(stream: IO[bytes], events: _Events) -> None:
    """Metrics lines become epochs; every other line goes to the run's output as it is."""
    for raw in stream:
        line = metrics_line(raw.decode(errors="replace"))
        if line is None:
            sys.stdout.buffer.write(raw)
            sys.stdout.flush()
            continue
        try:
            events.record(line)
        except FloatingPointError as exc:
            events.failure = events.failure or f"FloatingPointError: {exc}"


def _read_stderr(stream: IO[bytes], tail: collections.deque[bytes]) -> None:
    """Copy stderr to the run's output, keeping its last few KB for a failure report."""
    kept = 0
    for raw in stream:
        sys.stderr.buffer.write(raw)
        sys.stderr.flush()
        tail.append(raw)
        kept += len(raw)
        while kept > STDERR_TAIL_BYTES and len(tail) > 1:
            kept -= len(tail.popleft())


def main() -> None:
    """Entry: `python -m seedlab.runner.command --event-fd N`, RunSpec JSON on stdin."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--event-fd", type=int, required=True, help="write end of the event pipe")
    args = parser.parse_args()
    sys.exit(run_command(sys.stdin.buffer.read(), args.event_fd))


if __name__ == "__main__":
    main()
