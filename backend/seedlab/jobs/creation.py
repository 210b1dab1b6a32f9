"""Job creation: validate a submission and expand its seed plan into queued runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from seedlab.analysis.audit import BASELINE, env_variant, without
from seedlab.config import Settings
from seedlab.datasets import service as datasets_service
from seedlab.db import utcnow
from seedlab.errors import InvalidInput, NotFound
from seedlab.experiments import service as experiments_service
from seedlab.jobs import decompose, sequential, sweep
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs.models import Job, JobLabel
from seedlab.jobs.schemas import AuditSpec, JobCreate
from seedlab.jobs.seedplan import (
    DEFAULT_MAX_SEEDS,
    SeedPlan,
    auto_base,
    parse_seed_plan,
    sequential_plan,
)
from seedlab.profiles import AUDITED_TOGGLES, TOGGLES, Profile, ProfileSpec, resolve_profile
from seedlab.runs.models import Run
from seedlab.status import JobStatus


def _experiment_and_params(
    session: Session, payload: JobCreate, settings: Settings
) -> tuple[experiments_service.CatalogItem, dict[str, Any]]:
    """The submission's experiment and its parameters, checked and with data sets resolved."""
    try:
        item = experiments_service.find_item(
            session=session, settings=settings, name=payload.experiment
        )
    except NotFound as exc:
        raise InvalidInput(exc.message) from None
    params = experiments_service.item_params(item=item, params=payload.params)
    params = datasets_service.resolve_params(
        session=session, schema=item.params_schema, params=params
    )
    return item, params


def create_job(*, session: Session, payload: JobCreate, settings: Settings) -> Job:
    """Validate a submission and expand it into queued runs."""
    item, params = _experiment_and_params(session, payload, settings)
    if payload.kind != "standard" and (payload.until is not None or payload.max_seeds is not None):
        raise InvalidInput("until and max_seeds are for a standard job with seeds 'BASE:auto'")
    if payload.kind != "sweep" and payload.sweep is not None:
        raise InvalidInput("sweep settings need kind 'sweep'")
    if payload.tolerance and any(v < 0 for v in payload.tolerance.values()):
        raise InvalidInput("tolerances must be >= 0")
    state: dict[str, Any] | None = None
    if payload.kind == "sweep":
        return _create_sweep_job(
            session=session, payload=payload, settings=settings, item=item, params=params
        )
    if payload.kind == "decompose":
        return _create_decompose_job(
            session=session, payload=payload, settings=settings, item=item, params=params
        )
    if payload.kind == "audit":
        audit = payload.audit or AuditSpec()
        plan = parse_seed_plan(
            {"seeds": [audit.seed], "repeats": audit.repeats}, max_runs=settings.max_runs_per_job
        )
        variants = audit_variants(audit)
        profile = variants[0][1]
    else:
        if payload.audit is not None:
            raise InvalidInput("audit settings need kind 'audit'")
        plan, state = _standard_plan(session, payload, settings, experiment=item.name)
        profile = resolve_profile(payload.profile)
        variants = [(None, profile)]
    run_count = plan.run_count * len(variants)
    if run_count > settings.max_runs_per_job:
        raise InvalidInput(
            f"job expands into {run_count} runs; at most {settings.max_runs_per_job} runs per job"
        )
    experiments_service.ensure_record(session=session, item=item)
    job = Job(
        kind=payload.kind,
        audit=(payload.audit or AuditSpec()).model_dump() if payload.kind == "audit" else None,
        experiment_name=item.name,
        # The version agents must run: the built-in's, or the newest live advertisement's.
        experiment_version=item.version,
        params=params,
        seed_plan=plan.to_json(),
        seed_plan_text=f"{state['base']}:auto"
        if state is not None
        else plan.text()
        if payload.kind == "standard"
        else f"audit of seed {plan.seeds[0]}",
        sequential=state,
        profile=profile.model_dump(),
        profile_name=profile.name,
        **_submission_fields(payload),
        run_count=run_count,
    )
    # Every variant of one (seed, repeat) next to each other; first repeats of every seed first,
    # so the spread shows early. Added through the relationship of the new job, so `job.runs`
    # is loaded for the caller (relationships never load lazily).
    job.runs.extend(
        Run(
            seed=seed,
            repeat=repeat,
            variant=variant,
            profile=None if variant is None else variant_profile.model_dump(),
            max_attempts=settings.max_attempts,
            queued_at=job.created_at,
        )
        for seed, repeat in plan.expand()
        for variant, variant_profile in variants
    )
    session.add(job)
    session.flush()
    return job


