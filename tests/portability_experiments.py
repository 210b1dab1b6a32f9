"""Test-only experiments, each a tiny model with one portability trap (TF-free at import)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from seedlab.experiments.catalog import ExperimentSpec

Trap = Literal[
    "clean",
    "resize_nearest",
    "bincount",
    "fused_batch_norm_inference",
    "segment_sum",
    "parallel_map",
    "options_not_deterministic",
    "parallel_interleave",
    "xla_model",
    "xla_function",
    "unseeded",
]


class TrapParams(BaseModel):
    """Which trap the model or its data pipeline sets."""

    model_config = ConfigDict(extra="forbid")

    trap: Trap = "clean"
    epochs: int = Field(1, ge=1, le=5)


def train(params: TrapParams, ctx: Any) -> None:
    """Fit a 4x4 one-channel toy image classifier for one epoch, with the chosen trap."""
    import keras
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.random((32, 4, 4, 1), dtype=np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32").reshape(-1, 1)
    trap = params.trap
    seed = ctx.seed

    def fused_inference(t: Any) -> Any:
        channels = t.shape[-1]
        out, _, _ = tf.compat.v1.nn.fused_batch_norm(
            t,
            tf.ones([channels]),
            tf.zeros([channels]),
            mean=tf.zeros([channels]),
            variance=tf.ones([channels]),
            is_training=False,
        )
        return out

    @tf.function(jit_compile=True)
    def xla_square(t: Any) -> Any:
        return t * t

    def segment_total(t: Any) -> Any:
        flat = tf.reshape(t, [tf.shape(t)[0], -1])
        ids = tf.zeros([tf.shape(flat)[1]], dtype=tf.int32)
        total = tf.math.unsorted_segment_sum(tf.transpose(flat), ids, 1)
        return t + tf.reshape(tf.transpose(total), [-1, 1, 1, 1]) * 0.01

    def bins(t: Any) -> Any:
        levels = tf.cast(tf.clip_by_value(t, 0.0, 0.99) * 4.0, tf.int32)
        counts = tf.math.bincount(levels, minlength=4, maxlength=4)
        return t + tf.cast(tf.reduce_sum(counts), t.dtype) * 0.0

    def noise(t: Any) -> Any:
        return t + tf.random.normal(tf.shape(t), stddev=0.01)  # no seed: the global one or none

    middle: dict[str, Any] = {
        "resize_nearest": keras.layers.Resizing(8, 8, interpolation="nearest", name="upscale"),
        "bincount": keras.layers.Lambda(bins, name="pixel_bins"),
        "fused_batch_norm_inference": keras.layers.Lambda(fused_inference, name="frozen_norm"),
        "segment_sum": keras.layers.Lambda(segment_total, name="segment_total"),
        "xla_function": keras.layers.Lambda(xla_square, name="xla_square"),
        "unseeded": keras.layers.Lambda(noise, name="raw_noise"),
    }
    layers: list[Any] = [
        keras.Input((4, 4, 1)),
        keras.layers.Conv2D(
            2, 1, name="conv", kernel_initializer=keras.initializers.GlorotUniform(seed)
        ),
    ]
    if trap in middle:
        layers.append(middle[trap])
    if trap == "unseeded":
        layers.append(keras.layers.GaussianNoise(0.01, name="keras_noise"))  # seed=None
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(
            1,
            activation="sigmoid",
            name="head",
            # Unseeded: Keras draws the initializer's seed from Python's `random`.
            kernel_initializer="glorot_uniform"
            if trap == "unseeded"
            else keras.initializers.GlorotUniform(seed + 1),
        ),
    ]
    model = keras.Sequential(layers, name="probe")
    model.compile(
        optimizer="adam", loss="binary_crossentropy", jit_compile=trap == "xla_model"
    )
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if trap == "parallel_map":
        data = data.map(lambda a, b: (a * 1.0, b), num_parallel_calls=2, deterministic=False)
    if trap == "parallel_interleave":
        data = data.interleave(
            lambda a, b: tf.data.Dataset.from_tensors((a, b)),
            num_parallel_calls=2,
            deterministic=False,
        )
    if trap == "unseeded":
        data = data.shuffle(32)  # no seed: the global one, or none under a profile without it
        data = data.map(lambda a, b: (a + tf.random.uniform(tf.shape(a), 0.0, 0.01), b))
    data = data.batch(8)
    if trap == "options_not_deterministic":
        options = tf.data.Options()
        options.deterministic = False
        data = data.map(lambda a, b: (a, b), num_parallel_calls=2).with_options(options)
    ctx.set_data_hash(x, y)
    model.fit(data, epochs=params.epochs, verbose=0)


class TorchTrapParams(BaseModel):
    """Whether the PyTorch probe upsamples between its layers."""

    model_config = ConfigDict(extra="forbid")

    upsample: bool = False


def train_torch(params: TorchTrapParams, ctx: Any) -> None:
    """Two optimizer steps of a tiny PyTorch net; its bilinear upsampling has no deterministic
    CUDA backprop."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(ctx.init_seed)
    layer = torch.nn.Linear(4, 4)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.rand(8, 1, 2, 4, generator=ctx.torch_generator("split"))
    for epoch in (1, 2):
        optimizer.zero_grad()
        out = layer(x)
        if params.upsample:
            out = F.interpolate(out, scale_factor=2, mode="bilinear")
        loss = out.square().mean()
        loss.backward()
        optimizer.step()
        ctx.log(epoch, model=layer, loss=float(loss))


EXPERIMENTS = [
    ExperimentSpec(
        name="portability_probe",
        version="1",
        description="test plugin: a tiny model with one portability trap",
        params_model=TrapParams,
        entrypoint="tests.portability_experiments:train",
    ),
    ExperimentSpec(
        name="torch_portability_probe",
        version="1",
        description="test plugin: a tiny PyTorch net, with or without bilinear upsampling",
        params_model=TorchTrapParams,
        entrypoint="tests.portability_experiments:train_torch",
    ),
]
