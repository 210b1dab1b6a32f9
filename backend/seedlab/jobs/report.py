"""The job report (verdict, spread, divergence, audit) and the overlay chart of its runs."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from seedlab.analysis.audit import BASELINE, AuditRun, audit_report
from seedlab.analysis.runwarnings import grouped_warnings, job_warnings
from seedlab.analysis.seedscience import (
    percentile_of,
    prediction_churn,
    seed_lottery,
    seeds_needed,
)
from seedlab.analysis.significance import POWER, lower_is_better
from seedlab.analysis.spread import compute_spread, one_run_per_seed, summarize
from seedlab.analysis.types import RunData
from seedlab.analysis.verdict import compute_verdict
from seedlab.cache import ResultCache
from seedlab.charts.overlay import default_metric, overlay_figure
from seedlab.controls import applied_toggles
from seedlab.divergence import service as divergence_service
from seedlab.errors import InvalidInput
from seedlab.experiments import service as experiments_service
from seedlab.jobs import decompose, sweep
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs import service as jobs_service
from seedlab.jobs.models import Job
from seedlab.jobs.schemas import (
    AppliedToggleOut,
    ChurnOut,
    DecompositionOut,
    DifferenceNeeded,
    HalfwidthNeeded,
    JobReport,
    MetricSpreadOut,
    PercentileOut,
    SeedLotteryOut,
    SeedsNeededOut,
    SweepOut,
    WarningGroupOut,
    WarningOut,
)
from seedlab.profiles import AUDITED_TOGGLES
from seedlab.runs import repository as runs_repository
from seedlab.runs import service as runs_service
from seedlab.runs.models import Run
from seedlab.status import TERMINAL_JOB_STATUSES


def build_report(
    *,
    session: Session,
    job_id: int,
    cache: ResultCache,
    halfwidth: float | None = None,
    difference: float | None = None,
    value: float | None = None,
    metric: str | None = None,
) -> JobReport:
    """Status, verdict with evidence, spread across seeds, and every run; seeds needed for the
    given targets (defaults otherwise) and, given a value, its percentile among the seeds."""
    job = jobs_repository.get_job(session=session, job_id=job_id)
    finished = job.status in TERMINAL_JOB_STATUSES
    key = (job.id, job.finished_at)
    report: JobReport
    if finished and (cached := cache.reports.get(key)) is not None:
        report = cached
    else:
        report = _build_report(session, job_id, cache)
        if finished:
            cache.reports.put(key, report)
    if metric is not None and value is None:
        raise InvalidInput("metric picks the metric a value is placed in: give value too")
    # Computed on the cached report: targets and values vary per request, the seeds do not.
    values = seed_values(report)
    return report.model_copy(
        update={
            "seeds_needed": seeds_needed_section(
                values, halfwidth=halfwidth, difference=difference
            ),
            "percentile": None
            if value is None
            else percentile_section(values, value=value, metric=metric),
        }
    )


def seed_values(report: JobReport) -> dict[str, list[float]]:
    """Each final metric's finite value per seed: the report's spread sample (one succeeded
    run per seed, its first repeat, of the job's experiment version; a decompose job's from
    its all-vary group, where every seed varies)."""
    versions = report.verdict_evidence.get("versions", {})
    same_version = set(versions.get(report.experiment_version, []))
    sample = [
        run
        for run in report.runs
        if report.kind != "decompose" or run.variant == decompose.ALL_VARY
    ]
    chosen: dict[int, dict[str, float]] = {}
    for run in sorted(sample, key=lambda r: (r.seed, r.repeat, r.id)):
        if run.status == "succeeded" and run.id in same_version and run.seed not in chosen:
            chosen[run.seed] = dict(run.final_metrics or {})
    out: dict[str, list[float]] = {}
    for name in sorted(report.metrics):
        out[name] = [
            float(metrics[name])
            for metrics in chosen.values()
            if name in metrics and math.isfinite(metrics[name])
        ]
    return out


def seeds_needed_section(
    values: dict[str, list[float]], *, halfwidth: float | None, difference: float | None
) -> dict[str, SeedsNeededOut]:
    """Per final metric with 3+ seeds: seeds for a CI half-width and to detect a difference.

    Defaults: half the metric's current CI half-width (about four times the seeds) and one std.
    """
    out: dict[str, SeedsNeededOut] = {}
    for name, sample in values.items():
        if len(sample) < 3:
            continue
        spread = summarize(sample)
        std = spread.std if spread.std is not None and math.isfinite(spread.std) else None
        if std is None:
            continue
        current = (spread.ci95[1] - spread.ci95[0]) / 2 if spread.ci95 else 0.0
        hw_target = halfwidth if halfwidth is not None else (current / 2 if current > 0 else None)
        diff_target = difference if difference is not None else (std if std > 0 else None)
        needed = seeds_needed(sample, halfwidth=hw_target, difference=diff_target, power=POWER)
        out[name] = SeedsNeededOut(
            n=len(sample),
            std=std,
            halfwidth=None
            if hw_target is None
            else HalfwidthNeeded(target=hw_target, seeds=needed["halfwidth"]),
            difference=None
            if diff_target is None
            else DifferenceNeeded(target=diff_target, power=POWER, seeds=needed["difference"]),
        )
    return out


def percentile_section(
    values: dict[str, list[float]], *, value: float, metric: str | None
) -> PercentileOut:
    """Where value falls among the seeds of one final metric (default: the most telling one)."""
    if not math.isfinite(value):
        raise InvalidInput(f"value must be a finite number, got {value}")
    names = [name for name, sample in values.items() if len(sample) >= 2]
    chosen = metric if metric is not None else default_metric(names)
    if chosen is None or chosen not in names:
        allowed = ", ".join(names) or "none yet (a metric needs 2+ seeds with a final value)"
        wanted = "a metric" if chosen is None else f"metric {chosen!r}"
        raise InvalidInput(
            f"cannot place a value in {wanted}: the job's metrics with 2+ seeds are {allowed}"
        )
    higher = not lower_is_better(chosen)
    return PercentileOut(
        metric=chosen,
        value=value,
        percentile=percentile_of(values[chosen], value, higher_is_better=higher),
        n=len(values[chosen]),
        higher_is_better=higher,
    )


def _build_report(session: Session, job_id: int, cache: ResultCache) -> JobReport:
    job = jobs_repository.job_with_runs(session=session, job_id=job_id)
    curves = runs_repository.job_curves(session=session, job_id=job.id)
    data = {run.id: runs_service.as_run_data(run, curves.get(run.id)) for run in job.runs}
    audit = None
    # Runs of another experiment version ran other code: they are never compared with these.
    same_version = {run.id for run in job.runs if _ran_job_version(job, run)}
    if job.kind == "audit":
        audit = _audit_section(session, job, data, cache)
    # An audit's verdict is its baseline pair's (every control on), a decompose job's its
    # kernels group's (same-seed repeats under seeds_only).
    compared = [
        data[run.id] for run in job.runs if _verdict_run(job, run) and run.id in same_version
    ]
    # A decompose job's seeds spread in its all-vary group: every seed takes each value.
    across = (
        [
            data[run.id]
            for run in job.runs
            if run.variant == decompose.ALL_VARY and run.id in same_version
        ]
        if job.kind == "decompose"
        else compared
    )
    verdict = compute_verdict(compared, tolerance=job.tolerance).to_dict()
    # Metrics the experiment declares bounded in [0, 1] get an interval inside the bounds, as
    # those bounded by name (accuracy, AUC, ...) do.
    bounded = experiments_service.bounded_metrics(
        session=session, name=job.experiment_name, version=job.experiment_version
    )
    spread = compute_spread(across, bounded=bounded)
    differing = {
        (seed["run_ids"][0], seed["run_ids"][1]): seed["seed"]
        for seed in verdict["seeds"]
        if not seed["weights_identical"] and len(seed["run_ids"]) >= 2
    }
    divergence = divergence_service.seed_divergences(
        session=session, runs=job.runs, pairs=list(differing), cache=cache
    )
    # One numbering of epochs: where the traces locate a divergence (0 = before training), the
    # verdict says the same.
    located = {
        differing[(found.run_a, found.run_b)]: found.epoch
        for found in divergence
        if found.epoch is not None
    }
    if located:
        verdict = compute_verdict(
            compared, tolerance=job.tolerance, located_epochs=located
        ).to_dict()
    counts: dict[str, int] = {}
    for run in job.runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    return JobReport(
        id=job.id,
        kind=job.kind,
        status=job.status,
        experiment=job.experiment_name,
        experiment_version=job.experiment_version,
        params=job.params,
        seed_plan=job.seed_plan_text,
        profile_name=job.profile_name,
        profile=job.profile,
        tolerance=job.tolerance,
        verdict=verdict["verdict"],
        verdict_evidence=_version_evidence(verdict, job),
        metrics={name: MetricSpreadOut(**s.to_dict()) for name, s in sorted(spread.items())},
        run_counts=counts,
        runs=[runs_service.run_summary(run) for run in job.runs],
        divergence=divergence,
        audit=audit,
        seed_lottery=_seed_lottery(across),
        churn=_churn(job, across),
        sequential=jobs_service.sequential_out(job),
        decomposition=_decomposition(job, same_version),
        sweep=_sweep(job),
        warnings=[
            WarningOut(**w)
            for w in job_warnings([(run.id, run.warnings or []) for run in job.runs])
        ],
        warning_groups=[
            WarningGroupOut(**g)
            for g in grouped_warnings([(run.id, run.warnings or []) for run in job.runs])
        ],
        applied_toggles=[
            AppliedToggleOut(**asdict(row))
            for row in applied_toggles(
                job.profile,
                [run.applied_profile for run in job.runs if run.applied_profile is not None],
            )
        ],
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


def _sweep(job: Job) -> SweepOut | None:
    """A sweep's configurations compared on their common seeds (sweep jobs only)."""
    found = sweep.section(job, list(job.runs))
    return None if found is None else SweepOut(**found)


