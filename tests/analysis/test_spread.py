"""compute_spread and band: one succeeded run per seed, against hand-computed statistics."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from seedlab.analysis.spread import band, compute_spread
from tests.factory import make_run

# t(0.975, df=2) in closed form: for 2 degrees of freedom t_p = (2p - 1) * sqrt(2 / (4p(1 - p))).
T_975_DF2 = 0.95 * math.sqrt(2 / (4 * 0.975 * 0.025))


def test_hand_computed_spread_of_three_seeds() -> None:
    runs = [
        make_run(1, 1, final={"val_auc": 0.9}),
        make_run(2, 2, final={"val_auc": 0.92}),
        make_run(3, 3, final={"val_auc": 0.94}),
    ]
    s = compute_spread(runs)["val_auc"]
    assert s.n == 3
    assert s.seeds == [1, 2, 3]
    assert s.mean == pytest.approx(0.92, rel=1e-12)
    # Deviations -0.02, 0, 0.02: sum of squares 0.0008 over n - 1 = 2 -> variance 0.0004.
    assert s.std == pytest.approx(0.02, rel=1e-12)
    assert s.min == 0.9 and s.max == 0.94
    assert s.range == pytest.approx(0.04, rel=1e-12)
    # The tabulated t(0.975, 2) = 4.302652729911275 agrees with the closed form to 1e-10.
    assert pytest.approx(4.302652729911275, rel=1e-10) == T_975_DF2
    half = T_975_DF2 * 0.02 / math.sqrt(3)
    assert half == pytest.approx(0.0496827542368, rel=1e-10)
    assert s.ci95 is not None
    assert s.ci95[0] == pytest.approx(0.92 - half, rel=1e-12)
    assert s.ci95[1] == pytest.approx(0.92 + half, rel=1e-12)
    lo, hi = stats.t.interval(0.95, 2, loc=0.92, scale=0.02 / math.sqrt(3))
    assert s.ci95 == pytest.approx((lo, hi), rel=1e-12)


def test_uses_lowest_succeeded_repeat_per_seed() -> None:
    runs = [
        make_run(13, 1, 2, final={"acc": 0.3}),
        make_run(12, 1, 1, final={"acc": 0.2}),
        make_run(11, 1, 0, status="failed", final={"acc": 0.1}),
        make_run(21, 2, 0, final={"acc": 0.4}),
        make_run(22, 2, 1, final={"acc": 0.5}),
        make_run(31, 3, 0, status="running", final={"acc": 0.9}),
    ]
    s = compute_spread(runs)["acc"]
    assert s.seeds == [1, 2]
    assert (s.n, s.min, s.max) == (2, 0.2, 0.4)


def test_single_seed_has_no_std_or_ci() -> None:
    s = compute_spread([make_run(1, 5, final={"loss": 0.25})])["loss"]
    assert (s.n, s.mean, s.std, s.ci95, s.range) == (1, 0.25, None, None, 0.0)


def test_identical_values_have_exactly_zero_std() -> None:
    runs = [make_run(i, i, final={"acc": 0.1}) for i in range(3)]
    s = compute_spread(runs)["acc"]
    assert s.mean == 0.1 and s.std == 0.0 and s.ci95 == (0.1, 0.1)


def test_metric_selection_and_missing_metric() -> None:
    runs = [make_run(1, 1, final={"a": 1.0, "b": 2.0}), make_run(2, 2, final={"a": 3.0})]
    assert set(compute_spread(runs)) == {"a", "b"}
    picked = compute_spread(runs, ["b", "zzz"])
    assert list(picked) == ["b", "zzz"]
    assert picked["b"].n == 1 and picked["b"].seeds == [1]
    assert picked["zzz"].n == 0 and picked["zzz"].mean is None
    assert compute_spread(runs, []) == {}


def test_to_dict_is_strict_json() -> None:
    runs = [
        make_run(1, 1, final={"ok": 1.0, "bad": math.nan}),
        make_run(2, 2, final={"ok": 2.0, "bad": 1.0}),
    ]
    spread = {name: s.to_dict() for name, s in compute_spread(runs).items()}
    json.dumps(spread, allow_nan=False)
    assert spread["bad"]["mean"] is None and spread["bad"]["ci95"] is None
    assert spread["bad"]["n"] == 2
    ok = spread["ok"]
    assert set(ok) == {"n", "mean", "std", "min", "max", "range", "ci95", "seeds", "ci_method"}
    assert ok["mean"] == 1.5 and isinstance(ok["ci95"], list) and len(ok["ci95"]) == 2


def test_band_mean_and_std_per_common_epoch() -> None:
    runs = [
        make_run(1, 1, 0, curves={"loss": [(1, 1.0), (2, 0.5), (3, 0.25)]}),
        make_run(2, 1, 1, curves={"loss": [(1, 9.0), (2, 9.0), (3, 9.0)]}),  # not the first repeat
        make_run(3, 2, 0, curves={"loss": [(1, 3.0), (2, 1.5)]}),  # still running: no epoch 3
        make_run(4, 3, 0, status="failed", curves={"loss": [(1, 7.0)]}),
        make_run(5, 4, 0, curves={"acc": [(1, 0.5)]}),  # no loss curve: left out
    ]
    expected = [(1, 2.0, math.sqrt(2.0)), (2, 1.0, math.sqrt(0.5))]
    assert band(runs, "loss") == [pytest.approx(row, rel=1e-12) for row in expected]
    assert band(runs, "acc") == [(1, 0.5, None)]
    assert band(runs, "nothing") == []
