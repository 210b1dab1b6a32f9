"""The in-process apply functions of the control table (seedlab/controls.py), run process side.

Each function takes (on, seed, values): whether the control is on, the run's seed and the
profile's values. It imports its framework itself: a step runs only once that framework has been
imported by the run.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Mapping
from typing import Any

from seedlab.controls import CONTROLS, ApplyFunction, When
from seedlab.profiles import Profile


def resolve(apply: str | ApplyFunction) -> ApplyFunction:
    """The function a step names ("module:function"), or the step's function itself."""
    if callable(apply):
        return apply
    module, _, name = apply.partition(":")
    function: ApplyFunction = getattr(importlib.import_module(module), name)
    return function


def apply_steps(profile: Profile, when: When, *, seed: int) -> list[str]:
    """Run every in-process step of the table that belongs to `when`; the controls touched."""
    values = profile.model_dump()
    steps = [
        (step.order, index, row.name, step.apply)
        for index, row in enumerate(CONTROLS)
        for step in row.steps
        if step.when == when and step.apply is not None
    ]
    touched = []
    for _order, _index, name, apply in sorted(steps, key=lambda s: (s[0], s[1])):
        resolve(apply)(bool(values[name]), seed, values)
        touched.append(name)
    return touched


# ---- interpreter start ----


def python_seed(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """random.seed(seed), or from OS entropy when off."""
    # An unseeded generator is re-seeded from OS entropy: children forked from one zygote would
    # otherwise inherit identical states and hide the very randomness the user asked to see.
    random.seed(seed if on else None)


def numpy_seed(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """np.random.seed(seed), or from OS entropy when off."""
    import numpy as np

    if on:
        np.random.seed(seed)
    else:
        np.random.seed()


# ---- TensorFlow ----


def tf_threads(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """TF's inter-op and intra-op pools to 1 (before its runtime starts)."""
    import tensorflow as tf

    if on:
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(1)


def tf_seed(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """TF's global seed."""
    import tensorflow as tf

    if on:
        tf.random.set_seed(seed)


def op_determinism(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """TF's deterministic kernels."""
    import tensorflow as tf

    if on:
        tf.config.experimental.enable_op_determinism()

