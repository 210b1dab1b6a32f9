"""Environment diffs between two runs and the variation across a job's runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from seedlab.errors import InvalidInput
from seedlab.fingerprints import repository as fingerprints_repository
from seedlab.fingerprints.diff import (
    diff_applied_profiles,
    diff_fingerprints,
    sort_by_risk,
    varying_applied,
    varying_fields,
)
from seedlab.fingerprints.schemas import JobVariation, RunDiff, VaryingFieldOut
from seedlab.runs import repository as runs_repository
from seedlab.runs import service as runs_service
from seedlab.runs.models import Run


def _fingerprinted_run(session: Session, run_id: int) -> tuple[Run, dict[str, Any]]:
    """The run and its fingerprint data; NotFound or InvalidInput when there is none."""
    run = runs_repository.get_run(session=session, run_id=run_id)
    if not run.fingerprint_hash:
        raise InvalidInput(
            f"run {run_id} has no fingerprint yet (status {run.status}): the run process "
            "records it when it starts"
        )
    fingerprint = fingerprints_repository.get_fingerprint(
        session=session, fingerprint_hash=run.fingerprint_hash
    )
    return run, fingerprint.data


def get_fingerprint(*, session: Session, fingerprint_hash: str) -> dict[str, Any]:
    """The environment a run process saw, by content hash: {hash, data}; NotFound when unknown."""
    fingerprint = fingerprints_repository.get_fingerprint(
        session=session, fingerprint_hash=fingerprint_hash
    )
    return {"hash": fingerprint.hash, "data": fingerprint.data}


def diff_runs(*, session: Session, run_a: int, run_b: int) -> RunDiff:
    """Every environment field and applied toggle that differs between two runs."""
    first, data_a = _fingerprinted_run(session, run_a)
    second, data_b = _fingerprinted_run(session, run_b)
    diff = diff_fingerprints(data_a, data_b).with_fields(
        diff_applied_profiles(first.applied_profile, second.applied_profile)
    )
    return RunDiff.model_validate(
        {
            **diff.to_dict(),
            "run_a": first.id,
            "run_b": second.id,
            "job_a": first.job_id,
            "job_b": second.job_id,
            "seed_a": first.seed,
            "seed_b": second.seed,
            "fingerprint_a": first.fingerprint_hash,
            "fingerprint_b": second.fingerprint_hash,
            "writer_a": runs_service.writer_text(first),
            "writer_b": runs_service.writer_text(second),
        }
    )


def job_variation(*, session: Session, job_id: int, runs: Sequence[Run]) -> JobVariation:
    """Fields and toggles not equal across a job's runs that have a fingerprint."""
    hashes = {run.fingerprint_hash for run in runs if run.fingerprint_hash}
    # Most runs of a job share one fingerprint, so each distinct one is loaded once.
    data = fingerprints_repository.data_by_hash(session=session, hashes=hashes)
    pairs = [(run, data[run.fingerprint_hash]) for run in runs if run.fingerprint_hash in data]
    run_ids = [run.id for run, _ in pairs]
    fields = sort_by_risk(
        [
            *varying_fields([fp for _, fp in pairs], run_ids=run_ids),
            *varying_applied([run.applied_profile for run, _ in pairs], run_ids=run_ids),
        ]
    )
    compared = set(run_ids)
    return JobVariation(
        job_id=job_id,
        runs_compared=run_ids,
        runs_without_fingerprint=[run.id for run in runs if run.id not in compared],
        fields=[VaryingFieldOut.model_validate(f.to_dict()) for f in fields],
    )
