"""RunContext helpers that need no TensorFlow."""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

import numpy as np
import pytest

from seedlab.runner.context import RunContext, arrays_hash, steady_seconds_per_epoch
from seedlab.runner.events import EventWriter


def test_seconds_per_epoch_leaves_out_the_first_epoch_when_there_are_more() -> None:
    assert steady_seconds_per_epoch([5.0, 1.0, 2.0]) == 1.5
    assert steady_seconds_per_epoch([5.0]) == 5.0


def _context() -> tuple[RunContext, Any]:
    read_fd, write_fd = os.pipe()
    context = RunContext(seed=1, shuffle_seed=1, events=EventWriter(write_fd), fingerprint={})
    return context, os.fdopen(read_fd, "r", encoding="utf-8")


def test_log_reports_epochs_of_a_custom_loop_without_weights_when_no_model_is_given() -> None:
    context, reader = _context()
    context.record_data(np.arange(4, dtype="float32"), ["a", "b"])
    context.set_epochs(2)
    context.log(1, loss=0.5, accuracy=np.float32(0.75))
    context.log(2, loss=0.25)
    context._events.close()
    events = [json.loads(line) for line in reader]
    assert [e["event"] for e in events] == ["fingerprint", "epoch", "epoch"]
    assert events[0]["data"]["data_hash"] == context.data_hash
    assert [(e["epoch"], e["epochs"], e["weights_checksum"]) for e in events[1:]] == [
        (1, 2, None),
        (2, 2, None),
    ]
    assert events[1]["metrics"] == {"loss": 0.5, "accuracy": 0.75}
    done = context.done_fields()
    assert done["final_metrics"] == {"loss": 0.25}
    assert done["weights_checksum"] is None and done["epoch_checksums"] is None


def test_record_data_hashes_values_not_pointers_for_object_arrays() -> None:
    strings = np.array(["x", "yy", None], dtype=object)
    assert arrays_hash(strings) == arrays_hash(np.array(["x", "yy", None], dtype=object))
    assert arrays_hash(strings) != arrays_hash(np.array(["x", "yy", "z"], dtype=object))
    numbers = np.arange(3, dtype="int64")  # numeric arrays keep their raw-bytes hash
    assert arrays_hash(numbers) == hashlib.sha256(numbers.tobytes()).hexdigest()


@pytest.mark.parametrize(
    ("args", "metrics", "error", "message"),
    [
        ((0,), {"loss": 1.0}, ValueError, "step must be an int above the last one logged (0)"),
        ((1.5,), {"loss": 1.0}, ValueError, "step must be an int"),
        ((1,), {}, ValueError, "give at least one metric"),
        ((1,), {"loss": "low"}, TypeError, "metric 'loss' must be a number"),
        ((1,), {"loss": np.zeros(3)}, TypeError, "metric 'loss' must be a number"),
    ],
)
def test_log_rejects_what_cannot_be_a_curve(
    args: tuple[Any, ...], metrics: dict[str, Any], error: type[Exception], message: str
) -> None:
    context, _reader = _context()
    with pytest.raises(error, match=re.escape(message)):
        context.log(*args, **metrics)


def test_log_steps_must_increase() -> None:
    context, _reader = _context()
    context.log(1, loss=1.0)
    with pytest.raises(ValueError, match=re.escape("above the last one logged (1), got 1")):
        context.log(1, loss=0.5)
