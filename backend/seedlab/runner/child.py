"""The run process: apply the profile, fingerprint, run the experiment, report events.

Cold spawn: `python -m seedlab.runner.child --event-fd N` with the RunSpec JSON on stdin.
Forked from a zygote: the zygote calls run_child() in the child and exits with its result.
Events go to the event pipe only; stdout belongs to the experiment.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from seedlab.controls import CONTROLS, NOT_APPLIED
from seedlab.profiles import Profile
from seedlab.runner.context import RunContext
from seedlab.runner.events import EventWriter, RunEvent
from seedlab.runner.starthook import keras_backend
from seedlab.runspec import RunSpec

TRACEBACK_TAIL = 4000
ERROR_MESSAGE_LIMIT = 2000


def load_entrypoint(entrypoint: str) -> Callable[[Any, RunContext], None]:
    """The training function named by "module.path:function"."""
    module_name, _, function_name = entrypoint.partition(":")
    function: Callable[[Any, RunContext], None] = getattr(
        importlib.import_module(module_name), function_name
    )
    return function


def tensorflow_installed() -> bool:
    """Whether TensorFlow can be imported here (looked up, not imported)."""
    return importlib.util.find_spec("tensorflow") is not None


class FrameworkSteps:
    """Applies the control table's steps of each framework the experiment imports (PyTorch,
    JAX, Keras on another backend) and hooks Keras' fit, as the start-up hook does for a script.

    TensorFlow's steps are applied up front where TensorFlow is installed (setup.apply_profile):
    a catalog experiment on TensorFlow must not run an op before them.
    """

    def __init__(self, profile: Profile, *, seed: int, tensorflow: bool) -> None:
        self.profile = profile
        self.seed = seed
        # The frameworks whose steps ran, and those imported whose steps were left out (why).
        self.applied: set[str] = {"tensorflow"} if tensorflow else set()
        self.left_out: dict[str, str] = {}
        self.context: RunContext | None = None
        self.torch_ops: Any = None  # runner/torchops.py's recorder, once torch is imported

    def watch(self, context: RunContext) -> None:
        """Apply the steps of frameworks already imported (a zygote's), then watch for more."""
        from seedlab.runner.starthook import WATCHED, ImportWatcher

        self.context = context
        for name in sorted(WATCHED):
            if name in sys.modules:
                self.on_import(name)
        sys.meta_path.insert(0, ImportWatcher(self))

    def on_import(self, name: str) -> None:
        """A watched framework finished importing: apply its steps; hook Keras' fit."""
        from seedlab.runner.autolog import install_fit_hook
        from seedlab.runner.controls import apply_steps

        if name in self.applied or name in self.left_out or name == "tensorflow":
            return
        if name == "keras":
            assert self.context is not None
            install_fit_hook(self.context)
            if keras_backend() == "tensorflow":
                # Catalog results stay as they were: Keras on TensorFlow draws its default
                # seeds from Python's `random`, which the python_seed control seeds.
                self.left_out[name] = (
                    "Keras runs on TensorFlow here and draws its seeds from Python's `random` "
                    "(python_seed)"
                )
                return
        self.applied.add(name)
        apply_steps(self.profile, name, seed=self.seed)  # type: ignore[arg-type]
        if name == "torch":
            self._record_torch_ops()

    def _record_torch_ops(self) -> None:
        """Portability warnings from the ops of the first optimizer step, as a script gets."""
        from seedlab.runner.starthook import record_torch_ops

        context = self.context
        if context is not None:
            self.torch_ops = record_torch_ops(
                self.profile, lambda warnings: context.add_portability(warnings, 0.0)
            )

    def finish(self) -> None:
        """The experiment returned: stop recording a run that never stepped an optimizer."""
        if self.torch_ops is not None:
            self.torch_ops.stop()

    def how(self) -> dict[str, str]:
        """How each control was applied to this run, for the frameworks it imported."""
        how = self.profile.how(self.applied, runner="catalog")
        for row in CONTROLS:
            text = how.get(row.name, "")
            if not text.startswith(NOT_APPLIED):
                continue
            reasons = [self.left_out[f] for f in row.frameworks() if f in self.left_out]
            if reasons:
                how[row.name] = f"{NOT_APPLIED}: {reasons[0]}"
        return how


def check_keras_backend() -> None:
    """Fail when the experiment asked for a Keras backend that the imported Keras does not run.

    A module that sets KERAS_BACKEND before `import keras` gets it only in a fresh interpreter;
    a run forked from a zygote has Keras loaded on TensorFlow already.
    """
    wanted = os.environ.get("KERAS_BACKEND")
    if wanted and "keras" in sys.modules and keras_backend() != wanted:
        raise RuntimeError(
            f"KERAS_BACKEND={wanted} was set after Keras was loaded on {keras_backend()} (a "
            "run forked from a zygote): set it in the profile's environment instead "
            f'(\'"env": {{"KERAS_BACKEND": "{wanted}"}}\'), which starts a fresh interpreter'
        )


def run_phases(
    *, setup: float, after_setup: float, epoch_seconds: list[float]
) -> dict[str, float]:
    """Where a run's time went: setup (profile, imports), build (data, model, compile: the
    function's time outside its epochs) and training (the epochs)."""
    training = sum(epoch_seconds)
    return {"setup": setup, "build": max(0.0, after_setup - training), "training": training}


def run_child(spec: RunSpec | str | bytes, event_fd: int, isolation: str) -> int:
    """Execute one run (a spec or its JSON; a malformed one fails the run) here; the exit code."""
    started = time.perf_counter()
    events = EventWriter(event_fd)
    context: RunContext | None = None
    try:
        if not isinstance(spec, RunSpec):
            spec = RunSpec.parse(spec)
        # Imported here, not at module level: the profile must be applied before anything
        # that could run a TF op, and setup imports TF itself.
        from seedlab.runner.setup import apply_profile

        profile = spec.profile
        tensorflow = tensorflow_installed()
        applied = apply_profile(
            profile,
            seed=spec.seed,  # the init seed
            isolation=isolation,
            order_seed=spec.order_seed,
            split_seed=spec.split_seed,
            tensorflow=tensorflow,
        )
        frameworks = FrameworkSteps(profile, seed=spec.seed, tensorflow=tensorflow)

        from seedlab.experiments.catalog import get_experiment
        from seedlab.runner.fingerprint import capture, frameworks_state

        experiment = get_experiment(spec.experiment)
        _hash, fingerprint = capture(
            experiment=experiment.name,
            version=experiment.version,
            entrypoint=experiment.entrypoint,
            ray=spec.ray,
            tensorflow=tensorflow,
        )

        def announce(pending: dict[str, Any]) -> dict[str, Any]:
            # Sent with the fingerprint, when the frameworks the experiment imported are known.
            events.emit(RunEvent.APPLIED, profile={**applied, "how": frameworks.how()})
            return {**pending, "frameworks": frameworks_state()}

        context = RunContext(
            seed=spec.seed,
            shuffle_seed=applied["order_seed"] if profile.tf_data_seed else None,
            order_seed=spec.order_seed,
            split_seed=spec.split_seed,
            events=events,
            fingerprint=fingerprint,
            trace=profile.trace,
            datasets=dict(spec.datasets),
            before_fingerprint=announce,
        )
        context.applied_profile = applied
        # Every Keras fit reports to the context, whether or not the experiment remembered
        # ctx.keras_callback() (a fit that has it is left alone); PyTorch and JAX get their
        # controls the moment they are imported.
        frameworks.watch(context)
        train = load_entrypoint(experiment.entrypoint)
        check_keras_backend()
        params = experiment.params_model.model_validate(spec.params)
        loaded = time.perf_counter()
        context.begin()
        train(params, context)
        frameworks.finish()
        context.flush_fingerprint()
        phases = run_phases(
            setup=loaded - started,
            after_setup=time.perf_counter() - loaded,
            epoch_seconds=context.epoch_seconds,
        )
        events.emit(RunEvent.DONE, **context.done_fields(), phases=phases)
        return 0
    except BaseException as exc:  # any failure is the run's, reported with its traceback
        # Best effort: when even reporting fails (the agent is gone), the exit code remains.
        with contextlib.suppress(Exception):
            if context is not None:
                context.flush_fingerprint()  # the environment explains many failures
            events.emit(
                RunEvent.ERROR,
                error=f"{type(exc).__name__}: {exc}"[:ERROR_MESSAGE_LIMIT],
                traceback=traceback.format_exc()[-TRACEBACK_TAIL:],
            )
        return 1
    finally:
        events.close()


def main() -> None:
    """Cold-spawn entry: `python -m seedlab.runner.child --event-fd N`, RunSpec JSON on stdin."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--event-fd", type=int, required=True, help="write end of the event pipe")
    args = parser.parse_args()
    sys.exit(run_child(sys.stdin.buffer.read(), args.event_fd, "process"))


if __name__ == "__main__":
    main()
