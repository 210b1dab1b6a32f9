"""The jobs list, the new-job form and the job page with its live fragments."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from seedlab.analysis.verdict import BITWISE, NONDETERMINISTIC, WITHIN_TOLERANCE
from seedlab.cache import ResultCache
from seedlab.charts.overlay import DEFAULT_METRIC_ORDER, QUANTILE_RUNS
from seedlab.charts.sequential import halfwidth_figure
from seedlab.charts.strip import StripSample, strip_figure
from seedlab.charts.sweep import sweep_figure
from seedlab.datasets import service as datasets_service
from seedlab.deps import MAX_OFFSET, CacheDep, IdPath, ReadSession, SettingsDep, WriteSession
from seedlab.errors import InvalidInput, NotFound
from seedlab.experiments import service as experiments_service
from seedlab.jobs import creation as jobs_creation
from seedlab.jobs import decompose as jobs_decompose
from seedlab.jobs import replay as jobs_replay
from seedlab.jobs import report as jobs_report
from seedlab.jobs import service as jobs_service
from seedlab.jobs import sweep as jobs_sweep
from seedlab.jobs.schemas import JobFilter, JobReport
from seedlab.pages.forms import new_job_context
from seedlab.pages.templating import (
    PAGE_SIZE,
    pagination,
    render_fragments,
    render_page,
    templates,
)
from seedlab.queue import service as queue_service
from seedlab.runs.schemas import RunSummary
from seedlab.status import TERMINAL_JOB_STATUSES, TERMINAL_RUN_STATUSES, JobStatus, RunStatus

RUN_TABLE_METRICS = 3
# Runs per page of the job page's runs table (a 1,000-run job would otherwise be 1,000 rows).
RUNS_PAGE = 50
# With every seed agreeing, the collapsed evidence table still lists each seed up to this many;
# past it a count says it all (500 rows of "yes" would only weigh the page down).
AGREEING_ROWS = 30

router = APIRouter(include_in_schema=False)


def _metric_columns(report: JobReport) -> list[str]:
    """A few final metrics for the runs table, the most telling first."""
    names = {k for run in report.runs for k in (run.final_metrics or {})}
    preferred = [m for m in DEFAULT_METRIC_ORDER if m in names]
    return (preferred + sorted(names - set(preferred)))[:RUN_TABLE_METRICS]


def _chart_key(report: JobReport) -> str:
    """Changes whenever the overlay chart has new data (a run finished or logged an epoch)."""
    finished = sum(1 for run in report.runs if run.status in TERMINAL_RUN_STATUSES)
    epochs = sum(run.epoch or 0 for run in report.runs)
    return f"{finished}:{epochs}"


def verdict_line(report: JobReport) -> str:
    """The verdict as one sentence saying what it means for the team and what to do next."""
    summary = report.verdict_evidence.get("summary", "")
    if report.verdict == BITWISE:
        return (
            f"Reproducible: {summary} Rerunning this job with profile "
            f"{report.profile_name} gives the same numbers."
        )
    if report.verdict == WITHIN_TOLERANCE:
        return (
            f"Reproducible within your tolerance: {summary} Use the full profile if you need "
            "bit-identical runs."
        )
    if report.verdict == NONDETERMINISTIC:
        advice = (
            "Open the first divergence below, or audit the randomness sources to find the cause."
            if report.profile_name.startswith("full")
            else "Rerun with the full profile to see whether determinism controls fix it."
        )
        return f"Not reproducible: {summary} {advice}"
    if report.status in TERMINAL_JOB_STATUSES:
        return (
            f"Not checked: {summary} Clone this job with repeats of 2 or more "
            "(for example 42:5x2) to check it."
        )
    done = report.run_counts.get(RunStatus.SUCCEEDED.value, 0)
    return (
        f"Not checked yet ({done} of {len(report.runs)} runs succeeded): determinism is checked "
        "as soon as a seed has two succeeded runs."
    )


def evidence_rows(report: JobReport) -> dict[str, Any]:
    """The evidence table's rows: the differing seeds, or every seed while few agree."""
    seeds = report.verdict_evidence.get("seeds", [])
    differing = [s for s in seeds if not (s["weights_identical"] and s["metrics_identical"])]
    shown = differing if differing or len(seeds) > AGREEING_ROWS else seeds
    return {
        "evidence_seeds": shown,
        "differing_count": len(differing),
        "agreeing_count": len(seeds) - len(differing),
    }


