"""Keras fit autolog: every fit reports once, with a data hash, whatever the callbacks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from seedlab.runner.autolog import install_fit_hook, training_arrays
from seedlab.runner.context import RunContext, arrays_hash
from seedlab.runner.events import EventWriter

pytestmark = pytest.mark.tf


@pytest.fixture(autouse=True)
def unpatched_fit() -> Iterator[None]:
    """Leave keras.Model.fit as found: other tests in this process fit without a context."""
    import keras

    from seedlab.runner import autolog

    fit = keras.Model.fit
    yield
    keras.Model.fit = fit
    autolog._context = None


def _context() -> tuple[RunContext, int]:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    return RunContext(seed=1, shuffle_seed=1, events=EventWriter(write_fd), fingerprint={}), read_fd


def _events(read_fd: int) -> list[dict[str, Any]]:
    chunks = []
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return [json.loads(line) for line in b"".join(chunks).decode().splitlines()]


def _model() -> Any:
    import keras

    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_fit_reports_each_epoch_once_with_a_data_hash() -> None:
    x = np.arange(24, dtype="float32").reshape(8, 3) / 24
    y = np.ones((8, 1), dtype="float32")
    context, read_fd = _context()
    install_fit_hook(context)
    install_fit_hook(context)  # idempotent: a second install changes nothing
    _model().fit(x, y, epochs=2, verbose=0)
    events = _events(read_fd)
    assert [e["event"] for e in events] == ["fingerprint", "epoch", "epoch"]
    assert events[0]["data"]["data_hash"] == arrays_hash(x, y) == context.data_hash
    assert context.epochs == 2 and len(context.epoch_checksums) == 2

    # An experiment that passes its own seedlab callback (the built-ins) is not reported twice,
    # and a data hash it declared is kept.
    other, other_fd = _context()
    install_fit_hook(other)  # the next run in this process reports to its own context
    other.set_data_hash(np.zeros(2))
    _model().fit(x, y, epochs=3, verbose=0, callbacks=[other.keras_callback()])
    kinds = [e["event"] for e in _events(other_fd)]
    assert kinds == ["fingerprint", "epoch", "epoch", "epoch"]
    assert other.data_hash == arrays_hash(np.zeros(2))
    assert _events(read_fd) == []  # the first context heard nothing of the second run


def test_datasets_are_not_consumed_for_a_hash() -> None:
    import tensorflow as tf

    x = np.ones((4, 3), dtype="float32")
    assert training_arrays(x, None) == [x]
    assert len(training_arrays({"b": x, "a": x * 2}, [x])) == 3
    assert training_arrays(tf.data.Dataset.from_tensor_slices(x), None) == []
    context, read_fd = _context()
    install_fit_hook(context)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.ones((4, 1), "float32"))).batch(2)
    _model().fit(dataset, epochs=1, verbose=0)
    assert context.data_hash is None
    assert [e["event"] for e in _events(read_fd)] == ["fingerprint", "epoch"]


def test_a_second_fit_continues_the_epoch_numbers() -> None:
    x = np.ones((4, 3), dtype="float32")
    y = np.ones((4, 1), dtype="float32")
    context, read_fd = _context()
    install_fit_hook(context)
    model = _model()
    model.fit(x, y, epochs=2, verbose=0)
    model.fit(x, y, epochs=1, verbose=0)  # fine-tuning, say
    epochs = [e for e in _events(read_fd) if e["event"] == "epoch"]
    assert [(e["epoch"], e["epochs"]) for e in epochs] == [(1, 2), (2, 2), (3, 3)]
    assert context.epochs == 3 and len(context.epoch_checksums) == 3


def _traced_function_names(monkeypatch: pytest.MonkeyPatch, fit: Any) -> list[str]:
    """The names of the tf.function tracings fit() runs (TF's own names, e.g. fn_with_cond)."""
    from tensorflow.python.eager.polymorphic_function import tracing_compilation

    names: list[str] = []
    call_function = tracing_compilation.call_function

    def recording(args: Any = None, kwargs: Any = None, tracing_options: Any = None) -> Any:
        names.append(getattr(tracing_options, "name", ""))
        return call_function(args, kwargs, tracing_options)

    monkeypatch.setattr(tracing_compilation, "call_function", recording)
    fit()
    return names


def _adam_model() -> Any:
    """A model whose optimizer and metric create their variables inside the first trace."""
    import keras

    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def test_the_noted_train_step_is_not_traced_again_under_a_tf_cond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The input-checksum callback leaves the optimizer's variables liftable: no fn_with_cond
    (a step traced twice more, ~0.2 s per run); a step wrapped in control_dependencies gets it."""
    import tensorflow as tf

    x = np.ones((8, 3), dtype="float32")
    y = np.ones((8, 1), dtype="float32")
    context, _read_fd = _context()
    install_fit_hook(context)
    noted = _adam_model()
    names = _traced_function_names(monkeypatch, lambda: noted.fit(x, y, epochs=1, verbose=0))
    assert len(context.epoch_first_batches) == 1 and context.epoch_first_batches[0]  # noted
    assert "fn_with_cond" not in names, names

    # The control: the same callback as a control dependency of the whole step.
    wrapped = _adam_model()
    train_step = wrapped.train_step

    def step_after_the_callback(data: Any) -> Any:
        tensors = tf.nest.flatten(data)
        done = tf.numpy_function(lambda *a: np.int64(0), tensors, tf.int64, stateful=True)
        with tf.control_dependencies([done]):
            return train_step(data)

    wrapped.train_step = step_after_the_callback
    keras_fit = type(wrapped).fit.__wrapped__  # fit without the hook
    names = _traced_function_names(
        monkeypatch, lambda: keras_fit(wrapped, x, y, epochs=1, verbose=0)
    )
    assert "fn_with_cond" in names, names
