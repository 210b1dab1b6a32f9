"""`seedlab export mlflow`: a job as an MLflow parent run with one nested run per seedlab run.

Reads the job over HTTP from the seedlab server and writes with MLflow's client (the optional
extra `seedlab[mlflow]`); the API server never imports mlflow. Runs are found again by their
`seedlab.job_id` / `seedlab.run_id` tags, so exporting a job twice updates, never duplicates.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seedlab.agent.client import SeedlabClient
from seedlab.cli.output import JsonOpt, ServerOpt, echo_json, fail, server_call
from seedlab.profiles import TOGGLES

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

export_app = typer.Typer(help="Export seedlab jobs to other tools.")

# MLflow's log_batch limits per call.
MAX_METRICS = 1000
MAX_PARAMS = 100
SPREAD_STATS = ("n", "mean", "std", "min", "max", "range")
JOB_TAG = "seedlab.job_id"
RUN_TAG = "seedlab.run_id"
KIND_TAG = "seedlab.kind"


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _text(value: Any) -> str:
    """A parameter value as MLflow stores it: a string, booleans as true/false."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def spread_metrics(metrics: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Every final metric's spread as val_auc_mean, val_auc_std, ..., val_auc_ci95_low/high."""
    out: dict[str, float] = {}
    for name, spread in sorted(metrics.items()):
        for stat in SPREAD_STATS:
            if spread.get(stat) is not None:
                out[f"{name}_{stat}"] = float(spread[stat])
        if spread.get("ci95"):
            out[f"{name}_ci95_low"], out[f"{name}_ci95_high"] = map(float, spread["ci95"])
    return out


def job_params(report: dict[str, Any]) -> dict[str, str]:
    """The parent run's parameters: experiment, its parameters, seed plan, profile, toggles."""
    profile = report["profile"]
    params = {
        "experiment": report["experiment"],
        "experiment_version": report["experiment_version"],
        "seed_plan": report["seed_plan"],
        "profile": report["profile_name"],
        **{name: _text(value) for name, value in report["params"].items()},
        **{name: _text(profile.get(name)) for name in TOGGLES},
    }
    return params


def run_params(bundle: dict[str, Any]) -> dict[str, str]:
    """A run's parameters: seed, python_hashseed, op_determinism and every toggle."""
    profile, applied = bundle["profile"], bundle.get("applied_profile") or {}
    params = {name: _text(profile.get(name)) for name in TOGGLES}
    params["seed"] = str(bundle["seed"])
    hash_seed = applied.get("hash_seed")
    params["python_hashseed"] = "unset" if hash_seed is None else str(hash_seed)
    params["op_determinism"] = _text(applied.get("op_determinism", profile.get("op_determinism")))
    return params


