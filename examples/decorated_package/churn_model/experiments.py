"""The package's seedlab experiments: one custom training loop, one Keras fit.

TensorFlow is imported at the top on purpose: seedlab imports this module only in run
processes and in the agent's catalog loader, never in the API server.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from pydantic import BaseModel, ConfigDict, Field

from churn_model.data import N_FEATURES, churn_data
from seedlab import RunContext, experiment


class ChurnParams(BaseModel):
    """Parameters of both churn experiments (the form and `--param` are generated from them)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt parameter is an error

    epochs: int = Field(3, ge=1, le=500, description="training epochs")
    batch_size: int = Field(32, ge=1, le=4096, description="batch size")
    learning_rate: float = Field(0.01, gt=0, le=1.0, description="Adam learning rate")
    units: int = Field(16, ge=1, le=1024, description="units of the hidden layer")
    n_samples: int = Field(256, ge=32, le=1_000_000, description="rows of synthetic data")
    data_seed: int = Field(0, ge=0, le=2**32 - 1, description="fixes the data")


def build_model(units: int) -> keras.Model:
    """Dense(units, relu) -> Dense(1, sigmoid)."""
    return keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


@experiment(name="churn_loop", params=ChurnParams)
def train_loop(params: ChurnParams, ctx: RunContext) -> None:
    """Churn classifier trained by a custom GradientTape loop, reported with ctx.log."""
    x, y = churn_data(params.n_samples, params.data_seed)
    ctx.record_data(x, y)  # the data hash: runs on different data are never compared blindly
    ctx.set_epochs(params.epochs)
    model = build_model(params.units)
    optimizer = keras.optimizers.Adam(params.learning_rate)
    loss_fn = keras.losses.BinaryCrossentropy()
    # ctx.shuffle_seed is the seed under profiles that control tf.data, None otherwise.
    batches = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=ctx.shuffle_seed)
        .batch(params.batch_size)
    )
    for epoch in range(1, params.epochs + 1):
        total, steps = 0.0, 0
        for x_batch, y_batch in batches:
            with tf.GradientTape() as tape:
                loss = loss_fn(y_batch, model(x_batch, training=True))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
            total += float(loss)
            steps += 1
        accuracy = float(np.mean((model(x).numpy() > 0.5) == (y > 0.5)))
        # model= adds the weights checksum that bit-for-bit verdicts compare.
        ctx.log(epoch, model=model, loss=total / steps, accuracy=accuracy)


@experiment(name="churn_fit", params=ChurnParams)
def train_fit(params: ChurnParams, ctx: RunContext) -> None:
    """Churn classifier trained by plain model.fit: seedlab hooks fit, nothing to add."""
    x, y = churn_data(params.n_samples, params.data_seed)
    model = build_model(params.units)
    model.compile(
        optimizer=keras.optimizers.Adam(params.learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        x, y, epochs=params.epochs, batch_size=params.batch_size, validation_split=0.25, verbose=0
    )
