"""Synthetic churn data: fixed by data_seed, so seed variance measures training alone."""

from __future__ import annotations

import numpy as np

N_FEATURES = 8


def churn_data(n_samples: int, data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32, n x 8) and labels (float32, n x 1) from a linear rule plus noise."""
    rng = np.random.default_rng(data_seed)
    x = rng.normal(size=(n_samples, N_FEATURES)).astype("float32")
    weights = rng.normal(size=(N_FEATURES, 1))
    noise = rng.normal(scale=0.5, size=(n_samples, 1))
    y = ((x @ weights + noise) > 0).astype("float32")
    return x, y