def strip_samples(report: JobReport) -> list[StripSample]:
    """Each final metric's value per seed (its first succeeded repeat), mean and CI."""
    first: dict[int, RunSummary] = {}
    for run in sorted(report.runs, key=lambda r: (r.seed, r.repeat, r.id)):
        if run.status == RunStatus.SUCCEEDED.value and run.seed not in first:
            first[run.seed] = run
    samples = []
    for name, spread in report.metrics.items():
        chosen = [run for run in first.values() if name in (run.final_metrics or {})]
        samples.append(
            StripSample(
                metric=name,
                values=[float((run.final_metrics or {})[name]) for run in chosen],
                seeds=[run.seed for run in chosen],
                run_ids=[run.id for run in chosen],
                mean=spread.mean,
                ci95=spread.ci95,
            )
        )
    return samples


def _positive(text: str, name: str, errors: list[str]) -> float | None:
    """A positive number from a form field, or None (blank); a problem is added to errors."""
    if not text.strip():
        return None
    try:
        number = float(text)
    except ValueError:
        errors.append(f"{name} must be a number, got {text[:50]!r}")
        return None
    if not (0 < number < math.inf):
        errors.append(f"{name} must be a positive number, got {text[:50]!r}")
        return None
    return number


def seed_science_inputs(halfwidth: str, difference: str) -> tuple[dict[str, Any], list[str]]:
    """The seeds-needed targets typed on the job page, and what was wrong with them."""
    errors: list[str] = []
    targets = {
        "halfwidth": _positive(halfwidth, "half-width", errors),
        "difference": _positive(difference, "difference", errors),
    }
    return targets, errors


def percentile_answer(report: JobReport, value: str, metric: str) -> dict[str, Any]:
    """The percentile form's answer, computed server-side, or why there is none."""
    if not value.strip():
        return {"percentile": None, "percentile_error": None}
    try:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError
    except ValueError:
        return {"percentile": None, "percentile_error": f"{value[:50]!r} is not a number"}
    try:
        answer = jobs_report.percentile_section(
            jobs_report.seed_values(report), value=number, metric=metric or None
        )
    except InvalidInput as exc:
        return {"percentile": None, "percentile_error": exc.message}
    return {"percentile": answer, "percentile_error": None}


def sequential_chart(report: JobReport) -> dict[str, Any] | None:
    """The half-width against seeds of a sequential job, once a round has ended."""
    seq = report.sequential
    if seq is None or not any(r.halfwidth is not None for r in seq.rounds):
        return None
    return halfwidth_figure(
        [(r.seeds, r.halfwidth) for r in seq.rounds], target=seq.target, metric=seq.metric
    )


