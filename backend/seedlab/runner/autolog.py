"""Keras `fit` autolog: every fit in the run process reports to the run context (child side).

Like MLflow's autolog, `keras.Model.fit` is patched once per process, so a script or a training
function reports its epochs, weight checksums and a hash of its training data without a line of
seedlab code. A fit that already has a seedlab callback (`ctx.keras_callback()`) is left alone.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any

from seedlab.runner.context import RunContext

# The context the patched fit reports to; replaced by each install (one run per process).
_context: RunContext | None = None


def install_fit_hook(ctx: RunContext) -> None:
    """Make every `keras.Model.fit` in this process report to ctx (idempotent)."""
    import keras

    global _context
    _context = ctx
    fit = keras.Model.fit
    if getattr(fit, "seedlab_autolog", False):
        return  # already patched: the new context is all that changes
    signature = inspect.signature(fit)

    @functools.wraps(fit)
    def fit_with_report(self: Any, *args: Any, **kwargs: Any) -> Any:
        context = _context
        if context is None:
            return fit(self, *args, **kwargs)
        bound = signature.bind_partial(self, *args, **kwargs)
        callbacks = list(bound.arguments.get("callbacks") or [])
        if not any(getattr(callback, "seedlab_reporter", False) for callback in callbacks):
            callbacks.append(context.keras_callback())
        bound.arguments["callbacks"] = callbacks
        if context.data_hash is None:
            arrays = training_arrays(bound.arguments.get("x"), bound.arguments.get("y"))
            if arrays:
                context.set_data_hash(*arrays)
        return fit(*bound.args, **bound.kwargs)

    fit_with_report.seedlab_autolog = True  # type: ignore[attr-defined]
    keras.Model.fit = fit_with_report


def training_arrays(*values: Any) -> list[Any]:
    """The in-memory arrays of fit's x and y, in order; [] for a dataset or generator.

    Only data held in memory can be hashed without consuming it; a tf.data pipeline or a Python
    generator would be drained, so such a fit records no data hash.
    """
    import numpy as np

    arrays: list[Any] = []

    def collect(value: Any) -> bool:
        if value is None:
            return True
        if isinstance(value, np.ndarray):
            arrays.append(value)
            return True
        if hasattr(value, "numpy") and hasattr(value, "dtype") and hasattr(value, "shape"):
            arrays.append(np.asarray(value.numpy()))  # an eager tensor
            return True
        if isinstance(value, Mapping):
            return all(collect(value[key]) for key in sorted(value))
        if isinstance(value, list | tuple):
            return all(collect(item) for item in value)
        return False

    if all(collect(value) for value in values):
        return arrays
    return []
