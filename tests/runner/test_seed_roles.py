"""Separate seeds per source of randomness: each moves only what it is for, bit for bit."""

from __future__ import annotations

import pytest

from seedlab.runner.launcher import Launcher
from tests.runner.support import RunResult, profile, run, spec

pytestmark = pytest.mark.tf

TRACED = profile("full", trace=True)


def _run(launcher: Launcher, experiment: str, init: int, order: int, split: int) -> RunResult:
    base = spec(experiment, seed=init, run_profile=TRACED)
    return run(launcher, base.model_copy(update={"order_seed": order, "split_seed": split}))


def _inputs(result: RunResult) -> list[str]:
    return [batch for _, _, batch, _ in result.done["trace"]["steps"]]


def test_credit_risk_seeds_move_only_their_own_source(launcher: Launcher) -> None:
    base = _run(launcher, "credit_risk_mlp", 42, 42, 42)
    init = _run(launcher, "credit_risk_mlp", 43, 42, 42)
    order = _run(launcher, "credit_risk_mlp", 42, 43, 42)
    split = _run(launcher, "credit_risk_mlp", 42, 42, 43)
    b = base.done
    assert base.applied["init_seed"] == 42 and order.applied["order_seed"] == 43
    assert split.applied["split_seed"] == 43 and order.applied["tf_data_seed"] == 43
    # init: other initial weights, the same data in the same batch order.
    assert init.done["trace"]["initial"] != b["trace"]["initial"]
    assert init.done["data_hash"] == b["data_hash"] and _inputs(init) == _inputs(base)
    # order: the same initial weights and data, other batches.
    assert order.done["trace"]["initial"] == b["trace"]["initial"]
    assert order.done["data_hash"] == b["data_hash"] and _inputs(order) != _inputs(base)
    # split: the same initial weights, other training and validation rows.
    assert split.done["trace"]["initial"] == b["trace"]["initial"]
    assert split.done["data_hash"] != b["data_hash"]
    for other in (init, order, split):
        assert other.done["weights_checksum"] != b["weights_checksum"]
    # The same three seeds again: bit-identical.
    again = _run(launcher, "credit_risk_mlp", 42, 43, 42)
    assert again.done["weights_checksum"] == order.done["weights_checksum"]


def test_a_run_without_its_own_split_seed_keeps_the_pinned_split(launcher: Launcher) -> None:
    plain = run(launcher, spec("credit_risk_mlp", seed=42, run_profile=TRACED)).done
    given = _run(launcher, "credit_risk_mlp", 42, 42, 42).done
    # Without a split seed the split is data_seed's (as before separate seeds existed); a run
    # given one (a decompose job's) moves the split by it.
    assert given["data_hash"] != plain["data_hash"]
    assert given["trace"]["initial"] == plain["trace"]["initial"]
    base = spec("credit_risk_mlp", seed=42, run_profile=TRACED)
    order_only = run(launcher, base.model_copy(update={"order_seed": 42})).done
    assert order_only["weights_checksum"] == plain["weights_checksum"]


def test_seed_card_order_seed_moves_fit_batch_order_only(launcher: Launcher) -> None:
    base = _run(launcher, "seed_card_mlp", 42, 42, 42)
    order = _run(launcher, "seed_card_mlp", 42, 43, 42)
    init = _run(launcher, "seed_card_mlp", 43, 42, 42)
    assert order.done["trace"]["initial"] == base.done["trace"]["initial"]
    assert order.done["data_hash"] == base.done["data_hash"]
    assert _inputs(order) != _inputs(base)
    # Its data come from NumPy's global generator: the init seed moves them and the weights.
    assert init.done["trace"]["initial"] != base.done["trace"]["initial"]
