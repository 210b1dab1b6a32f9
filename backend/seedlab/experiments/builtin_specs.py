"""The built-in experiments' catalog entries: parameter models, versions, entrypoints (TF-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seedlab.datasets.params import (
    COLUMN_RULE,
    COLUMN_WIDGET,
    COLUMNS_WIDGET,
    DATASET_WIDGET,
    SOURCE,
    WIDGET,
)
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

class TabularCsvParams(_Params):
    """Binary classifier on an uploaded CSV data set."""

    dataset: str = Field(
        "",
        max_length=100,
        description="name or sha256 of an uploaded CSV data set (the job records its sha256)",
        json_schema_extra={WIDGET: DATASET_WIDGET},
    )
    target: str = Field(
        "",
        max_length=200,
        description="the column to predict: numeric 0/1 or exactly two string labels (the "
        "later one in sorted order is the positive class)",
        json_schema_extra={
            WIDGET: COLUMN_WIDGET,
            SOURCE: "dataset",
            COLUMN_RULE: "binary",
        },
    )
    features: list[str] | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="input columns (default: every column but the target); numeric ones are "
        "standardised, string ones one-hot encoded, both fitted on the training split only",
        json_schema_extra={WIDGET: COLUMNS_WIDGET, SOURCE: "dataset"},
    )
    epochs: int = Field(10, ge=1, le=10_000, description="training epochs")
    batch_size: int = Field(32, ge=1, le=100_000, description="batch size")
    hidden_units: int = Field(32, ge=1, le=4096, description="units of the hidden layer")
    dropout: float = Field(0.2, ge=0.0, le=0.95, description="dropout rate")
    learning_rate: float = Field(0.001, ge=1e-7, le=1.0, description="Adam learning rate")
    validation_fraction: float = Field(
        0.25, ge=0.05, le=0.5, description="share of rows held out for validation (stratified)"
    )
    split_seed: int = Field(
        0,
        ge=0,
        le=UINT32_MAX,
        description="fixes the train/validation split apart from the run seed, so seed "
        "variance measures training",
    )

    @model_validator(mode="after")
    def _features_exclude_target(self) -> TabularCsvParams:
        if self.features is not None:
            if self.target and self.target in self.features:
                raise ValueError(f"features must not include the target {self.target!r}")
            if len(set(self.features)) != len(self.features):
                raise ValueError("features must not name a column twice")
        return self


BUILTIN: tuple[ExperimentSpec, ...] = (
    ExperimentSpec(
        name="seed_card_mlp",
        version=BUILTIN_VERSION,
        description="The article's reference MLP: Dense(64, relu) -> Dropout(0.5) -> "
        "Dense(1, sigmoid) on 100 random samples; data drawn from NumPy's global generator.",
        params_model=SeedCardParams,
        entrypoint="seedlab.experiments.builtin:train_seed_card_mlp",
        seed_sources=("init", "order"),
    ),
    ExperimentSpec(
        name="credit_risk_mlp",
        version=BUILTIN_VERSION,
        description="Tabular binary classifier with validation AUC on breast_cancer (real) or "
        "synthetic_credit (imbalanced); seeded tf.data shuffling.",
        params_model=CreditRiskParams,
        entrypoint="seedlab.experiments.builtin:train_credit_risk_mlp",
        seed_sources=("init", "order", "split"),
    ),
    ExperimentSpec(
        name="digits_cnn",
        version=BUILTIN_VERSION,
        description="Small convolutional net on scikit-learn's 8x8 digits; seeded tf.data "
        "shuffling.",
        params_model=DigitsCnnParams,
        entrypoint="seedlab.experiments.builtin:train_digits_cnn",
        seed_sources=("init", "order", "split"),
    ),
    ExperimentSpec(
        name="tabular_csv",
        version=BUILTIN_VERSION,
        description="Binary classifier on your own CSV (upload it on the Data sets page): "
        "numeric columns standardised, string columns one-hot encoded, stratified split fixed "
        "by split_seed; seeded tf.data shuffling; reports auc, accuracy, loss.",
        params_model=TabularCsvParams,
        entrypoint="seedlab.experiments.builtin:train_tabular_csv",
        seed_sources=("init", "order", "split"),
    ),
)
