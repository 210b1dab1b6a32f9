"""Keras `fit` autolog: every fit in the run process reports to the run context (child side).

Like MLflow's autolog, `keras.Model.fit` is patched once per process, so a script or a training
function reports its epochs, weight checksums and a hash of its training data without a line of
seedlab code. A fit that already has a seedlab callback (`ctx.keras_callback()`) is left alone.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Mapping
from typing import Any

from seedlab.runner.context import MAX_PREDICTIONS, RunContext

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
        history = fit(*bound.args, **bound.kwargs)
        record_portability(context, self, bound.arguments.get("x"))
        if context.predictions is None:
            record_validation_predictions(context, self, bound.arguments.get("validation_data"))
        return history

    fit_with_report.seedlab_autolog = True  # type: ignore[attr-defined]
    keras.Model.fit = fit_with_report


def record_portability(ctx: RunContext, model: Any, x: Any) -> None:
    """Inspect the fit that just ran (its traced step, layers and data) for portability traps."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return  # the checks read TensorFlow's traced step: nothing to inspect on JAX/PyTorch
    from seedlab.runner.portability import inspect_fit
    from seedlab.runner.tfstate import op_determinism_enabled

    applied = ctx.applied_profile
    found, seconds = inspect_fit(
        model,
        x,
        op_determinism=op_determinism_enabled(),
        # Keras' default seeds come from Python's `random`: seeded unless the profile said no.
        python_seeded=applied is None or applied.get("python_seed") is not None,
    )
    ctx.add_portability(found, seconds)


def record_validation_predictions(ctx: RunContext, model: Any, validation: Any) -> None:
    """A binary classifier's scores on fit's in-memory validation data, for the job's churn.

    Ids are hashes of each example's features, so examples line up across seeds only where the
    validation data is the same; data drawn from the seed gives no shared ids (and no churn).
    Predicting runs after fit and changes no weights.
    """
    import numpy as np

    if not isinstance(validation, tuple | list) or len(validation) < 2:
        return
    x_val, y_val = validation[0], validation[1]
    if not isinstance(x_val, np.ndarray) or not isinstance(y_val, np.ndarray):
        return
    n = len(x_val)
    if n == 0 or n > MAX_PREDICTIONS or len(y_val) != n:
        return
    labels = y_val.reshape(n, -1)
    if labels.shape[1] != 1 or not bool(np.isin(labels, (0, 1)).all()):
        return  # not a binary target: a class flip is not defined by one threshold
    scores = eager_scores(model, x_val)
    if scores is None or scores.size != n:
        return
    rows = np.ascontiguousarray(x_val).reshape(n, -1)
    ids = [hashlib.sha256(row.tobytes()).hexdigest()[:16] for row in rows]
    ctx.record_predictions(ids, scores.reshape(-1), labels=labels.reshape(-1).astype(int))


# Examples per eager call when scoring validation data: bounds the memory of a large model.
SCORE_BATCH = 1024


def eager_scores(model: Any, x: Any) -> Any:
    """The model's outputs on x, called eagerly in batches (inference mode), as one array;
    None for a model with several outputs.

    Not `model.predict`: that traces and optimises a predict function of its own, about
    0.15 s per run for the reference MLP, to score a few hundred examples once.
    """
    import keras
    import numpy as np

    batches = []
    for start in range(0, len(x), SCORE_BATCH):
        outputs = model(x[start : start + SCORE_BATCH], training=False)
        if isinstance(outputs, list | tuple | Mapping):
            return None
        batches.append(keras.ops.convert_to_numpy(outputs))
    return np.concatenate(batches)


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