def _decomposition(job: Job, same_version: set[int]) -> dict[str, DecompositionOut] | None:
    """Each source's share of every final metric's variance (decompose jobs only)."""
    if job.kind != "decompose":
        return None
    plan = decompose.stored_plan(job.seed_plan, job.experiment_name)
    runs = [
        (run.variant, run.final_metrics)
        for run in job.runs
        if run.status == "succeeded" and run.id in same_version
    ]
    found = decompose.decomposition(
        runs, sources=plan.sources, finished=job.status in TERMINAL_JOB_STATUSES
    )
    return {name: DecompositionOut(**section) for name, section in found.items()}


def _seed_lottery(compared: list[RunData]) -> dict[str, SeedLotteryOut]:
    """E[best of k seeds] per final metric, over one run per seed with a finite value."""
    chosen = one_run_per_seed(compared)
    names = sorted({name for run in chosen for name in run.final_metrics})
    out: dict[str, SeedLotteryOut] = {}
    for name in names:
        values = [
            run.final_metrics[name]
            for run in chosen
            if name in run.final_metrics and math.isfinite(run.final_metrics[name])
        ]
        if len(values) >= 2:
            lottery = seed_lottery(values, higher_is_better=not lower_is_better(name))
            out[name] = SeedLotteryOut(**lottery)
    return out


