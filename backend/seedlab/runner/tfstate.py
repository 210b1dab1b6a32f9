"""Read TensorFlow state back (child side, imports TF)."""

from __future__ import annotations


def op_determinism_enabled() -> bool:
    """Whether enable_op_determinism() is in effect in this process."""
    # Not exported under tf.config; this is the function the public setter flips.
    from tensorflow.python.framework import config as tf_config

    return bool(tf_config.is_op_determinism_enabled())
