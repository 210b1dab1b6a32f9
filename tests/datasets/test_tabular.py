"""tabular_csv's data preparation: encoders fitted on the training split, fixed by split_seed."""

from __future__ import annotations

import numpy as np
import pytest

from seedlab.experiments.builtin_specs import TabularCsvParams

builtin = pytest.importorskip("seedlab.experiments.builtin")  # imports TensorFlow

pytestmark = pytest.mark.tf


def _csv(rows: int = 40) -> bytes:
    lines = ["num,cat,gap,label,flag"]
    for i in range(rows):
        gap = "" if i % 5 == 0 else str(i * 2)
        cat = ["a", "b", "c"][i % 3] if i != 7 else ""
        lines.append(f"{i},{cat},{gap},{'yes' if i % 2 else 'no'},{i % 2}")
    return ("\n".join(lines) + "\n").encode()


def _params(**overrides: object) -> TabularCsvParams:
    values: dict[str, object] = {"dataset": "0" * 64, "target": "label"}
    values.update(overrides)
    return TabularCsvParams.model_validate(values)


def test_numeric_standardised_and_categorical_one_hot_on_the_training_split() -> None:
    x_train, x_val, y_train, y_val = builtin._tabular_data(
        _params(features=["num", "gap", "cat"]), _csv()
    )
    assert x_train.dtype == np.float32 and y_train.dtype == np.float32
    assert len(x_train) == 30 and len(x_val) == 10  # validation_fraction 0.25
    # 2 numeric columns, then one-hot of cat: a, b, c and the missing marker.
    assert x_train.shape[1] == 2 + 4
    # Fitted on the training rows: their mean is 0 and std 1; the validation rows' are not.
    np.testing.assert_allclose(x_train[:, :2].mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(x_train[:, :2].std(axis=0), 1.0, atol=1e-5)
    assert np.all(np.abs(x_val[:, :2].mean(axis=0)) > 1e-4)
    onehot = x_train[:, 2:]
    assert set(np.unique(onehot).tolist()) == {0.0, 1.0} and np.all(onehot.sum(axis=1) == 1)
    # Stratified: the positive share is the same in both splits.
    assert y_train.mean() == pytest.approx(0.5) and y_val.mean() == pytest.approx(0.5)


def test_missing_numbers_take_the_training_mean() -> None:
    data = _csv()
    x_train, _x_val, _y_train, _y_val = builtin._tabular_data(_params(features=["gap"]), data)
    # A filled value is the training mean, which standardises to exactly the centre (0).
    rows = [line.split(",") for line in data.decode().splitlines()[1:]]
    missing = sum(1 for row in rows if row[2] == "")
    centred = int(np.sum(np.abs(x_train[:, 0]) < 1e-6))
    assert 1 <= centred <= missing


def test_targets_and_the_split_seed() -> None:
    data = _csv()
    _, _, y_label, _ = builtin._tabular_data(_params(features=["num"]), data)
    _, _, y_flag, _ = builtin._tabular_data(_params(target="flag", features=["num"]), data)
    # "yes" (the later label in sorted order) is the positive class, like the 1s of flag.
    np.testing.assert_array_equal(y_label, y_flag)
    same = builtin._tabular_data(_params(features=["num"]), data)
    moved = builtin._tabular_data(_params(features=["num"], split_seed=1), data)
    again = builtin._tabular_data(_params(features=["num"]), data)
    np.testing.assert_array_equal(same[0], again[0])
    assert not np.array_equal(same[0], moved[0])
    with pytest.raises(ValueError, match="a target needs exactly two"):
        builtin._tabular_data(_params(target="cat", features=["num"]), data.replace(b",,", b",x,"))
    with pytest.raises(ValueError, match="must hold 0 and 1 only"):
        builtin._tabular_data(_params(target="num", features=["cat"]), data)
