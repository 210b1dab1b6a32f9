"""Metrics an experiment declares bounded in [0, 1]: the decorator argument, the project file's
key, the advertisement, and the report's interval that stays inside [0, 1]."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from seedlab.analysis.spread import CI_BOUNDED, CI_T, compute_spread
from seedlab.analysis.types import RunData
from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.experiments.decorated import NoParams, experiment
from seedlab.experiments.inspect import advert as spec_advert
from seedlab.experiments.project import ProjectFileError, load_project
from seedlab.experiments.spec import ExperimentSpec
from seedlab.queue.schemas import ExperimentAdvert
from seedlab.runner.canonical import fingerprint_hash
from tests.experiments.test_agent_catalog import advert, claim, register
from tests.factory import fingerprint

# Five seeds near the upper bound: Student's t reaches past 1.
NEAR_ONE = [0.99, 0.995, 1.0, 0.98, 0.999]


def _runs(metrics: dict[str, list[float]]) -> list[RunData]:
    count = len(next(iter(metrics.values())))
    return [
        RunData(
            run_id=i,
            seed=i,
            repeat=0,
            status="succeeded",
            final_metrics={name: values[i] for name, values in metrics.items()},
        )
        for i in range(count)
    ]


def test_a_declared_metric_gets_the_bounded_interval_an_unknown_name_does_not() -> None:
    spread = compute_spread(_runs({"dice": NEAR_ONE, "hit_score": NEAR_ONE}), bounded=("dice",))
    dice, other = spread["dice"], spread["hit_score"]
    assert dice.ci_method == CI_BOUNDED
    assert dice.ci95 is not None and 0.0 <= dice.ci95[0] <= dice.ci95[1] <= 1.0
    assert other.ci_method == CI_T
    assert other.ci95 is not None and other.ci95[1] > 1.0
    # Without the declaration the name alone decides: dice is not bounded by name.
    assert compute_spread(_runs({"dice": NEAR_ONE}))["dice"].ci_method == CI_T


def segment(params: NoParams, ctx: Any) -> None:
    """A segmentation model (decorated by the test below: run processes import by name)."""


def test_the_decorator_keeps_declared_metrics_sorted_and_unique() -> None:
    train = experiment(name="seg", bounded_metrics=["hit_rate", "dice", "dice"])(segment)
    spec: ExperimentSpec = train.__seedlab_experiment__  # type: ignore[attr-defined]
    assert spec.bounded_metrics == ("dice", "hit_rate")
    assert spec_advert(spec)["bounded_metrics"] == ["dice", "hit_rate"]
    assert ExperimentSpec("x", "1", "", NoParams, "m:f").bounded_metrics == ()


@pytest.mark.parametrize("metrics", ["dice", ["dice", 3], [""], ["x" * 101], None])
def test_bad_declarations_name_the_argument_and_what_is_allowed(metrics: object) -> None:
    with pytest.raises(ValueError, match=r"@experiment\(name='bad'\): bounded_metrics is a list"):
        experiment(name="bad", bounded_metrics=metrics)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bounded_metrics is a list of metric names"):
        ExperimentSpec("x", "1", "", NoParams, "m:f", bounded_metrics=metrics)  # type: ignore[arg-type]


def _project(directory: Path, line: str) -> Path:
    path = directory / "seedlab.toml"
    path.write_text(
        textwrap.dedent(f"""
        [experiments.seg]
        command = "python train.py --seed {{seed}}"
        {line}
        """)
    )
    return path


def test_the_project_file_declares_bounded_metrics(tmp_path: Path) -> None:
    _project(tmp_path, 'bounded_metrics = ["hit_rate", "dice"]')
    (spec,) = load_project(tmp_path)
    assert spec.bounded_metrics == ("dice", "hit_rate")
    _project(tmp_path, "")
    (spec,) = load_project(tmp_path)
    assert spec.bounded_metrics == ()


@pytest.mark.parametrize("value", ['"dice"', "[1]", '[""]', "{ dice = true }"])
def test_a_bad_project_value_names_the_file_experiment_and_key(tmp_path: Path, value: str) -> None:
    path = _project(tmp_path, f"bounded_metrics = {value}")
    with pytest.raises(ProjectFileError) as caught:
        load_project(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: experiment 'seg': bounded_metrics is a list of metric")
    assert "such as ['dice', 'hit_rate']" in message


def test_the_advertisement_checks_and_sorts_declared_metrics() -> None:
    base = {"name": "seg", "version": "1", "params_schema": {"type": "object"}}
    assert ExperimentAdvert.model_validate(base).bounded_metrics == []
    sent = ExperimentAdvert.model_validate({**base, "bounded_metrics": ["iou", "dice", "iou"]})
    assert sent.bounded_metrics == ["dice", "iou"]
    with pytest.raises(ValueError, match="bounded_metrics"):
        ExperimentAdvert.model_validate({**base, "bounded_metrics": [""]})


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, Database(settings.resolved_database_url()))
    with TestClient(app) as c:
        yield c


def _finish(client: TestClient, assignment: dict[str, Any], metrics: dict[str, float]) -> None:
    """Report the run as its run process would: started, then succeeded with these metrics."""
    data = fingerprint({"experiment.name": "fraud_mlp", "experiment.version": "v1"})
    run_id, attempt = assignment["run_id"], assignment["attempt"]
    started = client.post(
        f"/api/v1/agent/runs/{run_id}/started",
        json={
            "attempt": attempt,
            "applied_profile": {"seed": assignment["seed"]},
            "fingerprint_hash": fingerprint_hash(data),
            "fingerprint": data,
            "isolation": "fork",
            "experiment_version": "v1",
        },
    )
    assert started.status_code == 204, started.text
    checksum = f"{assignment['seed']:064x}"
    finished = client.post(
        f"/api/v1/agent/runs/{run_id}/finish",
        json={
            "attempt": attempt,
            "status": "succeeded",
            "final_metrics": metrics,
            "weights_checksum": checksum,
            "epoch_checksums": [checksum],
        },
    )
    assert finished.status_code == 204, finished.text


def test_the_report_uses_the_advertised_declaration(client: TestClient) -> None:
    agent = register(client, experiments=[advert(bounded_metrics=["dice"])])
    (item,) = [e for e in client.get("/api/v1/experiments").json() if e["name"] == "fraud_mlp"]
    assert item["bounded_metrics"] == ["dice"]
    builtin = client.get("/api/v1/experiments/seed_card_mlp").json()
    assert builtin["bounded_metrics"] == []

    job = client.post("/api/v1/jobs", json={"experiment": "fraud_mlp", "seeds": "1:5"})
    assert job.status_code == 201, job.text
    job_id = job.json()["id"]
    for value in NEAR_ONE:
        assignment = claim(client, agent)
        assert assignment is not None
        _finish(client, assignment, {"dice": value, "hit_score": value})

    def metrics() -> dict[str, Any]:
        report = client.get(f"/api/v1/jobs/{job_id}/report")
        assert report.status_code == 200, report.text
        assert report.json()["status"] == "succeeded"
        found: dict[str, Any] = report.json()["metrics"]
        return found

    dice, other = metrics()["dice"], metrics()["hit_score"]
    assert dice["n"] == 5 and dice["ci_method"] == CI_BOUNDED
    assert 0.0 <= dice["ci95"][0] <= dice["ci95"][1] <= 1.0
    assert other["ci_method"] == CI_T and other["ci95"][1] > 1.0

    # The agent moves on to v2 (no declaration): v1's advertisement is gone, and the job's
    # report, built again, still reads the declaration stored with the job's experiment.
    register(client, experiments=[advert(version="v2")])
    assert client.get("/api/v1/experiments/fraud_mlp").json()["bounded_metrics"] == []
    client.app.state.cache.clear()  # type: ignore[attr-defined]
    assert metrics()["dice"]["ci_method"] == CI_BOUNDED


def test_an_advertisement_with_a_bad_declaration_is_refused(client: TestClient) -> None:
    bad = client.post(
        "/api/v1/agent/register",
        json={"name": "x", "hostname": "h", "experiments": [advert(bounded_metrics=[""])]},
    )
    assert bad.status_code == 422 and "bounded_metrics" in bad.text
