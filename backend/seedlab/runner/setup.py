"""Apply the in-process part of a profile before any experiment code (child side; imports TF
where it is installed)."""

from __future__ import annotations

import os
import sys
from typing import Any

from seedlab.profiles import Profile
from seedlab.runner.controls import apply_steps


def onednn_state() -> str:
    """Whether TF's oneDNN custom ops are on, read from TF, and what decided it."""
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    source = "default" if setting is None else f"TF_ENABLE_ONEDNN_OPTS={setting}"
    try:
        # Not public API, but the only read-back: TF's default depends on the CPU (on with
        # AVX512-VNNI/AMX, off otherwise), so the variable alone does not tell.
        from tensorflow.python.util import _pywrap_util_port

        enabled = bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return f"unknown ({source})"
    return f"{'on' if enabled else 'off'} ({source})"


def apply_profile(
    profile: Profile,
    *,
    seed: int,
    isolation: str,
    order_seed: int | None = None,
    split_seed: int | None = None,
    tensorflow: bool = True,
) -> dict[str, Any]:
    """Seed and configure this process; return what is in effect, read back where possible.

    `seed` is the run seed, which is the init seed: Python, NumPy and TF's global seed.
    tensorflow=False: TensorFlow is not installed, so only the interpreter-start steps run.
    """
    if tensorflow:
        configure_tensorflow(profile, seed=seed)
    seed_python_numpy(profile, seed=seed)
    return applied_state(
        profile,
        seed=seed,
        isolation=isolation,
        order_seed=order_seed,
        split_seed=split_seed,
        tensorflow=tensorflow,
    )


def seed_python_numpy(profile: Profile, *, seed: int) -> None:
    """The table's interpreter-start steps: Python's `random` and NumPy, each by its toggle."""
    # Each toggle alone (not keras.utils.set_random_seed, which sets all three at once).
    apply_steps(profile, "start", seed=seed)


def configure_tensorflow(profile: Profile, *, seed: int) -> None:
    """The table's TensorFlow steps: thread pools, global seed, op determinism."""
    apply_steps(profile, "tensorflow", seed=seed)


def applied_state(
    profile: Profile,
    *,
    seed: int,
    isolation: str,
    tensorflow: bool = True,
    order_seed: int | None = None,
    split_seed: int | None = None,
) -> dict[str, Any]:
    """The `applied` event's profile: what is in effect, read back from TF where possible.

    tensorflow=False: the process never imported TF (a command script), so no TF control was
    applied and the TF fields say so (None) instead of importing it.
    """
    order = seed if order_seed is None else order_seed
    state: dict[str, Any] = {
        "seed": seed,
        # The seed of each source of randomness: init (the global seeds), data order, split.
        "init_seed": seed,
        "order_seed": order,
        "split_seed": seed if split_seed is None else split_seed,
        "hash_seed": os.environ.get("PYTHONHASHSEED"),
        "hash_randomization": bool(sys.flags.hash_randomization),
        "python_seed": seed if profile.python_seed else None,
        "numpy_seed": seed if profile.numpy_seed else None,
        "tf_seed": None,
        "tf_data_seed": None,
        "op_determinism": None,
        "inter_op_threads": None,
        "intra_op_threads": None,
        "onednn": "TensorFlow not imported",
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "isolation": isolation,
        "profile": profile.name,
    }
    if not tensorflow:
        return state
    import tensorflow as tf

    from seedlab.runner.tfstate import op_determinism_enabled

    state.update(
        tf_seed=seed if profile.tf_seed else None,
        tf_data_seed=order if profile.tf_data_seed else None,
        op_determinism=op_determinism_enabled(),
        inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
        intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
        onednn=onednn_state(),
    )
    return state
