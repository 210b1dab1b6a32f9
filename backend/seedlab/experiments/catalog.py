"""The experiment catalog: names, versions, parameter schemas and entrypoints.

The API server imports this module, so it must never import TensorFlow: training code is named by
an entrypoint string and imported only inside the run process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from seedlab.experiments.versioning import file_digest, short

log = logging.getLogger("seedlab.experiments")

ENTRY_POINT_GROUP = "seedlab.experiments"
# Comma-separated importable modules that define `EXPERIMENTS` (a list of ExperimentSpec); the
# older spelling of SEEDLAB_EXPERIMENT_SOURCES, still read (see experiments/loader.py).
MODULES_ENV = "SEEDLAB_EXPERIMENT_MODULES"
UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class ExperimentSpec:
    """A named, versioned training function with a parameter schema."""

    name: str
    version: str
    description: str
    params_model: type[BaseModel]
    entrypoint: str
    # Where it was loaded from, for people: "builtin", "entry point NAME (VALUE)",
    # "module my_models", "file /abs/my_model.py", "project /abs/seedlab.toml".
    source: str = "builtin"

    def params_schema(self) -> dict[str, Any]:
        """JSON schema of the parameters (drives the browser form)."""
        return self.params_model.model_json_schema()

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validated parameters with defaults filled in; raises pydantic.ValidationError."""
        return self.params_model.model_validate(params).model_dump()


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


def builtin_version(module_file: str) -> str:
    """A built-in's version: "1" plus the short sha256 of the module that trains it, so a changed
    built-in is a new version too."""
    return f"1+{short(file_digest(Path(__file__).with_name(module_file)))}"


BUILTIN_VERSION = builtin_version("builtin.py")

BUILTIN: tuple[ExperimentSpec, ...] = (
    ExperimentSpec(
        name="seed_card_mlp",
        version=BUILTIN_VERSION,
        description="The article's reference MLP: Dense(64, relu) -> Dropout(0.5) -> "
        "Dense(1, sigmoid) on 100 random samples; data drawn from NumPy's global generator.",
        params_model=SeedCardParams,
        entrypoint="seedlab.experiments.builtin:train_seed_card_mlp",
    ),
    ExperimentSpec(
        name="credit_risk_mlp",
        version=BUILTIN_VERSION,
        description="Tabular binary classifier with validation AUC on breast_cancer (real) or "
        "synthetic_credit (imbalanced); seeded tf.data shuffling.",
        params_model=CreditRiskParams,
        entrypoint="seedlab.experiments.builtin:train_credit_risk_mlp",
    ),
    ExperimentSpec(
        name="digits_cnn",
        version=BUILTIN_VERSION,
        description="Small convolutional net on scikit-learn's 8x8 digits; seeded tf.data "
        "shuffling.",
        params_model=DigitsCnnParams,
        entrypoint="seedlab.experiments.builtin:train_digits_cnn",
    ),
)


def list_experiments() -> list[ExperimentSpec]:
    """Built-in and plugin experiments, sorted by name (a plugin cannot shadow a built-in).

    Plugins: the sources named in the environment (SEEDLAB_EXPERIMENT_SOURCES,
    SEEDLAB_EXPERIMENT_MODULES), installed entry points and the working directory's project
    file; a source that fails to load is logged and skipped.
    """
    from seedlab.experiments.loader import load_catalog, sources_from_env

    loaded = load_catalog(sources_from_env(), project_dir=Path.cwd())
    for status in loaded.sources:
        if not status.ok:
            log.error("experiment source %s failed: %s", status.source, status.error)
    return sorted(loaded.specs, key=lambda spec: spec.name)


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