def job_context(
    session: Session,
    job_id: int,
    cache: ResultCache,
    runs_offset: int = 0,
    targets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the job page and its fragments render."""
    chosen = targets or {}
    report = jobs_report.build_report(
        session=session,
        job_id=job_id,
        cache=cache,
        halfwidth=chosen.get("halfwidth"),
        difference=chosen.get("difference"),
    )
    # Already in the session's identity map: the label and start time the report leaves out.
    job = jobs_service.get_job(session=session, job_id=job_id)
    terminal = report.status in TERMINAL_JOB_STATUSES
    seed_count = max((m.n for m in report.metrics.values()), default=0)
    runs_page = report.runs[runs_offset : runs_offset + RUNS_PAGE]
    return {
        "report": report,
        "verdict_line": verdict_line(report),
        **evidence_rows(report),
        "strip": strip_figure(strip_samples(report)) if seed_count >= 2 else None,
        "quantile_runs": QUANTILE_RUNS,
        "runs_page": runs_page,
        "runs_offset": runs_offset,
        "runs_total": len(report.runs),
        "runs_prev": max(runs_offset - RUNS_PAGE, 0) if runs_offset > 0 else None,
        "runs_next": runs_offset + RUNS_PAGE
        if runs_offset + RUNS_PAGE < len(report.runs)
        else None,
        "label": job.label,
        "started_at": job.started_at,
        "terminal": terminal,
        "metric_columns": _metric_columns(report),
        "chart_key": _chart_key(report),
        **_toggle_rows(report),
        "variation": _variation(session, job_id, cache, terminal=terminal),
        "run_pair": _run_pair(report),
        "queued_reason": queue_service.queued_reason(session=session, job=job),
        "replay_check": _replay_check(session, job.label, report, cache),
        "sequential_chart": sequential_chart(report),
        "decomposition": decomposition_rows(report),
        "decompose_seeds": decompose_seeds(job.seed_plan),
        "sweep": sweep_view(report),
        "replay_metric": main_validation_metric(list(report.metrics)),
        "dataset_names": _dataset_names(session, report.params),
    }


def _toggle_rows(report: JobReport) -> dict[str, Any]:
    """The job page's toggles: what the runs applied once any reported, else what was asked.

    `toggles` holds (name, state, note) with state "on" or "off"; controls asked for that took
    effect in no run (their framework was never imported) go to `not_applied`, one short line.
    """
    toggles: list[tuple[str, str, str]] = []
    not_applied: list[tuple[str, str]] = []
    for row in report.applied_toggles:
        if not row.requested:
            toggles.append((row.name, "off", ""))
        elif row.reported == 0 or row.applied == row.reported:
            toggles.append((row.name, "on", ""))
        elif row.applied == 0:
            not_applied.append((row.name, row.reason or ""))
        else:
            toggles.append((row.name, "on", f"in {row.applied} of {row.reported} runs"))
    reported = max((row.reported for row in report.applied_toggles), default=0)
    return {"toggles": toggles, "not_applied": not_applied, "toggles_reported": reported}


def sweep_view(report: JobReport) -> dict[str, Any] | None:
    """A sweep's configurations sorted by mean (best first) and a chart per swept parameter."""
    section = report.sweep
    if section is None:
        return None
    configs = [c.model_dump() for c in section.configs]
    index = {jobs_sweep.config_label(c["params"]): i for i, c in enumerate(configs)}
    values: list[dict[int, float]] = [{} for _ in configs]
    for run in report.runs:
        i = index.get(run.variant or "")
        value = (run.final_metrics or {}).get(section.metric)
        succeeded = run.status == RunStatus.SUCCEEDED.value
        if i is not None and succeeded and value is not None and math.isfinite(value):
            values[i].setdefault(run.seed, value)
    sign = -1.0 if section.mode == "max" else 1.0
    order = sorted(
        range(len(configs)),
        key=lambda i: (configs[i]["mean"] is None, sign * (configs[i]["mean"] or 0.0)),
    )
    names = list(dict.fromkeys(name for c in configs for name in c["params"]))
    return {
        "section": section,
        "rows": [
            {**configs[i], "label": jobs_sweep.config_label(configs[i]["params"])} for i in order
        ],
        "charts": [
            {
                "parameter": name,
                "figure": sweep_figure(configs, values, parameter=name, metric=section.metric),
            }
            for name in names
        ],
    }


def _dataset_names(session: Session, params: dict[str, Any]) -> dict[str, str]:
    """Parameters holding an uploaded data set's sha256 (tabular_csv), with its name."""
    names = {}
    for key, value in params.items():
        if isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value):
            try:
                names[key] = datasets_service.find_dataset(session=session, ref=value).name
            except NotFound:
                continue  # deleted since, or a hash that names no data set: shown as it is
    return names


