"""Decorated experiments in PyTorch, JAX and Keras 3 on any backend (see README.md here).

Each framework is imported inside the training function: the agent imports this file to list
its experiments, and agents never import a framework themselves.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from seedlab import RunContext, experiment


class SmallParams(BaseModel):
    """A few epochs of a tiny model on synthetic data."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(3, ge=1, le=200, description="training epochs")
    learning_rate: float = Field(0.05, gt=0, le=1.0, description="SGD learning rate")
    samples: int = Field(512, ge=32, le=100_000, description="synthetic examples")


@experiment(name="torch_mlp", params=SmallParams, seed_sources=("init", "order", "split"))
def train_torch(params: SmallParams, ctx: RunContext) -> None:
    """A PyTorch MLP with dropout and a shuffled DataLoader; every seed from ctx."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    # The data follows the split seed; weights and dropout the init seed; batches the order.
    data = ctx.torch_generator("split")
    x = torch.rand(params.samples, 16, generator=data)
    y = ((x.sum(dim=1) + 0.5 * torch.randn(params.samples, generator=data)) > 8.0).float()
    ctx.record_data(x.numpy(), y.numpy())
    torch.manual_seed(ctx.init_seed)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 1))
    loader = DataLoader(
        TensorDataset(x, y), batch_size=32, shuffle=True, generator=ctx.torch_generator("order")
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=params.learning_rate, momentum=0.9)
    loss_fn = nn.BCEWithLogitsLoss()
    ctx.set_epochs(params.epochs)
    for epoch in range(1, params.epochs + 1):
        model.train()
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb).squeeze(1), yb)
            loss.backward()
            optimizer.step()
            total += float(loss) * len(xb)
        model.eval()
        with torch.no_grad():
            accuracy = float(((model(x).squeeze(1) > 0).float() == y).float().mean())
        # One line reports the epoch: its metrics and a checksum of the module's state_dict.
        ctx.log(epoch, model=model, loss=total / params.samples, accuracy=accuracy)


@experiment(name="jax_mlp", params=SmallParams, seed_sources=("init", "order", "split"))
def train_jax(params: SmallParams, ctx: RunContext) -> None:
    """A JAX MLP trained with jax.grad: its PRNG keys and data order come from ctx."""
    import jax
    import jax.numpy as jnp

    split_rng = ctx.numpy_rng("split")
    x = split_rng.random((params.samples, 16), dtype="float32")
    y = ((x.sum(axis=1) + 0.5 * split_rng.standard_normal(params.samples)) > 8.0).astype("float32")
    ctx.record_data(x, y)
    init_key, dropout_key = jax.random.split(ctx.jax_key("init"))
    k1, k2 = jax.random.split(init_key)
    weights = {
        "hidden": {"w": jax.random.normal(k1, (16, 32)) * 0.25, "b": jnp.zeros(32)},
        "out": {"w": jax.random.normal(k2, (32, 1)) * 0.18, "b": jnp.zeros(1)},
    }

    def loss_of(w: dict, xb: jax.Array, yb: jax.Array, key: jax.Array) -> jax.Array:
        hidden = jax.nn.relu(xb @ w["hidden"]["w"] + w["hidden"]["b"])
        keep = jax.random.bernoulli(key, 0.8, hidden.shape)  # dropout, from the init key
        logits = ((hidden * keep / 0.8) @ w["out"]["w"] + w["out"]["b"])[:, 0]
        return jnp.mean(jnp.logaddexp(0.0, logits) - yb * logits)

    step = jax.jit(jax.value_and_grad(loss_of))
    order_rng = ctx.numpy_rng("order")
    ctx.set_epochs(params.epochs)
    for epoch in range(1, params.epochs + 1):
        total = 0.0
        order = order_rng.permutation(params.samples)
        for start in range(0, params.samples, 32):
            batch = order[start : start + 32]
            dropout_key, key = jax.random.split(dropout_key)
            loss, grads = step(weights, jnp.asarray(x[batch]), jnp.asarray(y[batch]), key)
            weights = jax.tree_util.tree_map(
                lambda w, g: w - params.learning_rate * g, weights, grads
            )
            total += float(loss) * len(batch)
        # ctx.log takes the parameter pytree itself: its checksum covers every leaf.
        ctx.log(epoch, model=weights, loss=total / params.samples)


@experiment(name="keras_any_backend", params=SmallParams)
def train_keras(params: SmallParams, ctx: RunContext) -> None:
    """Plain Keras 3 `model.fit` on whichever backend the profile's KERAS_BACKEND names."""
    import keras
    import numpy as np

    x = np.random.rand(params.samples, 16).astype("float32")
    y = (x.sum(axis=1) + 0.5 * np.random.randn(params.samples) > 8.0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(params.learning_rate), loss="binary_crossentropy")
    # Nothing seedlab-specific: the fit hook reports each epoch, on TensorFlow, JAX or PyTorch.
    model.fit(x, y, epochs=params.epochs, batch_size=32, shuffle=True, verbose=0)
