"""The built-in experiments' catalog entries: parameter models, versions, entrypoints (TF-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from seedlab.experiments.spec import ExperimentSpec
from seedlab.experiments.versioning import builtin_version

ENTRY_POINT_GROUP = "seedlab.experiments"
# Comma-separated importable modules that define `EXPERIMENTS` (a list of ExperimentSpec); the
# older spelling of SEEDLAB_EXPERIMENT_SOURCES, still read (see experiments/loader.py).
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