def _submission_fields(payload: JobCreate) -> dict[str, Any]:
    """Columns every kind of job takes from its submission as given, queued now."""
    requires = payload.requires
    labels = requires.labels if requires is not None else []
    return {
        "tolerance": payload.tolerance,
        "label": payload.label,
        "requires": requires.model_dump() if requires is not None else None,
        "required_gpus": requires.gpu if requires is not None else 0,
        "required_cpus": requires.cpus if requires is not None else 1,
        "required_labels": [JobLabel(label=label) for label in sorted(set(labels))],
        "status": JobStatus.QUEUED.value,
        "created_at": utcnow(),
    }


def _standard_plan(
    session: Session, payload: JobCreate, settings: Settings, *, experiment: str
) -> tuple[SeedPlan, dict[str, Any] | None]:
    """A fixed seed plan, or the first round of a `BASE:auto` plan with its stored state."""
    base = auto_base(payload.seeds)
    if base is None:
        if payload.until is not None or payload.max_seeds is not None:
            raise InvalidInput(
                "until and max_seeds need a sequential seed plan 'BASE:auto' (e.g. '42:auto'); "
                f"got seeds {str(payload.seeds)[:100]!r}"
            )
        return parse_seed_plan(payload.seeds, max_runs=settings.max_runs_per_job), None
    if payload.until is None:
        raise InvalidInput(
            "seed plan 'BASE:auto' needs a stopping rule: give until (CLI --until), "
            "e.g. 'val_auc.ci95_halfwidth<=0.002'"
        )
    # Without --max-seeds the cap is the default, lowered to the settings' runs per job.
    max_seeds = (
        min(DEFAULT_MAX_SEEDS, settings.max_runs_per_job)
        if payload.max_seeds is None
        else payload.max_seeds
    )
    plan, until = sequential_plan(
        base, until=payload.until, max_seeds=max_seeds, max_runs=settings.max_runs_per_job
    )
    known = jobs_repository.reported_metrics(session=session, experiment=experiment)
    if known and until.metric not in known:
        raise InvalidInput(
            f"until names metric {until.metric!r}, which {experiment} does not report; "
            f"its runs report: {', '.join(sorted(known))}"
        )
    state = sequential.initial_state(
        base=base, until=until, max_seeds=max_seeds, first_round=len(plan.seeds)
    )
    return plan, state


def decompose_plan(
    *, payload: JobCreate, item: experiments_service.CatalogItem, settings: Settings
) -> tuple[decompose.DecomposePlan, Profile]:
    """The plan and profile of a decompose submission; InvalidInput says what is allowed."""
    if payload.audit is not None:
        raise InvalidInput("audit settings need kind 'audit'")
    plan = decompose.parse_plan(
        # Without seeds, the decompose default (the standard job's default has repeats).
        payload.seeds if "seeds" in payload.model_fields_set else decompose.DEFAULT_SEEDS,
        experiment=item.name,
        sources=item.seed_sources,
        max_runs=settings.max_runs_per_job,
    )
    profile = resolve_profile(payload.profile)
    decompose.check_profile(profile)
    return plan, profile


def preview(*, session: Session, payload: JobCreate, settings: Settings) -> dict[str, Any]:
    """What a submission would run, without submitting it: run count, groups, one line."""
    item, params = _experiment_and_params(session, payload, settings)
    if payload.kind == "sweep":
        plan_sweep, _ = sweep_plan(
            session=session, payload=payload, settings=settings, item=item, params=params
        )
        return plan_sweep.describe()
    if payload.kind == "decompose":
        plan, _profile = decompose_plan(payload=payload, item=item, settings=settings)
        return plan.describe()
    if payload.kind == "audit":
        audit = payload.audit or AuditSpec()
        variants = len(audit_variants(audit))
        count = audit.repeats * variants
        text = f"audit {item.name}: {variants} variants {decompose.TIMES} {audit.repeats} runs"
    else:
        plan_std, state = _standard_plan(session, payload, settings, experiment=item.name)
        count = plan_std.run_count
        text = f"{item.name}: {len(plan_std.seeds)} seeds {decompose.TIMES} {plan_std.repeats} runs"
        if state is not None:  # a sequential plan: only its first round is known now
            text = f"{item.name}: first round of {len(plan_std.seeds)} seeds, more until " + (
                f"{state['until']} or {state['max_seeds']} seeds"
            )
            return {
                "kind": payload.kind,
                "experiment": item.name,
                "run_count": count,
                "text": f"{text}; {count} runs now",
            }
    return {
        "kind": payload.kind,
        "experiment": item.name,
        "run_count": count,
        "text": f"{text} = {count} runs",
    }


