"""The start-up hook of a command experiment's interpreter (run process side).

Imported by `runner/hook/sitecustomize.py` when Python starts a command with seedlab's hook
directory on PYTHONPATH. It applies the profile without touching the script: Python's `random`
and NumPy at interpreter start, TensorFlow's seed, thread pools and op determinism as soon as
TensorFlow is imported, and Keras' `fit` patched (runner/autolog.py) as soon as Keras is
imported. It writes the run events (`applied`, `fingerprint`, `epoch`, `done`, `error`) to the
pipe named by SEEDLAB_EVENT_FD; the supervisor (runner/command.py) forwards them to the agent.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType, TracebackType
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from seedlab.controls import CONTROLS
from seedlab.profiles import Profile
from seedlab.runner.canonical import fingerprint_hash
from seedlab.runner.events import EventWriter, RunEvent
from seedlab.runspec import RunSpec, RunSpecError, parse_spec

HOOK_SPEC_ENV = "SEEDLAB_HOOK_SPEC"
EVENT_FD_ENV = "SEEDLAB_EVENT_FD"
HOOK_DIR_ENV = "SEEDLAB_HOOK_DIR"
# For the command itself: its seed, as the command line's {seed} gives it too.
SEED_ENV = "SEEDLAB_SEED"
# "0" turns off the recording of a PyTorch script's first training step (runner/torchops.py).
TORCH_OPS_ENV = "SEEDLAB_TORCH_OPS"
TRACEBACK_TAIL = 4000
ERROR_MESSAGE_LIMIT = 2000
# TensorFlow and Keras (the context and the fit hook), and every framework whose import runs a
# step of the control table.
WATCHED = frozenset({"tensorflow", "keras", *(w for row in CONTROLS for w in row.frameworks())})


class HookSpec(BaseModel):
    """What the hook reads from SEEDLAB_HOOK_SPEC: the run's spec and the command it runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: RunSpec
    version: str
    entrypoint: str
    source_digest: str | None
    # The template, not the argv: the argv carries the seed, and the fingerprint must be the
    # same for every seed of a job.
    command_template: str


def start() -> None:
    """Apply the profile at interpreter start when this interpreter runs a command experiment."""
    raw, fd = os.environ.pop(HOOK_SPEC_ENV, None), os.environ.pop(EVENT_FD_ENV, None)
    _unhook_children()
    if raw is None or fd is None:
        return  # an interpreter the script started itself: it is not the run
    os.set_inheritable(int(fd), False)  # the script's own subprocesses must not report
    events = EventWriter(int(fd))
    try:
        spec = parse_spec(HookSpec, raw)
    except RunSpecError as exc:
        # The script must not run without its seeds and controls: the run fails, saying why.
        events.emit(RunEvent.ERROR, error=f"{type(exc).__name__}: {exc}", traceback="")
        events.close()
        os._exit(1)
    StartHook(spec, events).at_interpreter_start()


def record_torch_ops(profile: Profile, report: Callable[[list[dict[str, Any]]], None]) -> Any:
    """Record a PyTorch run's first training step for portability warnings (runner/torchops.py),
    reported through `report`; the recorder, or None when SEEDLAB_TORCH_OPS=0 turns it off."""
    if os.environ.get(TORCH_OPS_ENV, "1").strip() == "0":
        return None
    from seedlab.runner.torchops import start

    return start(deterministic=bool(profile.torch_deterministic), report=report)


def _unhook_children() -> None:
    """Take the hook directory off PYTHONPATH, so Python subprocesses of the script run plain."""
    hook_dir = os.environ.pop(HOOK_DIR_ENV, None)
    if hook_dir is None:
        return
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != hook_dir]
    if parts:
        os.environ["PYTHONPATH"] = os.pathsep.join(parts)
    else:
        os.environ.pop("PYTHONPATH", None)


