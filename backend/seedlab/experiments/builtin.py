"""Built-in training functions (imported only in the run process: they import TensorFlow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from seedlab.datasets import csvfile
from seedlab.experiments.builtin_specs import (
    UINT32_MAX,
    CreditRiskParams,
    DigitsCnnParams,
    SeedCardParams,
    TabularCsvParams,
)

if TYPE_CHECKING:  # the runner imports this module, never the other way round
    from seedlab.runner.context import RunContext


def _dataset(x: Any, y: Any, *, batch_size: int, ctx: RunContext) -> tf.data.Dataset:
    """A shuffled, batched tf.data pipeline whose order follows the order seed alone.

    ctx.shuffle_seed is the order seed (None when the profile leaves tf.data unseeded).
    """
    data = tf.data.Dataset.from_tensor_slices((x, y))
    with ctx.order_scope():
        data = data.shuffle(len(x), seed=ctx.shuffle_seed, reshuffle_each_iteration=True)
    return data.batch(batch_size)


def _split_state(data_seed: int, ctx: RunContext) -> int:
    """The split's random_state: data_seed, moved by the split seed only when the run has one.

    Built-ins pin their split by data_seed so seed variance measures training; a decompose job
    gives its runs a split seed of their own, and then the split varies with it.
    """
    if not ctx.split_seed_given:
        return data_seed
    return (data_seed + ctx.split_seed) % (UINT32_MAX + 1)


def train_seed_card_mlp(params: SeedCardParams, ctx: RunContext) -> None:
    """The article's reference example, trained once from a freshly built model."""
    # Drawn from NumPy's global generator exactly as the reference does: the data depend on the
    # NumPy seed, which is part of what the profile controls.
    x = np.random.rand(params.n_samples, params.n_features)
    y = np.random.randint(0, 2, (params.n_samples, 1))
    x_val = np.random.rand(params.n_val, params.n_features)
    y_val = np.random.randint(0, 2, (params.n_val, 1))
    ctx.set_data_hash(x, y, x_val, y_val)
    ctx.set_epochs(params.epochs)
    model = keras.Sequential(
        [
            keras.Input(shape=(params.n_features,)),
            keras.layers.Dense(params.units, activation="relu"),
            keras.layers.Dropout(params.dropout),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=params.learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    # fit shuffles NumPy arrays with ops seeded from TF's global seed: inside the order scope
    # the batch order follows the order seed (weights and dropout keep the init seed).
    with ctx.order_scope():
        model.fit(
            x,
            y,
            batch_size=params.batch_size,
            epochs=params.epochs,
            validation_data=(x_val, y_val),
            verbose=0,
            callbacks=[ctx.keras_callback()],
        )


def _credit_data(
    params: CreditRiskParams, split_state: int | None = None
) -> tuple[Any, Any, Any, Any]:
    """Standardised, stratified train/validation split; the data fixed by data_seed, the split
    by split_state (data_seed unless the run has its own split seed), never the run seed."""
    from sklearn.datasets import load_breast_cancer, make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if params.dataset == "breast_cancer":
        x, y = load_breast_cancer(return_X_y=True)
    else:
        x, y = make_classification(
            n_samples=params.n_samples,
            n_features=20,
            n_informative=8,
            n_redundant=4,
            weights=[0.9, 0.1],
            flip_y=0.02,
            class_sep=0.8,
            random_state=params.data_seed,
        )
    x_train, x_val, y_train, y_val = train_test_split(
        x,
        y,
        test_size=0.25,
        stratify=y,
        random_state=params.data_seed if split_state is None else split_state,
    )
    scaler = StandardScaler().fit(x_train)
    return (
        scaler.transform(x_train).astype("float32"),
        scaler.transform(x_val).astype("float32"),
        y_train.astype("float32").reshape(-1, 1),
        y_val.astype("float32").reshape(-1, 1),
    )


def _train_binary_mlp(
    params: CreditRiskParams | TabularCsvParams,
    ctx: RunContext,
    x_train: Any,
    x_val: Any,
    y_train: Any,
    y_val: Any,
) -> None:
    """One hidden layer with dropout, sigmoid output; AUC and accuracy every epoch."""
    ctx.set_data_hash(x_train, x_val, y_train, y_val)
    ctx.set_epochs(params.epochs)
    model = keras.Sequential(
        [
            keras.Input(shape=(x_train.shape[1],)),
            keras.layers.Dense(params.hidden_units, activation="relu"),
            keras.layers.Dropout(params.dropout),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=params.learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    model.fit(
        _dataset(x_train, y_train, batch_size=params.batch_size, ctx=ctx),
        epochs=params.epochs,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[ctx.keras_callback()],
    )


def train_credit_risk_mlp(params: CreditRiskParams, ctx: RunContext) -> None:
    """Binary classifier with per-epoch validation AUC and accuracy."""
    _train_binary_mlp(params, ctx, *_credit_data(params, _split_state(params.data_seed, ctx)))


def train_digits_cnn(params: DigitsCnnParams, ctx: RunContext) -> None:
    """A small convnet on 8x8 digits (scaled to [0, 1]), validation split fixed by data_seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., np.newaxis]
    y = digits.target.astype("int32")
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=_split_state(params.data_seed, ctx)
    )
    ctx.set_data_hash(x_train, x_val, y_train, y_val)
    ctx.set_epochs(params.epochs)
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(params.filters, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(params.dense_units, activation="relu"),
            keras.layers.Dropout(params.dropout),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=params.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        _dataset(x_train, y_train, batch_size=params.batch_size, ctx=ctx),
        epochs=params.epochs,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[ctx.keras_callback()],
    )


MISSING_CATEGORY = "(missing)"


def _binary_target(name: str, values: list[str]) -> Any:
    """0/1 labels from a numeric 0/1 column or a column with exactly two string labels."""
    if any(not v for v in values):
        raise ValueError(f"target column {name!r} has missing values; every row needs a label")
    if csvfile.column_type(values) == "number":
        numbers = np.array([csvfile.parse_number(v) for v in values], dtype="float64")
        if not set(np.unique(numbers).tolist()) <= {0.0, 1.0} or len(np.unique(numbers)) != 2:
            raise ValueError(f"numeric target column {name!r} must hold 0 and 1 only")
        return numbers.astype("float32").reshape(-1, 1)
    labels = sorted(set(values))
    if len(labels) != 2:
        raise ValueError(
            f"target column {name!r} has {len(labels)} labels; a target needs exactly two"
        )
    # The later label in sorted order is the positive class: fixed, whatever the row order.
    return (np.array(values) == labels[1]).astype("float32").reshape(-1, 1)


def _tabular_data(
    params: TabularCsvParams, data: bytes, split_state: int | None = None
) -> tuple[Any, Any, Any, Any]:
    """Encoded, stratified train/validation split of a CSV; encoders fitted on training rows."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = csvfile.read_columns(data)
    if params.target not in columns:
        raise ValueError(f"target {params.target!r} is not a column; columns: {list(columns)}")
    features = params.features or [name for name in columns if name != params.target]
    unknown = [name for name in features if name not in columns]
    if unknown or not features:
        raise ValueError(f"features {unknown or features} are not usable; columns: {list(columns)}")
    y = _binary_target(params.target, columns[params.target])
    rows = np.arange(len(y))
    # Fixed by the split_seed parameter, never by the run seed: seed variance then measures
    # training alone (a decompose job's own split seed moves it, see _split_state).
    train, val = train_test_split(
        rows,
        test_size=params.validation_fraction,
        stratify=y.ravel(),
        random_state=params.split_seed if split_state is None else split_state,
    )
    numeric = [n for n in features if csvfile.column_type(columns[n]) == "number"]
    categorical = [n for n in features if n not in numeric]
    parts_train: list[Any] = []
    parts_val: list[Any] = []
    if numeric:
        x = np.array(
            [[csvfile.parse_number(v) if v else np.nan for v in columns[n]] for n in numeric],
            dtype="float64",
        ).T
        present = ~np.isnan(x[train])
        sums = np.where(present, x[train], 0.0).sum(axis=0)
        counts = present.sum(axis=0)
        # Missing values take the training-split mean (0 for a column missing on every row).
        means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        x = np.where(np.isnan(x), means, x)
        scaler = StandardScaler().fit(x[train])
        parts_train.append(scaler.transform(x[train]))
        parts_val.append(scaler.transform(x[val]))
    if categorical:
        text = np.array(
            [[v or MISSING_CATEGORY for v in columns[n]] for n in categorical], dtype=object
        ).T
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)
        encoder.fit(text[train])
        parts_train.append(encoder.transform(text[train]))
        parts_val.append(encoder.transform(text[val]))
    return (
        np.hstack(parts_train).astype("float32"),
        np.hstack(parts_val).astype("float32"),
        y[train],
        y[val],
    )


def train_tabular_csv(params: TabularCsvParams, ctx: RunContext) -> None:
    """Binary classifier on an uploaded CSV with per-epoch AUC, accuracy and loss."""
    data = ctx.read_dataset(params.dataset)  # verified against its sha256, fingerprinted
    _train_binary_mlp(
        params, ctx, *_tabular_data(params, data, _split_state(params.split_seed, ctx))
    )
