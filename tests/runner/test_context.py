"""RunContext helpers that need no TensorFlow."""

from __future__ import annotations

from seedlab.runner.context import steady_seconds_per_epoch


def test_seconds_per_epoch_leaves_out_the_first_epoch_when_there_are_more() -> None:
    assert steady_seconds_per_epoch([5.0, 1.0, 2.0]) == 1.5
    assert steady_seconds_per_epoch([5.0]) == 5.0
