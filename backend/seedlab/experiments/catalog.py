"""The experiment catalog: names, versions, parameter schemas and entrypoints.

The API server imports this module, so it must never import TensorFlow: training code is named by
an entrypoint string and imported only inside the run process.
"""

from __future__ import annotations

import importlib
import logging
import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from seedlab.experiments.spec import ExperimentSpec

log = logging.getLogger("seedlab.experiments")

ENTRY_POINT_GROUP = "seedlab.experiments"
# Comma-separated importable modules that define `EXPERIMENTS` (a list of ExperimentSpec): a way
# to add experiments without packaging them. The server and the agents must both see them.
MODULES_ENV = "SEEDLAB_EXPERIMENT_MODULES"
UINT32_MAX = 2**32 - 1


class _Params(BaseModel):
    """Base of the built-in parameter models: unknown names are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class SeedCardParams(_Params):
    """The reference example of the seed-setting article; defaults equal to it."""

    n_samples: int = Field(100, ge=8, le=100_000, description="training samples (np.random.rand)")
    n_features: int = Field(10, ge=1, le=1000, description="input features")
    n_val: int = Field(50, ge=8, le=100_000, description="validation samples, drawn after")
    units: int = Field(64, ge=1, le=4096, description="units of the hidden Dense layer")
    dropout: float = Field(0.5, ge=0.0, le=0.95, description="dropout rate after the hidden layer")
    epochs: int = Field(2, ge=1, le=10_000, description="training epochs")
    batch_size: int = Field(32, ge=1, le=100_000, description="batch size")
    learning_rate: float = Field(0.001, ge=1e-7, le=1.0, description="Adam learning rate")


class CreditRiskParams(_Params):
    """Tabular binary classifier with validation AUC."""

    dataset: Literal["breast_cancer", "synthetic_credit"] = Field(
        "breast_cancer",
        description="breast_cancer: real, bundled with scikit-learn; synthetic_credit: "
        "imbalanced (about 10% positives), generated from data_seed",
    )
    epochs: int = Field(10, ge=1, le=10_000, description="training epochs")
    batch_size: int = Field(32, ge=1, le=100_000, description="batch size")
    hidden_units: int = Field(32, ge=1, le=4096, description="units of the hidden layer")
    dropout: float = Field(0.2, ge=0.0, le=0.95, description="dropout rate")
    learning_rate: float = Field(0.001, ge=1e-7, le=1.0, description="Adam learning rate")
    data_seed: int = Field(
        0,
        ge=0,
        le=UINT32_MAX,
        description="fixes the split and the synthetic data, so seed variance measures training",
    )
    n_samples: int = Field(2000, ge=100, le=1_000_000, description="rows of synthetic_credit")


class DigitsCnnParams(_Params):
    """Small convolutional net on scikit-learn's 8x8 digits."""

    epochs: int = Field(3, ge=1, le=10_000, description="training epochs")
    batch_size: int = Field(64, ge=1, le=100_000, description="batch size")
    filters: int = Field(8, ge=1, le=256, description="convolution filters")
    dense_units: int = Field(32, ge=1, le=4096, description="units of the dense layer")
    dropout: float = Field(0.2, ge=0.0, le=0.95, description="dropout rate")
    learning_rate: float = Field(0.001, ge=1e-7, le=1.0, description="Adam learning rate")
    data_seed: int = Field(
        0, ge=0, le=UINT32_MAX, description="fixes the train/validation split"
    )


BUILTIN: tuple[ExperimentSpec, ...] = (
    ExperimentSpec(
        name="seed_card_mlp",
        version="1",
        description="The article's reference MLP: Dense(64, relu) -> Dropout(0.5) -> "
        "Dense(1, sigmoid) on 100 random samples; data drawn from NumPy's global generator.",
        params_model=SeedCardParams,
        entrypoint="seedlab.experiments.builtin:train_seed_card_mlp",
    ),
    ExperimentSpec(
        name="credit_risk_mlp",
        version="1",
        description="Tabular binary classifier with validation AUC on breast_cancer (real) or "
        "synthetic_credit (imbalanced); seeded tf.data shuffling.",
        params_model=CreditRiskParams,
        entrypoint="seedlab.experiments.builtin:train_credit_risk_mlp",
    ),
    ExperimentSpec(
        name="digits_cnn",
        version="1",
        description="Small convolutional net on scikit-learn's 8x8 digits; seeded tf.data "
        "shuffling.",
        params_model=DigitsCnnParams,
        entrypoint="seedlab.experiments.builtin:train_digits_cnn",
    ),
)


def _entry_point_plugins() -> list[ExperimentSpec]:
    """Experiments registered by installed distributions under ENTRY_POINT_GROUP."""
    specs: list[ExperimentSpec] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception:  # a broken plugin must not take the catalog (and the server) down
            log.exception("cannot load experiment plugin %s (%s)", entry.name, entry.value)
            continue
        if isinstance(loaded, ExperimentSpec):
            specs.append(loaded)
        else:
            log.error("experiment plugin %s is a %s, not an ExperimentSpec; ignored",
                      entry.name, type(loaded).__name__)
    return specs


def _module_plugins() -> list[ExperimentSpec]:
    """Experiments listed by the modules named in SEEDLAB_EXPERIMENT_MODULES."""
    specs: list[ExperimentSpec] = []
    names = [name.strip() for name in os.environ.get(MODULES_ENV, "").split(",")]
    for module_name in filter(None, names):
        try:
            module = importlib.import_module(module_name)
        except Exception:  # same rule as entry points: log it, keep serving the others
            log.exception("cannot import experiment module %s from %s", module_name, MODULES_ENV)
            continue
        specs.extend(s for s in getattr(module, "EXPERIMENTS", []) if isinstance(s, ExperimentSpec))
    return specs


def _project_experiments() -> list[ExperimentSpec]:
    """Command experiments of the project file in the working directory (see project.py)."""
    from seedlab.experiments.project import ProjectFileError, load_project

    try:
        return load_project(Path.cwd())
    except (ProjectFileError, OSError) as exc:  # same rule as plugins: loud, not fatal
        log.error("cannot load the project file: %s", exc)
        return []


def list_experiments() -> list[ExperimentSpec]:
    """Built-in and plugin experiments, sorted by name (a plugin cannot shadow a built-in)."""
    from seedlab.experiments.diagnostic_specs import DIAGNOSTIC  # it imports ExperimentSpec

    by_name = {spec.name: spec for spec in (*BUILTIN, *DIAGNOSTIC)}
    for spec in _entry_point_plugins() + _module_plugins() + _project_experiments():
        if spec.name in by_name and by_name[spec.name] is not spec:
            log.warning("experiment plugin %s ignored: the name is already taken", spec.name)
            continue
        by_name[spec.name] = spec
    return sorted(by_name.values(), key=lambda spec: spec.name)


def get_experiment(name: str) -> ExperimentSpec:
    """The named experiment; KeyError(name) when unknown."""
    from seedlab.experiments.diagnostic_specs import DIAGNOSTIC

    # A plugin cannot shadow a built-in, so built-ins need no scan of the installed
    # distributions (about 10 ms, paid by every run process before its first epoch).
    for spec in (*BUILTIN, *DIAGNOSTIC):
        if spec.name == name:
            return spec
    for spec in list_experiments():
        if spec.name == name:
            return spec
    raise KeyError(name)
