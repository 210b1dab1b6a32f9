"""Built-in training functions (imported only in the run process: they import TensorFlow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from seedlab.experiments.catalog import CreditRiskParams, DigitsCnnParams, SeedCardParams

if TYPE_CHECKING:  # the runner imports this module, never the other way round
    from seedlab.runner.context import RunContext


def _dataset(x: Any, y: Any, *, batch_size: int, shuffle_seed: int | None) -> tf.data.Dataset:
    """A shuffled, batched tf.data pipeline; the shuffle takes its own seed (None = unseeded)."""
    data = tf.data.Dataset.from_tensor_slices((x, y))
    data = data.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    return data.batch(batch_size)


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
    model.fit(
        x,
        y,
        batch_size=params.batch_size,
        epochs=params.epochs,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[ctx.keras_callback()],
    )


def _credit_data(params: CreditRiskParams) -> tuple[Any, Any, Any, Any]:
    """Standardised, stratified train/validation split; fixed by data_seed, not the run seed."""
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
        x, y, test_size=0.25, stratify=y, random_state=params.data_seed
    )
    scaler = StandardScaler().fit(x_train)
    return (
        scaler.transform(x_train).astype("float32"),
        scaler.transform(x_val).astype("float32"),
        y_train.astype("float32").reshape(-1, 1),
        y_val.astype("float32").reshape(-1, 1),
    )


def train_credit_risk_mlp(params: CreditRiskParams, ctx: RunContext) -> None:
    """Binary classifier with per-epoch validation AUC and accuracy."""
    x_train, x_val, y_train, y_val = _credit_data(params)
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
        _dataset(x_train, y_train, batch_size=params.batch_size, shuffle_seed=ctx.shuffle_seed),
        epochs=params.epochs,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[ctx.keras_callback()],
    )


def train_digits_cnn(params: DigitsCnnParams, ctx: RunContext) -> None:
    """A small convnet on 8x8 digits (scaled to [0, 1]), validation split fixed by data_seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., np.newaxis]
    y = digits.target.astype("int32")
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=params.data_seed
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
        _dataset(x_train, y_train, batch_size=params.batch_size, shuffle_seed=ctx.shuffle_seed),
        epochs=params.epochs,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[ctx.keras_callback()],
    )
