"""The run process: apply the profile, fingerprint, run the experiment, report events.

Cold spawn: `python -m seedlab.runner.child --event-fd N` with the RunSpec JSON on stdin.
Forked from a zygote: the zygote calls run_child() in the child and exits with its result.
Events go to the event pipe only; stdout belongs to the experiment.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import traceback
from collections.abc import Callable
from typing import Any

from seedlab.controls import NOT_APPLIED
from seedlab.profiles import Profile
from seedlab.runner.context import RunContext
from seedlab.runner.events import EventWriter, RunEvent
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


def catalog_how(profile: Profile) -> dict[str, str]:
    """How each control was applied to a catalog run: the environment, interpreter-start and
    TensorFlow steps (setup.apply_profile); other frameworks' steps never run here."""
    how = profile.how({"tensorflow"})
    for name, text in how.items():
        if text.startswith(NOT_APPLIED):
            how[name] = (
                f"{NOT_APPLIED}: a catalog experiment runs on TensorFlow, where only the "
                "environment, interpreter-start and TensorFlow steps apply"
            )
    return how


def run_child(spec: RunSpec | str | bytes, event_fd: int, isolation: str) -> int:
    """Execute one run (a spec or its JSON; a malformed one fails the run) here; the exit code."""
    events = EventWriter(event_fd)
    context: RunContext | None = None
    try:
        if not isinstance(spec, RunSpec):
            spec = RunSpec.parse(spec)
        # Imported here, not at module level: the profile must be applied before anything
        # that could run a TF op, and setup imports TF itself.
        from seedlab.runner.setup import apply_profile

        profile = spec.profile
        applied = apply_profile(
            profile,
            seed=spec.seed,  # the init seed
            isolation=isolation,
            order_seed=spec.order_seed,
            split_seed=spec.split_seed,
        )
        events.emit(RunEvent.APPLIED, profile={**applied, "how": catalog_how(profile)})

        from seedlab.experiments.catalog import get_experiment
        from seedlab.runner.autolog import install_fit_hook
        from seedlab.runner.fingerprint import capture

        experiment = get_experiment(spec.experiment)
        _hash, fingerprint = capture(
            experiment=experiment.name,
            version=experiment.version,
            entrypoint=experiment.entrypoint,
            ray=spec.ray,
        )
        context = RunContext(
            seed=spec.seed,
            shuffle_seed=applied["order_seed"] if profile.tf_data_seed else None,
            order_seed=spec.order_seed,
            split_seed=spec.split_seed,
            events=events,
            fingerprint=fingerprint,
            trace=profile.trace,
            datasets=dict(spec.datasets),
        )
        context.applied_profile = applied
        train = load_entrypoint(experiment.entrypoint)
        params = experiment.params_model.model_validate(spec.params)
        # Every Keras fit reports to the context, whether or not the experiment remembered
        # ctx.keras_callback() (a fit that has it is left alone).
        install_fit_hook(context)
        train(params, context)
        context.flush_fingerprint()
        events.emit(RunEvent.DONE, **context.done_fields())
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