CHURN_THRESHOLD = 0.5


def _churn(job: Job, compared: list[RunData]) -> ChurnOut | None:
    """Prediction churn over one run per seed that recorded predictions, on their shared ids."""
    by_id = {run.id: run for run in job.runs}
    recorded: list[dict[str, Any]] = [
        predictions
        for r in one_run_per_seed(compared)
        if (predictions := by_id[r.run_id].predictions)
    ]
    if len(recorded) < 2:
        return None
    shared = set(recorded[0]["ids"]).intersection(*(set(p["ids"]) for p in recorded[1:]))
    ids = [i for i in recorded[0]["ids"] if i in shared]
    if not ids:
        return None
    rows = []
    for predictions in recorded:
        score_of = dict(zip(predictions["ids"], predictions["scores"], strict=True))
        rows.append([score_of[i] for i in ids])
    labels = recorded[0].get("labels")
    label_of = dict(zip(recorded[0]["ids"], labels, strict=True)) if labels else None
    churn = prediction_churn(
        rows,
        [label_of[i] for i in ids] if label_of else None,
        threshold=CHURN_THRESHOLD,
    )
    return ChurnOut(
        flip_rate=churn.flip_rate,
        mean_abs_score_diff=churn.mean_abs_score_diff,
        noise_floor_std=churn.noise_floor_std,
        observed_std=churn.observed_std,
        threshold=CHURN_THRESHOLD,
        n_examples=len(ids),
        n_seeds=len(rows),
        top_flips=[[ids[i], share] for i, share in churn.top_flips],
    )


def final_verdict(*, session: Session, job: Job) -> str:
    """The verdict word of a job's runs as they stand (an audit's: its baseline runs')."""
    curves = runs_repository.job_curves(session=session, job_id=job.id)
    compared = [
        runs_service.as_run_data(run, curves.get(run.id))
        for run in runs_repository.job_runs_current(session=session, job_id=job.id)
        if _verdict_run(job, run) and _ran_job_version(job, run)
    ]
    # Located epochs only refine the evidence, never the word: the plain verdict is enough.
    return compute_verdict(compared, tolerance=job.tolerance).verdict


