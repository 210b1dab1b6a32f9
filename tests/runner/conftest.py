"""Shared launcher and reference runs: a zygote start and a cold spawn each cost seconds."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedlab.experiments.catalog import MODULES_ENV
from seedlab.experiments.loader import SOURCES_ENV
from seedlab.runner.launcher import Launcher
from tests.runner.support import SMALL_PARAMS, RunResult, collect, profile, run, spec

REPO = Path(__file__).resolve().parents[2]
DECORATED_FRAMEWORKS = REPO / "examples" / "decorated_frameworks" / "experiments.py"

# (experiment, isolation, seed, repeat) -> result, all under the `full` profile.
RunKey = tuple[str, str, int, int]


@pytest.fixture(scope="session")
def launcher() -> Iterator[Launcher]:
    """One launcher for the session; run processes also see the test plugin experiments."""
    pythonpath = os.pathsep.join(
        filter(None, [str(REPO), str(REPO / "backend"), os.environ.get("PYTHONPATH")])
    )
    base_env = {
        **os.environ,
        "PYTHONPATH": pythonpath,
        MODULES_ENV: "tests.plugin_experiments, tests.portability_experiments",
        # Decorated PyTorch, JAX and any-backend Keras experiments (they import no framework
        # until a run calls them).
        SOURCES_ENV: json.dumps([str(DECORATED_FRAMEWORKS)]),
    }
    shared = Launcher(base_env=base_env)
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def full_runs(launcher: Launcher) -> dict[RunKey, RunResult]:
    """Every built-in forked and cold-spawned under `full`, plus seed_card_mlp repeats."""
    cold = profile("full", isolation="process")
    cold_keys: list[RunKey] = [
        *((name, "process", 42, 0) for name in SMALL_PARAMS),
        ("seed_card_mlp", "process", 42, 1),
        ("seed_card_mlp", "process", 43, 0),
    ]
    results: dict[RunKey, RunResult] = {}
    # Two cold spawns at a time (2 cores); forked runs go in between to overlap the waits.
    batches = [cold_keys[:2], cold_keys[2:4], cold_keys[4:]]
    for index, batch in enumerate(batches):
        handles = [launcher.start(spec(k[0], seed=k[2], run_profile=cold)) for k in batch]
        if index == 0:
            for name in SMALL_PARAMS:
                results[(name, "fork", 42, 0)] = run(launcher, spec(name))
        for key, handle in zip(batch, handles, strict=True):
            results[key] = collect(handle)
    return results
