"""Running runs again: a run's bundle (what replay needs), and a job of a job's best seeds."""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy.orm import Session

from seedlab.analysis.significance import lower_is_better
from seedlab.analysis.spread import one_run_per_seed
from seedlab.config import Settings
from seedlab.errors import InvalidInput
from seedlab.fingerprints import repository as fingerprints_repository
from seedlab.jobs import creation
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs.models import Job
from seedlab.jobs.schemas import ExperimentIdentity, JobCreate, ReplayBestCreate, RunBundle
from seedlab.runs import repository as runs_repository
from seedlab.runs import service as runs_service


def data_hashes(fingerprint: dict[str, Any] | None) -> dict[str, Any]:
    """The fingerprint's data hash fields (data_hash and any other *data_hash* key)."""
    return {k: v for k, v in (fingerprint or {}).items() if "data_hash" in k}


REPLAY_LABEL = "replay of job {job_id}"
_REPLAY_LABEL = re.compile(r"^replay of job (\d+)$")


def replayed_job_id(label: str | None) -> int | None:
    """The original job of a replay-best job, read from its label."""
    found = _REPLAY_LABEL.match(label or "")
    return int(found.group(1)) if found else None


def run_bundle(*, session: Session, run_id: int) -> RunBundle:
    """The run's experiment, parameters, seed, profile, environment and results."""
    run = runs_repository.get_run(session=session, run_id=run_id)
    job = run.job
    fingerprint: dict[str, Any] | None = None
    if run.fingerprint_hash:
        fingerprint = fingerprints_repository.get_fingerprint(
            session=session, fingerprint_hash=run.fingerprint_hash
        ).data
    recorded = (fingerprint or {}).get("experiment") or {}
    return RunBundle(
        run_id=run.id,
        job_id=job.id,
        experiment=ExperimentIdentity(
            name=job.experiment_name,
            # What the run loaded, else the catalog's version when the job was queued.
            version=run.experiment_version or job.experiment_version,
            source_hash=recorded.get("source_hash"),
        ),
        params=dict(run.params or job.params),
        seed=run.seed,
        order_seed=run.order_seed,
        split_seed=run.split_seed,
        profile=dict(run.profile or job.profile),
        applied_profile=run.applied_profile,
        data_hashes=data_hashes(fingerprint),
        fingerprint_hash=run.fingerprint_hash,
        fingerprint=fingerprint,
        final_metrics=run.final_metrics,
        weights_checksum=run.weights_checksum,
        epoch_checksums=run.epoch_checksums,
    )


def best_seeds(job: Job, *, metric: str, k: int, higher_is_better: bool) -> list[int]:
    """The K seeds whose run (one per seed) has the best final value of the metric."""
    chosen = one_run_per_seed([runs_service.as_run_data(run, None) for run in job.runs])
    having = [r for r in chosen if math.isfinite(r.final_metrics.get(metric, math.nan))]
    if not having:
        names = sorted({key for run in chosen for key in run.final_metrics}) or ["none"]
        raise InvalidInput(
            f"job {job.id} has no succeeded run with a final {metric!r}; it has: "
            f"{', '.join(names)}"
        )
    sign = -1.0 if higher_is_better else 1.0
    ranked = sorted(having, key=lambda r: (sign * r.final_metrics[metric], r.seed))
    return [run.seed for run in ranked[:k]]


def create_replay_best(
    *, session: Session, job_id: int, payload: ReplayBestCreate, settings: Settings
) -> Job:
    """A job of the top K seeds by the metric, once each under the full profile."""
    job = jobs_repository.job_with_runs(session=session, job_id=job_id)
    if job.kind != "standard":
        raise InvalidInput(f"job {job_id} is an {job.kind} job; only standard jobs are replayed")
    higher = (
        not lower_is_better(payload.metric)
        if payload.higher_is_better is None
        else payload.higher_is_better
    )
    seeds = best_seeds(job, metric=payload.metric, k=payload.k, higher_is_better=higher)
    return creation.create_job(
        session=session,
        payload=JobCreate(
            experiment=job.experiment_name,
            params=dict(job.params),
            seeds={"seeds": seeds, "repeats": 1},
            profile="full",
            label=REPLAY_LABEL.format(job_id=job.id),
        ),
        settings=settings,
    )


def replay_outcomes(
    original: dict[str, Any], replay_report: dict[str, Any], metric: str
) -> dict[str, Any]:
    """Per replayed seed: the original run's and the replay's metric, and whether bits match."""
    first: dict[int, dict[str, Any]] = {}
    for run in sorted(original["runs"], key=lambda r: (r["seed"], r["repeat"], r["id"])):
        if run["status"] == "succeeded":
            first.setdefault(run["seed"], run)
    rows = []
    for run in replay_report["runs"]:
        source = first.get(run["seed"], {})
        before = (source.get("final_metrics") or {}).get(metric)
        after = (run.get("final_metrics") or {}).get(metric)
        weights = run["status"] == "succeeded" and run.get("weights_checksum") is not None and (
            run.get("weights_checksum") == source.get("weights_checksum")
        )
        rows.append({
            "seed": run["seed"],
            "original_run_id": source.get("id"),
            "run_id": run["id"],
            "status": run["status"],
            "original": before,
            "replay": after,
            "difference": None if before is None or after is None else after - before,
            "weights_match": weights,
            "reproduced": weights and before == after,
        })
    return {
        "job_id": replay_report["id"],
        "original_job_id": original["id"],
        "original_profile": original["profile_name"],
        "metric": metric,
        "reproduced": bool(rows) and all(r["reproduced"] for r in rows),
        "seeds": rows,
    }
