"""The experiment catalog: names, versions, parameter schemas and entrypoints.

The API server imports this module, so it must never import TensorFlow: training code is named by
an entrypoint string and imported only inside the run process.
"""

from __future__ import annotations

import logging
from pathlib import Path

from seedlab.experiments.builtin_specs import (
    BUILTIN,
    BUILTIN_VERSION,
    ENTRY_POINT_GROUP,
    MODULES_ENV,
    UINT32_MAX,
    CreditRiskParams,
    DigitsCnnParams,
    SeedCardParams,
)
from seedlab.experiments.diagnostic_specs import DIAGNOSTIC
from seedlab.experiments.loader import load_catalog, sources_from_env
from seedlab.experiments.spec import ExperimentSpec

__all__ = [
    "BUILTIN",
    "BUILTIN_VERSION",
    "ENTRY_POINT_GROUP",
    "MODULES_ENV",
    "UINT32_MAX",
    "CreditRiskParams",
    "DigitsCnnParams",
    "ExperimentSpec",
    "SeedCardParams",
    "builtin_specs",
    "get_experiment",
    "list_experiments",
]

log = logging.getLogger("seedlab.experiments")


def list_experiments() -> list[ExperimentSpec]:
    """Built-in and plugin experiments, sorted by name (a plugin cannot shadow a built-in).

    Plugins: the sources named in the environment (SEEDLAB_EXPERIMENT_SOURCES,
    SEEDLAB_EXPERIMENT_MODULES), installed entry points and the working directory's project
    file; a source that fails to load is logged and skipped.
    """
    loaded = load_catalog(sources_from_env(), project_dir=Path.cwd())
    for status in loaded.sources:
        if not status.ok:
            log.error("experiment source %s failed: %s", status.source, status.error)
    return sorted(loaded.specs, key=lambda spec: spec.name)


def builtin_specs() -> tuple[ExperimentSpec, ...]:
    """The experiments shipped with seedlab: every agent can run them, advertised or not."""
    return (*BUILTIN, *DIAGNOSTIC)


def get_experiment(name: str) -> ExperimentSpec:
    """The named experiment; KeyError(name) when unknown."""
    # A plugin cannot shadow a built-in, so built-ins need no scan of the installed
    # distributions (about 10 ms, paid by every run process before its first epoch).
    for spec in (*BUILTIN, *DIAGNOSTIC):
        if spec.name == name:
            return spec
    for spec in list_experiments():
        if spec.name == name:
            return spec
    raise KeyError(name)