def _find_run(
    client: MlflowClient, experiment_id: str, kind: str, tag: str, value: int
) -> str | None:
    """The run exported before for this seedlab job or run, if any."""
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{KIND_TAG}` = '{kind}' and tags.`{tag}` = '{value}'",
        max_results=1,
    )
    return found[0].info.run_id if found else None


def _log(
    client: MlflowClient,
    run_id: str,
    *,
    params: dict[str, str],
    tags: dict[str, str],
    points: Iterable[tuple[str, float, int]],
) -> None:
    """Log params, tags and metric points; points already in the run's history are skipped."""
    from mlflow.entities import Metric, Param, RunTag

    existing = client.get_run(run_id).data
    new_params = [Param(k, v) for k, v in params.items() if k not in existing.params]
    history: dict[str, set[tuple[int, float]]] = {}
    now = int(time.time() * 1000)
    metrics = []
    for key, value, step in points:
        if key not in history:
            history[key] = (
                {(m.step, m.value) for m in client.get_metric_history(run_id, key)}
                if key in existing.metrics
                else set()
            )
        if (step, value) not in history[key]:
            metrics.append(Metric(key, value, now, step))
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    for chunk in _chunks(new_params, MAX_PARAMS):
        client.log_batch(run_id, params=list(chunk))
    for chunk in _chunks(metrics, MAX_METRICS):
        client.log_batch(run_id, metrics=list(chunk))


def export_job(
    seedlab: SeedlabClient, client: MlflowClient, *, job_id: int, experiment: str | None
) -> dict[str, Any]:
    """Create or update the job's parent run and its nested runs; the MLflow run ids."""
    report = seedlab.get(f"/api/v1/jobs/{job_id}/report")
    name = experiment or f"seedlab/{report['experiment']}"
    found = client.get_experiment_by_name(name)
    experiment_id = found.experiment_id if found else client.create_experiment(name)
    parent = _find_run(client, experiment_id, "job", JOB_TAG, job_id)
    if parent is None:
        parent = client.create_run(
            experiment_id, run_name=f"job {job_id}", tags={JOB_TAG: str(job_id), KIND_TAG: "job"}
        ).info.run_id
    _log(
        client, parent,
        params=job_params(report),
        tags={"verdict": report["verdict"], "status": report["status"],
              "label": report.get("label") or "", "seedlab.verdict_summary":
              report["verdict_evidence"].get("summary", "")},
        points=[(k, v, 0) for k, v in spread_metrics(report["metrics"]).items()],
    )
    nested: dict[int, str] = {}
    for run in report["runs"]:
        bundle = seedlab.get(f"/api/v1/runs/{run['id']}/bundle")
        series = seedlab.get(f"/api/v1/runs/{run['id']}/metrics", max_points=100_000)["series"]
        run_id = _find_run(client, experiment_id, "run", RUN_TAG, run["id"])
        if run_id is None:
            run_id = client.create_run(
                experiment_id,
                run_name=f"run {run['id']} seed {run['seed']} repeat {run['repeat']}",
                tags={RUN_TAG: str(run["id"]), JOB_TAG: str(job_id), KIND_TAG: "run",
                      "mlflow.parentRunId": parent},
            ).info.run_id
        points = [(s["key"], float(v), int(step)) for s in series for step, v in s["points"]]
        points += [(f"final_{k}", float(v), 0)
                   for k, v in sorted((run.get("final_metrics") or {}).items())]
        _log(
            client, run_id,
            params=run_params(bundle),
            tags={"fingerprint_hash": run.get("fingerprint_hash") or "",
                  "weights_checksum": run.get("weights_checksum") or "",
                  "status": run["status"], "repeat": str(run["repeat"])},
            points=points,
        )
        if run["status"] in ("succeeded", "failed", "cancelled"):
            client.set_terminated(run_id, "FINISHED" if run["status"] == "succeeded" else "FAILED")
        nested[run["id"]] = run_id
    if report["status"] in ("succeeded", "failed", "cancelled"):
        client.set_terminated(parent, "FINISHED" if report["status"] == "succeeded" else "FAILED")
    return {"experiment": name, "experiment_id": experiment_id, "parent_run_id": parent,
            "runs": {str(k): v for k, v in nested.items()}}


@export_app.command("mlflow")
def export_mlflow(
    job: Annotated[int, typer.Argument(help="job id")],
    tracking_uri: Annotated[str, typer.Option("--tracking-uri", help="MLflow tracking URI")],
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", help="MLflow experiment (default: seedlab/EXPERIMENT)"),
    ] = None,
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Log a job to MLflow: a parent run (spread, verdict) and a nested run per seedlab run."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise fail("MLflow is not installed; pip install 'seedlab[mlflow]'") from None
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri)
    with server_call(server) as seedlab:
        try:
            # MLflow prints a "View run" link per run it ends: keep stdout for our output.
            with contextlib.redirect_stdout(sys.stderr):
                result = export_job(seedlab, client, job_id=job, experiment=experiment)
        except MlflowException as exc:
            raise fail(f"MLflow at {tracking_uri}: {exc.message}") from None
    if as_json:
        echo_json(result)
    else:
        typer.echo(
            f"job {job} -> MLflow experiment {result['experiment']!r}: parent run "
            f"{result['parent_run_id']} with {len(result['runs'])} nested run(s)"
        )