def _verdict_run(job: Job, run: Run) -> bool:
    """Whether the run counts for the verdict: an audit's baseline, a decompose job's kernels
    group (its same-seed repeats), a sweep's first configuration, every run of a standard
    job."""
    if job.kind == "audit":
        return run.variant == BASELINE
    if job.kind == "decompose":
        return run.variant == decompose.KERNELS
    if job.kind == "sweep":
        return run.config == 0  # one configuration's runs: others ran other parameters
    return True


def _ran_job_version(job: Job, run: Run) -> bool:
    """Whether the run ran the job's version (unknown until it started: counted in)."""
    return run.experiment_version is None or run.experiment_version == job.experiment_version


def _version_evidence(verdict: dict[str, Any], job: Job) -> dict[str, Any]:
    """The verdict with the versions its runs ran, and a note on runs of other versions."""
    by_version: dict[str, list[int]] = {}
    for run in job.runs:
        by_version.setdefault(run.experiment_version or job.experiment_version, []).append(run.id)
    others = {v: ids for v, ids in by_version.items() if v != job.experiment_version}
    notes = [
        f"{len(ids)} run(s) ran version {version} and were left out"
        for version, ids in sorted(others.items())
    ]
    evidence = {**verdict, "experiment_version": job.experiment_version, "versions": by_version}
    if notes:
        evidence["version_note"] = (
            f"The verdict compares only runs of the job's version {job.experiment_version}; "
            + "; ".join(notes)
            + "."
        )
        evidence["summary"] = f"{verdict['summary']} {evidence['version_note']}"
    return evidence


def _audit_section(
    session: Session, job: Job, data: dict[int, Any], cache: ResultCache
) -> dict[str, Any]:
    # What an audit compares is fixed once a run has ended: the key changes with any status.
    key = (job.id, tuple(sorted((run.id, run.status, run.attempt) for run in job.runs)))
    if (cached := cache.audit_sections.get(key)) is not None:
        return cached
    section = _build_audit_section(session, job, data)
    cache.audit_sections.put(key, section)
    return section


def _build_audit_section(session: Session, job: Job, data: dict[int, Any]) -> dict[str, Any]:
    data_hash = divergence_service.data_hashes(session=session, runs=job.runs)
    traces = divergence_service.load_traces(
        session=session, runs=job.runs, known_data_hashes=data_hash
    )
    runs = [
        AuditRun(
            data=data[run.id],
            variant=run.variant or BASELINE,
            seconds_per_epoch=run.seconds_per_epoch,
            data_hash=data_hash[run.id],
            error=run.error,
            trace=traces.get(run.id),
        )
        for run in job.runs
    ]
    chosen = (job.audit or {}).get("toggles")
    toggles = list(AUDITED_TOGGLES) if chosen is None else chosen
    return audit_report(runs, toggles)


def overlay(
    *,
    session: Session,
    job_id: int,
    metric: str | None,
    band: bool,
    max_points: int,
    cache: ResultCache,
) -> dict[str, Any]:
    """Plotly figure of every run's curve for one metric, downsampled, with the seed band."""
    job = jobs_repository.get_job(session=session, job_id=job_id)
    cache_key = (job.id, job.finished_at, metric, band, max_points)
    finished = job.status in TERMINAL_JOB_STATUSES
    if finished and (cached := cache.overlays.get(cache_key)) is not None:
        return cached
    result = _build_overlay(session, job, metric=metric, band=band, max_points=max_points)
    if finished:
        cache.overlays.put(cache_key, result)
    return result


def _build_overlay(
    session: Session, job: Job, *, metric: str | None, band: bool, max_points: int
) -> dict[str, Any]:
    keys = runs_repository.job_metric_keys(session=session, job_id=job.id)
    chosen = metric or default_metric(keys)
    if chosen is None:
        return {"metric": None, "metrics": keys, "figure": {"data": [], "layout": {}}}
    if chosen not in keys:
        raise InvalidInput(
            f"job {job.id} logged no metric {chosen!r}; logged: {', '.join(keys) or 'none yet'}"
        )
    # Arrays straight from the packed curves, and only the run columns the chart needs.
    curves = runs_repository.job_curve_arrays(session=session, job_id=job.id, key=chosen)
    runs = runs_repository.job_run_data(session=session, job_id=job.id)
    figure = overlay_figure(runs, curves, chosen, show_band=band, max_points=max_points)
    return {"metric": chosen, "metrics": keys, "figure": figure}