def _create_decompose_job(
    *,
    session: Session,
    payload: JobCreate,
    settings: Settings,
    item: experiments_service.CatalogItem,
    params: dict[str, Any],
) -> Job:
    plan, profile = decompose_plan(payload=payload, item=item, settings=settings)
    experiments_service.ensure_record(session=session, item=item)
    job = Job(
        kind="decompose",
        audit=None,
        experiment_name=item.name,
        experiment_version=item.version,
        params=params,
        seed_plan=plan.to_json(),
        seed_plan_text=plan.seed_plan_text(),
        profile=profile.model_dump(),
        profile_name=profile.name,
        **_submission_fields(payload),
        run_count=plan.run_count,
    )
    kernels = decompose.kernels_profile(profile).model_dump()
    job.runs.extend(
        Run(
            seed=run.seed,
            repeat=run.repeat,
            variant=run.group,
            profile=kernels if run.group == decompose.KERNELS else None,
            order_seed=run.order_seed,
            split_seed=run.split_seed,
            max_attempts=settings.max_attempts,
            queued_at=job.created_at,
        )
        for run in plan.expand()
    )
    session.add(job)
    session.flush()
    return job


def sweep_plan(
    *,
    session: Session,
    payload: JobCreate,
    settings: Settings,
    item: experiments_service.CatalogItem,
    params: dict[str, Any],
) -> tuple[sweep.SweepPlan, list[dict[str, Any]]]:
    """A sweep submission's plan and every configuration's full parameters, each checked as
    a submission of its own would be."""
    if payload.audit is not None:
        raise InvalidInput("audit settings need kind 'audit'")
    plan = sweep.parse_plan(
        spec=payload.sweep,
        seeds=payload.seeds,
        experiment=item.name,
        max_runs=settings.max_runs_per_job,
    )
    known = jobs_repository.reported_metrics(session=session, experiment=item.name)
    if known and plan.metric not in known:
        raise InvalidInput(
            f"sweep metric {plan.metric!r} is not one {item.name} reports; its runs report: "
            f"{', '.join(sorted(known))}"
        )
    full = []
    for config in plan.configs:
        try:
            merged = experiments_service.item_params(item=item, params={**payload.params, **config})
        except InvalidInput as exc:
            raise InvalidInput(f"configuration {config}: {exc.message}") from None
        full.append(
            datasets_service.resolve_params(
                session=session, schema=item.params_schema, params=merged
            )
        )
    return plan, full


def _create_sweep_job(
    *,
    session: Session,
    payload: JobCreate,
    settings: Settings,
    item: experiments_service.CatalogItem,
    params: dict[str, Any],
) -> Job:
    plan, full = sweep_plan(
        session=session, payload=payload, settings=settings, item=item, params=params
    )
    profile = resolve_profile(payload.profile)
    experiments_service.ensure_record(session=session, item=item)
    seed_plan = plan.seed_plan()
    job = Job(
        kind="sweep",
        audit=None,
        experiment_name=item.name,
        experiment_version=item.version,
        params=params,
        seed_plan=seed_plan.to_json(),
        seed_plan_text=str(payload.seeds).strip(),
        sweep=plan.initial_state(),
        profile=profile.model_dump(),
        profile_name=profile.name,
        **_submission_fields(payload),
        run_count=plan.first_round_runs,
    )
    session.add(job)
    session.flush()
    session.add_all(
        sweep.new_runs(
            job=job,
            seeds=list(seed_plan.seeds),
            configs=list(range(len(plan.configs))),
            full_params=lambda c: full[c],
            repeats=plan.repeats,
            max_attempts=settings.max_attempts,
            queued_at=job.created_at,
        )
    )
    session.flush()
    return job


def audit_variants(audit: AuditSpec) -> list[tuple[str | None, Profile]]:
    """Baseline (every toggle on), one variant per toggle turned off, one per environment."""
    all_on: dict[str, Any] = dict.fromkeys(TOGGLES, True)
    trace = audit.trace
    baseline = resolve_profile(ProfileSpec(preset="full", trace=trace, **all_on))
    variants: list[tuple[str | None, Profile]] = [(BASELINE, baseline)]
    for toggle in AUDITED_TOGGLES if audit.toggles is None else audit.toggles:
        off = resolve_profile(ProfileSpec(preset="full", trace=trace, **{**all_on, toggle: False}))
        variants.append((without(toggle), off))
    for env in audit.env_matrix:
        profile = resolve_profile(ProfileSpec(trace=trace, env=env, **all_on))
        variants.append((env_variant(env), profile))
    return variants
