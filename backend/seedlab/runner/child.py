"""The run process: apply the profile, fingerprint, run the experiment, report events."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from typing import Any

from seedlab.runner.context import RunContext
from seedlab.runner.events import EventWriter
from seedlab.runner.profile import Profile

TRACEBACK_TAIL = 4000


def run_child(spec: dict[str, Any], event_fd: int, isolation: str) -> int:
    """Execute one run in this process; returns the exit code."""
    events = EventWriter(event_fd)
    try:
        from seedlab.experiments.catalog import get_experiment
        from seedlab.fingerprints.capture import capture
        from seedlab.runner.setup import apply_profile

        profile = Profile.model_validate(spec["profile"])
        seed = int(spec["seed"])
        applied = apply_profile(profile, seed=seed, isolation=isolation)
        events.emit("applied", profile=applied)
        experiment = get_experiment(spec["experiment"])
        module_name, _, function_name = experiment.entrypoint.partition(":")
        train = getattr(importlib.import_module(module_name), function_name)
        context = RunContext(
            seed=seed, shuffle_seed=seed if profile.tf_data_seed else None, events=events
        )
        _hash, data = capture(
            experiment=experiment.name, version=experiment.version,
            entrypoint=experiment.entrypoint,
        )
        context.hold_fingerprint(data)
        params = experiment.params_model.model_validate(spec["params"])
        train(params, context)
        context.send_fingerprint()
        if not context.epoch_checksums:
            raise RuntimeError(f"experiment {experiment.name} reported no epoch")
        events.emit("done", **context.done_fields())
        return 0
    except BaseException as exc:  # the run fails; the agent reports it with the traceback
        try:
            events.emit(
                "error",
                error=f"{type(exc).__name__}: {exc}"[:2000],
                traceback=traceback.format_exc()[-TRACEBACK_TAIL:],
            )
        except OSError:
            pass  # the agent is gone; nothing left to tell
        return 1
    finally:
        events.close()


def main() -> None:
    """Cold-spawn entry: `python -m seedlab.runner.child --event-fd N` with the spec on stdin."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--event-fd", type=int, required=True)
    args = parser.parse_args()
    spec = json.loads(sys.stdin.read())
    sys.exit(run_child(spec, args.event_fd, "process"))


if __name__ == "__main__":
    main()
