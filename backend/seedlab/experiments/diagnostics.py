"""Diagnostic experiments: one known randomness leak each (run process only; imports TF)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from seedlab.experiments.diagnostic_specs import LeakParams

if TYPE_CHECKING:  # the runner imports this module, never the other way round
    from seedlab.runner.context import RunContext


def _data(params: LeakParams) -> tuple[Any, Any]:
    """Seeded, fixed data: the leak under test must be the only varying thing."""
    rng = np.random.default_rng(params.data_seed)
    x = rng.normal(size=(params.n_samples, params.n_features)).astype("float32")
    w = rng.normal(size=(params.n_features,))
    y = (x @ w + 0.5 * rng.normal(size=params.n_samples) > 0).astype("float32").reshape(-1, 1)
    return x, y


def _model(n_features: int, seed: int) -> keras.Model:
    """Initialisers with op-level seeds and no dropout: nothing random but the leak."""
    model = keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Dense(
                16, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed)
            ),
            keras.layers.Dense(
                1,
                activation="sigmoid",
                kernel_initializer=keras.initializers.GlorotUniform(seed + 1),
            ),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model


def _fit(model: keras.Model, data: Any, params: LeakParams, ctx: RunContext, val: Any) -> None:
    ctx.set_epochs(params.epochs)
    kwargs: dict[str, Any] = (
        {}
        if isinstance(data, tf.data.Dataset)
        else {
            "batch_size": params.batch_size,
            "shuffle": False,
        }
    )
    x = data if isinstance(data, tf.data.Dataset) else data[0]
    y = None if isinstance(data, tf.data.Dataset) else data[1]
    model.fit(
        x,
        y,
        epochs=params.epochs,
        validation_data=val,
        verbose=0,
        callbacks=[ctx.keras_callback()],
        **kwargs,
    )


def train_leak_hash_vocab(params: LeakParams, ctx: RunContext) -> None:
    """Columns ordered by iterating a set of feature names: the order follows the hash seed."""
    x, y = _data(params)
    names = [f"feature_{i}" for i in range(params.n_features)]
    vocabulary = list(set(names))  # the leak: set iteration order depends on string hashes
    columns = [names.index(name) for name in vocabulary]
    x = x[:, columns]
    ctx.set_data_hash(x, y)
    _fit(_model(params.n_features, ctx.seed), (x, y), params, ctx, (x[:64], y[:64]))


def train_leak_python_shuffle(params: LeakParams, ctx: RunContext) -> None:
    """Rows shuffled with the global random.shuffle(), as in the source story."""
    x, y = _data(params)
    rows = list(range(len(x)))
    random.shuffle(rows)  # the leak: Python's global generator
    x, y = x[rows], y[rows]
    ctx.set_data_hash(x, y)
    _fit(_model(params.n_features, ctx.seed), (x, y), params, ctx, (x[:64], y[:64]))


def train_leak_parallel_map(params: LeakParams, ctx: RunContext) -> None:
    """Noise from a random op inside a parallel, non-deterministic tf.data map."""
    x, y = _data(params)
    ctx.set_data_hash(x, y)

    def jitter(features: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        noise = tf.random.uniform(tf.shape(features), -0.1, 0.1, seed=ctx.seed)
        return features + noise, label

    data = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .map(jitter, num_parallel_calls=4, deterministic=False)  # the leak
        .batch(params.batch_size)
    )
    _fit(_model(params.n_features, ctx.seed), data, params, ctx, (x[:64], y[:64]))


def train_leak_unseeded_numpy_rng(params: LeakParams, ctx: RunContext) -> None:
    """Split drawn from np.random.default_rng() without a seed: ignores every global seed."""
    x, y = _data(params)
    order = np.random.default_rng().permutation(len(x))  # the leak: fresh OS entropy
    cut = int(0.75 * len(x))
    train, val = order[:cut], order[cut:]
    ctx.set_data_hash(x[train], y[train])
    _fit(_model(params.n_features, ctx.seed), (x[train], y[train]), params, ctx, (x[val], y[val]))