HEX = frozenset("0123456789abcdef")


def main_validation_metric(names: list[str]) -> str | None:
    """What "replay the best" ranks by first: val_auc, val_accuracy, another val_ metric, ..."""
    for name in DEFAULT_METRIC_ORDER:
        if name in names and name.startswith("val_"):
            return name
    return next((n for n in names if n.startswith("val_")), names[0] if names else None)


SOURCE_LABELS = {"init": "init", "order": "data order", "split": "split", "kernels": "kernels"}


def decomposition_rows(report: JobReport) -> list[dict[str, Any]]:
    """Per metric: each source's share with its CI, and the plain sentence."""
    return [
        {
            "metric": metric,
            "rows": [
                {
                    "name": name,
                    "label": SOURCE_LABELS.get(name, name),
                    "share": row.share,
                    "lo": row.ci95[0],
                    "hi": row.ci95[1],
                }
                for name, row in section.sources.items()
            ],
            "sentence": jobs_decompose.sentence(metric, section.model_dump()),
        }
        for metric, section in (report.decomposition or {}).items()
    ]


def decompose_seeds(seed_plan: dict[str, Any]) -> str:
    """The Decompose button's seeds: the job's base seed and number of seeds (at least 2)."""
    stored = seed_plan.get("decompose")
    if stored:
        return f"{stored['base']}:{stored['per_group']}"
    seeds = list(seed_plan.get("seeds") or [42])
    count = min(max(len(seeds), jobs_decompose.MIN_PER_GROUP), jobs_decompose.MAX_PER_GROUP)
    return f"{seeds[0]}:{count}"


def _variation(session: Session, job_id: int, cache: ResultCache, *, terminal: bool) -> Any:
    """The job's environment variation; a finished job's comes from the cache once computed."""
    job = jobs_service.get_job(session=session, job_id=job_id)
    key = (job.id, job.finished_at)
    if terminal and (cached := cache.variations.get(key)) is not None:
        return cached
    variation = jobs_service.job_variation(session=session, job_id=job_id)
    if terminal:
        cache.variations.put(key, variation)
    return variation


def _replay_check(
    session: Session, label: str | None, report: JobReport, cache: ResultCache
) -> dict[str, Any] | None:
    """For a replay-best job: per seed, did the replay reproduce the original top run?"""
    original_id = jobs_replay.replayed_job_id(label)
    columns = _metric_columns(report)
    if original_id is None or not columns:
        return None
    try:
        original = jobs_report.build_report(session=session, job_id=original_id, cache=cache)
    except NotFound:
        return None
    return jobs_replay.replay_outcomes(original.model_dump(), report.model_dump(), columns[0])


def _run_pair(report: JobReport) -> tuple[int, int] | None:
    """Two runs of one seed for the run-pair link: a differing pair first, else any pair."""
    seeds = report.verdict_evidence.get("seeds", [])
    pairs = [s for s in seeds if len(s["run_ids"]) > 1]
    pairs.sort(key=lambda s: s["weights_identical"])
    if pairs:
        return pairs[0]["run_ids"][0], pairs[0]["run_ids"][1]
    by_seed: dict[int, list[int]] = {}
    for run in report.runs:
        by_seed.setdefault(run.seed, []).append(run.id)
    same_seed = [ids for ids in by_seed.values() if len(ids) > 1]
    return (same_seed[0][0], same_seed[0][1]) if same_seed else None


JOB_FRAGMENTS = {
    "status": "_job_status.html",
    "verdict": "_verdict.html",
    "spread": "_spread.html",
    "lottery": "_seed_lottery.html",
    "sequential": "_sequential.html",
    "decomposition": "_decomposition.html",
    "sweep": "_sweep.html",
    "runs": "_runs.html",
}


