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


# ---- PyTorch (each runs right after `import torch` finished, before CUDA starts) ----


def torch_seed(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """torch.manual_seed: the CPU generator and, lazily, every CUDA device's."""
    import torch

    if on:
        torch.manual_seed(seed)


def torch_deterministic(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """Deterministic algorithms (an error on ops that have none) and deterministic cuDNN."""
    import os

    import torch

    if not on:
        return
    # cuBLAS reads it when its first handle is made; a value the profile's env set wins.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def torch_tf32_off(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """Full float32 precision in matmuls and convolutions (TF32 rounds to 10 mantissa bits)."""
    import torch

    if on:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")


def torch_threads(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """PyTorch's intra-op and inter-op pools to one thread."""
    import contextlib

    import torch

    if on:
        torch.set_num_threads(1)
        # Refused once inter-op work started (a script that imported torch long ago).
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)


def seed_worker(worker_id: int) -> None:
    """A DataLoader worker's worker_init_fn: random and NumPy from the worker's torch seed."""
    import numpy as np
    import torch

    worker_seed = torch.initial_seed() % 2**32
    random.seed(worker_seed)
    np.random.seed(worker_seed)


def torch_loader_seed(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """Every DataLoader gets a seeded generator and, with workers, a seeding worker_init_fn.

    Shuffle order then follows the run seed alone, not how much of the global generator the
    script used before building the loader; workers seed NumPy (which PyTorch leaves alone).
    """
    import functools
    import inspect

    import torch
    from torch.utils.data import DataLoader

    if not on or getattr(DataLoader.__init__, "seedlab_seeded", False):
        return
    original = DataLoader.__init__
    signature = inspect.signature(original)

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind_partial(self, *args, **kwargs)
        if bound.arguments.get("generator") is None:
            bound.arguments["generator"] = torch.Generator().manual_seed(seed)
        if bound.arguments.get("worker_init_fn") is None:
            bound.arguments["worker_init_fn"] = seed_worker
        original(*bound.args, **bound.kwargs)

    init.seedlab_seeded = True  # type: ignore[attr-defined]
    DataLoader.__init__ = init  # type: ignore[method-assign]


# ---- Keras 3, JAX ----


def keras_seed(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """Keras' own global seed: what keras.utils.set_random_seed sets besides random/NumPy/TF."""
    if not on:
        return
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED
    except ImportError:  # another Keras layout: the public call (it also seeds random/NumPy)
        import keras

        keras.utils.set_random_seed(seed)
        return
    global_state.set_global_attribute(GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)


def _add_xla_flags(*flags: str) -> None:
    """Append flags to XLA_FLAGS (kept when already there); XLA reads it when JAX's backend
    starts, which is after `import jax`."""
    import os

    present = os.environ.get("XLA_FLAGS", "").split()
    names = {flag.split("=", 1)[0] for flag in present}
    added = [flag for flag in flags if flag.split("=", 1)[0] not in names]
    if added:
        os.environ["XLA_FLAGS"] = " ".join([*present, *added])


def xla_deterministic(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """XLA's deterministic GPU kernels (scatter, reductions) for JAX."""
    if on:
        _add_xla_flags("--xla_gpu_deterministic_ops=true")


def jax_threads(on: bool, seed: int, values: Mapping[str, Any]) -> None:
    """XLA's CPU backend on one thread."""
    if on:
        _add_xla_flags("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")
