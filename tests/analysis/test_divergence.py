"""The first-divergence locator on fixed traces."""

from __future__ import annotations

from typing import Any

from seedlab.analysis.divergence import TraceData, divergence_sentence, locate_divergence

LAYERS = ["dense", "dense_1"]


def trace(
    run_id: int,
    *,
    initial: list[str] | None = None,
    epochs: list[list[str]] | None = None,
    steps: list[list[Any]] | None = None,
    data_hash: str | None = "d0",
) -> TraceData:
    """A two-layer trace; defaults are the same for every run id."""
    return TraceData(
        run_id=run_id,
        layers=LAYERS,
        initial=initial or ["i0", "i1"],
        epochs=epochs or [["e10", "e11"], ["e20", "e21"]],
        steps=steps,
        data_hash=data_hash,
    )


def steps(*overrides: tuple[int, str | None, list[str]]) -> list[list[Any]]:
    """Two epochs of two steps; overrides replace (index, input, layers) of some steps."""
    rows: list[list[Any]] = [
        [epoch, step, f"in{epoch}{step}", [f"w{epoch}{step}a", f"w{epoch}{step}b"]]
        for epoch in (1, 2)
        for step in (1, 2)
    ]
    for index, batch, layers in overrides:
        rows[index] = [rows[index][0], rows[index][1], batch, layers]
    return rows


def test_identical_traces_have_no_divergence() -> None:
    found = locate_divergence(trace(1, steps=steps()), trace(2, steps=steps()))
    assert found.identical and found.traced
    assert found.epoch is None and found.cause is None
    assert [row["differing"] for row in found.step_timeline] == [[]] * 4


def test_initial_weights_that_differ_are_an_initialisation_cause() -> None:
    other = trace(2, initial=["i0", "other"], epochs=[["x", "y"], ["x2", "y2"]])
    found = locate_divergence(trace(1), other)
    assert not found.identical and not found.traced
    assert (found.epoch, found.step, found.cause) == (0, None, "initialisation")
    assert found.layers == ["dense_1"]
    sentence = divergence_sentence(found.summary())
    assert sentence == "before training: initial weights differ (dense_1)"


def test_a_different_input_batch_is_a_data_order_cause_at_its_step() -> None:
    changed = steps((2, "other-batch", ["x", "y"]), (3, "in22", ["x2", "y2"]))
    found = locate_divergence(
        trace(1, steps=steps()),
        trace(2, steps=changed, epochs=[["e10", "e11"], ["x2", "y2"]]),
    )
    assert (found.epoch, found.step, found.global_step) == (2, 1, 3)
    assert found.cause == "data_order" and found.inputs_differ is True
    assert found.layers == ["dense", "dense_1"]
    assert [row["input_differs"] for row in found.step_timeline] == [False, False, True, False]
    sentence = divergence_sentence(found.summary())
    assert sentence == "epoch 2, step 1: input batch differs (dense, dense_1)"


def test_same_inputs_and_different_weights_are_a_numeric_cause_naming_the_first_layers() -> None:
    changed = steps((1, "in12", ["w12a", "changed"]))
    found = locate_divergence(trace(1, steps=steps()), trace(2, steps=changed))
    assert (found.epoch, found.step, found.cause) == (1, 2, "numeric")
    assert found.inputs_differ is False
    assert found.layers == ["dense_1"]


def test_untraced_runs_give_the_epoch_and_layers_and_the_data_hash_as_a_hint() -> None:
    later = trace(2, epochs=[["e10", "e11"], ["e20", "other"]], data_hash="d1")
    found = locate_divergence(trace(1), later)
    assert (found.epoch, found.step, found.cause) == (2, None, "data")
    assert found.layers == ["dense_1"] and found.data_hash_differs is True
    same_data = locate_divergence(trace(1), trace(2, epochs=later.epochs))
    assert same_data.cause == "unknown" and "trace" in same_data.explanation


def test_one_traced_run_is_compared_per_epoch_only() -> None:
    found = locate_divergence(trace(1, steps=steps()), trace(2, epochs=[["a", "b"], ["c", "d"]]))
    assert not found.traced and found.step_timeline == []
    assert (found.epoch, found.cause) == (1, "unknown")


def test_a_step_without_input_checksum_is_not_evidence_of_data_order() -> None:
    changed = steps((0, None, ["w11a", "other"]))
    found = locate_divergence(trace(1, steps=steps()), trace(2, steps=changed))
    assert found.step_timeline[0]["input_differs"] is None
    assert (found.global_step, found.cause, found.inputs_differ) == (1, "numeric", None)


def test_models_with_different_layers_are_reported_as_such() -> None:
    other = TraceData(run_id=2, layers=["dense"], initial=["i0"], epochs=[["e"]])
    found = locate_divergence(trace(1), other)
    assert (found.epoch, found.cause) == (0, "model")
    assert "['dense']" in found.explanation


def test_runs_that_agree_until_one_stops_diverge_after_the_shorter() -> None:
    found = locate_divergence(trace(1), trace(2, epochs=[["e10", "e11"]]))
    assert not found.identical
    assert (found.epoch, found.cause) == (2, "unknown")
    assert "2 epochs" in found.explanation


def test_summary_leaves_out_the_timeline() -> None:
    found = locate_divergence(trace(1, steps=steps()), trace(2, steps=steps()))
    assert "step_timeline" not in found.summary()
    assert len(found.to_dict()["step_timeline"]) == 4