class StartHook:
    """The profile of one command run, applied in stages as the script imports things."""

    def __init__(self, spec: HookSpec, events: EventWriter) -> None:
        self.spec = spec
        self.seed = spec.run.seed
        self.profile = spec.run.profile
        self.events = events
        # The frameworks the script imported so far (whose control steps ran).
        self.imported: set[str] = set()
        self.context: Any = None  # RunContext, made once TensorFlow is imported
        self.failed = False
        self.keras_imported = False
        self.torch_ops: Any = None  # runner/torchops.py's recorder, once torch is imported

    def at_interpreter_start(self) -> None:
        """Seed Python and NumPy now; watch for TF and Keras; report at exit."""
        from seedlab.runner.setup import seed_python_numpy

        seed_python_numpy(self.profile, seed=self.seed)
        sys.meta_path.insert(0, ImportWatcher(self))
        previous = sys.excepthook

        def excepthook(
            kind: type[BaseException], exc: BaseException, tb: TracebackType | None
        ) -> None:
            self._report_error(exc, "".join(traceback.format_exception(kind, exc, tb)))
            previous(kind, exc, tb)

        sys.excepthook = excepthook
        atexit.register(self.at_exit)

    def _how(self) -> dict[str, str]:
        """How each control was applied, in the words the run page shows (the control table's
        texts, seedlab/controls.py, for the frameworks this script imported).

        The seed's value is the `seed` key of the applied profile; it is left out here so that
        runs of different seeds compare equal (pages list applied fields that vary in a job).
        """
        how = self.profile.how(self.imported)
        how["keras_fit"] = (
            "keras.Model.fit patched when Keras is imported: every epoch's "
            "metrics, weight checksums and a hash of in-memory training data"
            if self.context is not None
            else "not applied: the script never imported Keras or TensorFlow"
        )
        how["seed"] = "SEEDLAB_SEED in the environment; {seed} in the command"
        for name, value in sorted(self.profile.env.items()):
            how[f"env {name}"] = f"{name}={value} in the environment before start"
        return how

    def on_import(self, name: str) -> None:
        """A watched framework finished importing: apply what belongs to it."""
        self.imported.add(name)
        if name not in ("tensorflow", "keras"):
            from seedlab.runner.controls import apply_steps

            apply_steps(self.profile, name, seed=self.seed)  # type: ignore[arg-type]
            if name == "torch":
                self._record_torch_ops()
        elif name == "tensorflow":
            self._on_tensorflow()
            if self.keras_imported:
                self._hook_fit()
        elif name == "keras":
            from seedlab.runner.controls import apply_steps

            self.keras_imported = True
            apply_steps(self.profile, "keras", seed=self.seed)
            if keras_backend() != "tensorflow":
                # Keras 3 on JAX or PyTorch: no TensorFlow (it may not even be installed).
                self._on_tensorflow(tensorflow=False)
            elif "tensorflow" not in sys.modules:
                import tensorflow  # noqa: F401 - TF's controls apply to Keras on TF
            # TensorFlow may import Keras while it is itself still importing: then the fit hook
            # waits for TensorFlow's turn.
            self._hook_fit()

    def _record_torch_ops(self) -> None:
        """Portability warnings from the ops of the first optimizer step, as a hook event."""

        def report(warnings: list[dict[str, Any]]) -> None:
            if warnings:
                self.events.emit(RunEvent.WARNINGS, warnings=warnings)

        self.torch_ops = record_torch_ops(self.profile, report)

    def _hook_fit(self) -> None:
        if self.context is not None:
            from seedlab.runner.autolog import install_fit_hook

            install_fit_hook(self.context)

    def _on_tensorflow(self, tensorflow: bool = True) -> None:
        """TF imported (or Keras on another backend, tensorflow=False): apply, record, and make
        the context Keras' fit reports to."""
        if self.context is not None:
            return
        from seedlab.runner.context import RunContext
        from seedlab.runner.fingerprint import capture
        from seedlab.runner.setup import applied_state, configure_tensorflow

        if tensorflow:
            configure_tensorflow(self.profile, seed=self.seed)
        applied = applied_state(
            self.profile, seed=self.seed, isolation="process", tensorflow=tensorflow
        )
        _hash, fingerprint = capture(
            experiment=self.spec.run.experiment,
            version=self.spec.version,
            entrypoint=self.spec.entrypoint,
            source_digest=self.spec.source_digest,
            tensorflow=tensorflow,
        )
        fingerprint["experiment"]["command"] = self.spec.command_template
        self.context = RunContext(
            seed=self.seed,
            shuffle_seed=self.seed if self.profile.tf_data_seed else None,
            events=self.events,
            fingerprint=fingerprint,
            trace=self.profile.trace,
        )
        self.context.applied_profile = applied
        self.events.emit(RunEvent.APPLIED, profile={**applied, "how": self._how()})

    def _report_error(self, exc: BaseException, text: str) -> None:
        self.failed = True
        with contextlib.suppress(Exception):
            if self.context is not None:
                self.context.flush_fingerprint()
            self.events.emit(
                RunEvent.ERROR,
                error=f"{type(exc).__name__}: {exc}"[:ERROR_MESSAGE_LIMIT],
                traceback=text[-TRACEBACK_TAIL:],
            )

    def at_exit(self) -> None:
        """The script ended: make sure `applied` and the fingerprint went out; `done` if fit ran.

        Whether the run succeeded is the supervisor's call (it sees the exit code).
        """
        try:
            if self.torch_ops is not None:
                self.torch_ops.stop()  # a script that never stepped an optimizer
            if self.context is None:
                self._report_without_tensorflow()
            else:
                self.context.flush_fingerprint()
                if self.context.epoch_checksums and not self.failed:
                    self.events.emit(RunEvent.DONE, **self.context.done_fields())
        except Exception as exc:  # reporting must not turn a finished script into a crash
            self._report_error(exc, traceback.format_exc())
        finally:
            self.events.close()

    def _report_without_tensorflow(self) -> None:
        """`applied` and the fingerprint of a script that never imported TensorFlow.

        TF cannot be imported at interpreter exit, and the script did not use it: its controls
        were not applied, and the run page says so.
        """
        from seedlab.runner.fingerprint import capture
        from seedlab.runner.setup import applied_state

        applied = applied_state(
            self.profile, seed=self.seed, isolation="process", tensorflow=False
        )
        self.events.emit(RunEvent.APPLIED, profile={**applied, "how": self._how()})
        _hash, fingerprint = capture(
            experiment=self.spec.run.experiment,
            version=self.spec.version,
            entrypoint=self.spec.entrypoint,
            source_digest=self.spec.source_digest,
            tensorflow=False,
        )
        fingerprint["experiment"]["command"] = self.spec.command_template
        fingerprint["data_hash"] = None
        self.events.emit(RunEvent.FINGERPRINT, hash=fingerprint_hash(fingerprint), data=fingerprint)


def keras_backend() -> str:
    """The backend the imported Keras runs on ("tensorflow" for Keras 2 / tf.keras)."""
    keras = sys.modules.get("keras")
    try:
        return str(keras.backend.backend())  # type: ignore[union-attr]
    except Exception:  # Keras still importing, or Keras 2: TensorFlow's
        return "tensorflow"


class ImportListener(Protocol):
    """What an ImportWatcher tells: the start-up hook, or a catalog run's FrameworkSteps."""

    def on_import(self, name: str) -> None:
        """A watched framework finished importing."""


class ImportWatcher(importlib.abc.MetaPathFinder):
    """Calls the listener right after a watched framework finished executing its package."""

    def __init__(self, hook: ImportListener) -> None:
        self.hook = hook
        self.seen: set[str] = set()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        # TF probes for Keras with find_spec many times before importing it: only the spec
        # that really gets executed counts, so every one is wrapped.
        if fullname not in WATCHED or fullname in self.seen:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        execute = loader.exec_module
        watcher = self

        def exec_module(module: ModuleType) -> None:
            execute(module)
            if fullname not in watcher.seen:
                watcher.seen.add(fullname)
                watcher.hook.on_import(fullname)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