JOB_FILTERS = ("experiment", "status", "verdict", "profile", "q")


@router.get("/", response_class=HTMLResponse)
def jobs_page(
    request: Request,
    session: ReadSession,
    settings: SettingsDep,
    filters: Annotated[JobFilter, Query()],
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Response:
    """Jobs matching the filters, newest first, a page at a time; a banner for sources live
    agents failed to load."""
    jobs, total = jobs_service.list_jobs(
        session=session, limit=PAGE_SIZE, offset=offset, filters=filters
    )
    active = filters.active()
    return templates.TemplateResponse(
        request,
        "jobs.html",
        {
            "jobs": jobs,
            "failed_sources": experiments_service.failed_sources(
                session=session, settings=settings
            ),
            # The form's fields: each filter's text, blank when not filtered.
            "filters": {key: value or "" for key, value in filters.model_dump().items()},
            "filtered": bool(active),
            # Pager links keep the filters: only the offset changes.
            "query": urlencode(active),
            "choices": {
                **jobs_service.filter_choices(session=session),
                "statuses": [s.value for s in JobStatus],
                "verdicts": list(jobs_service.VERDICTS),
            },
            **pagination(offset, total),
        },
    )


@router.get("/jobs/new", response_class=HTMLResponse)
def new_job_page(
    request: Request,
    session: ReadSession,
    settings: SettingsDep,
    experiment: str | None = None,
    clone: int | None = Query(None, description="a job whose submission pre-fills the form"),
) -> Response:
    """The submission form; parameter inputs are generated from each experiment's schema."""
    source = None
    if clone is not None:
        try:
            source = jobs_service.resubmission(session=session, job_id=clone)
        except NotFound as exc:
            return templates.TemplateResponse(
                request, "not_found.html", {"message": exc.message}, status_code=404
            )
    items = experiments_service.server_catalog(session=session, settings=settings)
    context = new_job_context(experiment, items, clone=source)
    context["clone_id"] = clone
    context["datasets"] = datasets_service.form_choices(session=session)
    return templates.TemplateResponse(request, "job_new.html", context)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    job_id: IdPath,
    request: Request,
    session: ReadSession,
    cache: CacheDep,
    runs_offset: int = Query(0, ge=0, le=MAX_OFFSET),
    halfwidth: str = Query("", max_length=50, description="target CI half-width: seeds needed"),
    difference: str = Query("", max_length=50, description="difference to detect: seeds needed"),
    value: str = Query("", max_length=50, description="a value to place among the seeds"),
    metric: str = Query("", max_length=200, description="the metric value is placed in"),
) -> Response:
    """Verdict, spread, overlay chart and runs of one job; seeds needed for the typed targets
    and where a typed value falls among the seeds, answered here."""
    targets, errors = seed_science_inputs(halfwidth, difference)

    def build() -> dict[str, Any]:
        context = job_context(session, job_id, cache, runs_offset, targets)
        return {
            **context,
            **percentile_answer(context["report"], value, metric.strip()),
            "targets": {"halfwidth": halfwidth, "difference": difference},
            "targets_errors": errors,
            "asked": {"value": value, "metric": metric.strip()},
        }

    return render_page(request, "job.html", build)


@router.get("/jobs/{job_id}/live")
def job_live(
    job_id: IdPath,
    request: Request,
    session: ReadSession,
    cache: CacheDep,
    runs_offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Response:
    """The job page's changing parts, re-rendered for polling."""
    return render_fragments(
        request, JOB_FRAGMENTS, lambda: job_context(session, job_id, cache, runs_offset)
    )


@router.post("/jobs/{job_id}/rerun")
def rerun_page(job_id: int, session: WriteSession, settings: SettingsDep) -> Response:
    """The Rerun button: the same job submitted again, then its page."""
    job = jobs_creation.create_job(
        session=session,
        payload=jobs_service.resubmission(session=session, job_id=job_id),
        settings=settings,
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
