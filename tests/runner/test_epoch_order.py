"""repeated_epoch_order: detected from the run itself, on real Keras training."""

from __future__ import annotations

import pytest

from seedlab.analysis.portability import onednn_warnings
from seedlab.analysis.runwarnings import REPEATED_EPOCH_ORDER, job_warnings, run_warnings
from seedlab.queue.schemas import RunFinished
from seedlab.runner.launcher import Launcher
from tests.runner.support import run, spec

pytestmark = pytest.mark.tf


def test_fit_on_numpy_arrays_repeats_the_order_and_tf_data_reshuffles(
    launcher: Launcher,
) -> None:
    # seed_card_mlp fits NumPy arrays with shuffle=True under a global seed (full profile);
    # credit_risk_mlp feeds a tf.data pipeline with a seeded reshuffling shuffle.
    arrays_run = run(launcher, spec("seed_card_mlp"))
    arrays = arrays_run.done
    pipeline = run(launcher, spec("credit_risk_mlp")).done
    # Besides the order, `full` leaves oneDNN at TF's default: on some CPUs that is a warning.
    environment = onednn_warnings(arrays_run.applied["onednn"])
    assert arrays["warnings"][1:] == pipeline["warnings"] == environment
    assert [w["code"] for w in arrays["warnings"][:1]] == [REPEATED_EPOCH_ORDER]
    warning = arrays["warnings"][0]
    assert warning["where"] == "model.fit input batches"
    assert "reshuffle_each_iteration=True" in warning["message"]
    assert len(arrays["epoch_checksums"]) >= 2 and len(pipeline["epoch_checksums"]) >= 2
    # The fit hook records both binary classifiers' validation scores, ids from row content.
    predictions = pipeline["predictions"]
    assert arrays["predictions"] is not None
    assert len(predictions["ids"]) == len(predictions["scores"]) == len(predictions["labels"]) > 0
    assert all(len(i) == 16 for i in predictions["ids"])
    again = run(launcher, spec("credit_risk_mlp", seed=7)).done["predictions"]
    # Same validation split (fixed by data_seed) under another seed: the ids line up.
    assert again["ids"] == predictions["ids"] and again["labels"] == predictions["labels"]
    assert all(0.0 <= s <= 1.0 for s in predictions["scores"])
    assert set(predictions["labels"]) <= {0, 1}
    # What the agent forwards from the done event is what the server's finish accepts.
    finished = RunFinished(
        attempt=1, status="succeeded", predictions=predictions, warnings=arrays["warnings"]
    )
    assert finished.warnings is not None and len(finished.warnings) == len(arrays["warnings"])
    assert finished.predictions is not None and finished.predictions.ids == predictions["ids"]
    assert finished.warnings is not None and finished.warnings[0].code == REPEATED_EPOCH_ORDER


def test_order_unknown_or_single_epoch_gives_no_warning() -> None:
    assert run_warnings(first_batches=["a", "a"], where="w")[0]["code"] == REPEATED_EPOCH_ORDER
    assert run_warnings(first_batches=["a"], where="w") == []
    assert run_warnings(first_batches=["a", None], where="w") == []
    assert run_warnings(first_batches=["a", "b", "a"], where="w") == []


def test_job_warnings_group_runs() -> None:
    found = run_warnings(first_batches=["a", "a"], where="model.fit input batches")
    grouped = job_warnings([(3, found), (1, found), (2, [])])
    assert grouped == [
        {
            "code": REPEATED_EPOCH_ORDER,
            "where": "model.fit input batches in 2 of 3 run(s) (#1, #3)",
            "message": found[0]["message"],
        }
    ]
