"""HTML pages: jobs list, new-job form, job report, run detail, and their live fragments."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from seedlab.analysis.divergence import describe as describe_divergence
from seedlab.charts.overlay import DEFAULT_METRIC_ORDER
from seedlab.deps import ReadSession
from seedlab.errors import NotFound
from seedlab.experiments import catalog
from seedlab.fingerprints import diff_service
from seedlab.fingerprints import service as fingerprints_service
from seedlab.jobs import service as jobs_service
from seedlab.jobs.schemas import JobReport
from seedlab.pages.static import asset_url, plotly_url
from seedlab.runner.profile import PRESETS, TOGGLES
from seedlab.runs import service as runs_service
from seedlab.status import TERMINAL_JOB_STATUSES, TERMINAL_RUN_STATUSES

TEMPLATES_DIR = Path(__file__).parent.parent / "web" / "templates"
PAGE_SIZE = 25
RUN_TABLE_METRICS = 3
DEFAULT_SEEDS = "42:5x2"

PRESET_HELP = {
    "full": "Every seed, a fixed hash seed, op determinism and single-threaded TF: "
    "same-seed runs should be bit-identical.",
    "seeds_only": "Every seed, but non-deterministic kernels and thread pools stay on: "
    "faster, may differ in the last bits.",
    "none": "Nothing seeded or pinned: shows the run-to-run variance you get without control.",
}
TOGGLE_HELP = {
    "hash_seed": "PYTHONHASHSEED set before the interpreter starts",
    "python_seed": "random.seed(seed)",
    "numpy_seed": "np.random.seed(seed)",
    "tf_seed": "tf.random.set_seed(seed)",
    "op_determinism": "tf.config.experimental.enable_op_determinism()",
    "single_thread": "one inter-/intra-op thread, OMP_NUM_THREADS=1",
    "tf_data_seed": "seeded tf.data shuffles",
    "onednn_off": "TF_ENABLE_ONEDNN_OPTS=0 (oneDNN kernels change round-off)",
}

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
# Keeps the rendered HTML (and the live fragments sent every poll) free of blank-line noise.
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def fmt_num(value: Any, digits: int = 6) -> str:
    """A number with about six significant digits; an em dash for missing values."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def fmt_dt(value: datetime | None) -> str:
    """A UTC timestamp to the second; an em dash when missing."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def fmt_value(value: Any) -> str:
    """Any JSON value for a key/value table."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return fmt_num(value)
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in value.items()) if value else "(none)"
    return str(value)


def status_counts(counts: Mapping[str, int]) -> Sequence[tuple[str, int]]:
    """Run counts in lifecycle order, zero counts left out."""
    order = ("queued", "running", "succeeded", "failed", "cancelled")
    return [(s, counts[s]) for s in order if counts.get(s)]


templates.env.globals.update(
    plotly_url=plotly_url, asset_url=asset_url, status_counts=status_counts
)
templates.env.filters.update(
    num=fmt_num, dt=fmt_dt, value=fmt_value, divergence=describe_divergence
)


# ---- the new-job form, generated from each experiment's JSON schema ----


@dataclass(frozen=True)
class FormField:
    """One parameter input derived from a JSON-schema property."""

    name: str
    label: str
    kind: str  # integer | number | select | checkbox | text
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    options: list[Any] = field(default_factory=list)
    nullable: bool = False

    @property
    def step(self) -> str:
        """The input's step: whole numbers for integers, anything for floats."""
        return "1" if self.kind == "integer" else "any"


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The property with $ref and Optional (anyOf [..., null]) unwrapped, and its nullability."""
    merged = dict(prop)
    nullable = False
    if "anyOf" in merged:
        choices = [c for c in merged.pop("anyOf") if c.get("type") != "null"]
        nullable = len(choices) == 1
        if choices:
            merged = {**choices[0], **merged}
    ref = merged.pop("$ref", None)
    if isinstance(ref, str):
        merged = {**defs.get(ref.rsplit("/", 1)[-1], {}), **merged}
    return merged, nullable


def form_fields(schema: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[FormField]:
    """Inputs for every property of a pydantic JSON schema, in declaration order."""
    defs = schema.get("$defs", {})
    out: list[FormField] = []
    for name, raw in schema.get("properties", {}).items():
        prop, nullable = _resolve(raw, defs)
        kind = {"integer": "integer", "number": "number", "boolean": "checkbox"}.get(
            prop.get("type", ""), "text"
        )
        if "enum" in prop or "const" in prop:
            kind = "select"
        out.append(
            FormField(
                name=name,
                label=prop.get("title") or name.replace("_", " ").capitalize(),
                kind=kind,
                default=defaults.get(name, prop.get("default")),
                help=prop.get("description", ""),
                minimum=prop.get("minimum", prop.get("exclusiveMinimum")),
                maximum=prop.get("maximum", prop.get("exclusiveMaximum")),
                options=list(prop.get("enum", [prop["const"]] if "const" in prop else [])),
                nullable=nullable,
            )
        )
    return out


def new_job_context(experiment: str | None) -> dict[str, Any]:
    """Every experiment with its generated fields, the presets and the toggles."""
    specs = catalog.list_experiments()
    names = [spec.name for spec in specs]
    default = "credit_risk_mlp" if "credit_risk_mlp" in names else (names[0] if names else None)
    return {
        "experiments": [
            {
                "name": spec.name,
                "version": spec.version,
                "description": spec.description,
                "fields": form_fields(spec.params_schema(), spec.validate_params({})),
            }
            for spec in specs
        ],
        "selected": experiment if experiment in names else default,
        "default_seeds": DEFAULT_SEEDS,
        "presets": PRESETS,
        "preset_help": PRESET_HELP,
        "toggles": [(name, TOGGLE_HELP.get(name, "")) for name in TOGGLES],
    }


# ---- the job page ----


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


def job_context(session: Session, job_id: int) -> dict[str, Any]:
    """Everything the job page and its fragments render."""
    report = jobs_service.build_report(session=session, job_id=job_id)
    # Already in the session's identity map: the label and start time the report leaves out.
    job = jobs_service.get_job(session=session, job_id=job_id)
    return {
        "report": report,
        "label": job.label,
        "started_at": job.started_at,
        "terminal": report.status in TERMINAL_JOB_STATUSES,
        "metric_columns": _metric_columns(report),
        "chart_key": _chart_key(report),
        "toggles": [(name, bool(report.profile.get(name))) for name in TOGGLES],
        "variation": diff_service.job_variation(session=session, job_id=job_id),
        "run_pair": _run_pair(report),
    }


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
    "runs": "_runs.html",
}


# ---- the run page ----


def fingerprint_rows(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The fingerprint fields that most often explain a difference, as label/value rows."""

    def at(*path: str) -> Any:
        node: Any = data
        for key in path:
            if not isinstance(node, Mapping):
                return None
            node = node.get(key)
        return node

    python = f"{at('python', 'implementation') or ''} {at('python', 'version') or ''}".strip()
    driver = at("gpu", "driver")
    return [
        ("Python", python or None),
        ("Hash seed (PYTHONHASHSEED)", at("python", "hash_seed")),
        ("Hash randomization", at("python", "hash_randomization")),
        ("OS", at("os", "platform") or at("os", "system")),
        ("Machine", at("os", "machine")),
        ("Hostname", at("hostname")),
        ("CPU model", at("cpu", "model")),
        ("Cores", at("cpu", "cores")),
        ("ISA flags", at("cpu", "isa_flags")),
        ("TensorFlow", at("tensorflow", "version")),
        ("NumPy", at("packages", "numpy")),
        ("Keras", at("packages", "keras")),
        ("SciPy", at("packages", "scipy")),
        ("scikit-learn", at("packages", "scikit-learn")),
        ("GPUs", list(at("gpu", "devices") or []) + ([f"driver {driver}"] if driver else [])),
        ("oneDNN", at("onednn")),
        ("Op determinism", at("op_determinism")),
        ("Threads", at("threads")),
        ("Environment variables", at("env")),
        ("Experiment source hash", at("experiment", "source_hash")),
        ("Data hash", at("experiment", "data_hash") or at("data_hash")),
    ]


def run_context(session: Session, run_id: int) -> dict[str, Any]:
    """Everything the run page and its live fragment render."""
    run = runs_service.describe(runs_service.get_run(session=session, run_id=run_id))
    fingerprint: dict[str, Any] | None = None
    if run.fingerprint_hash:
        try:
            fingerprint = fingerprints_service.get_fingerprint(
                session=session, fingerprint_hash=run.fingerprint_hash
            ).data
        except NotFound:
            fingerprint = None  # the run still renders; the section says it is missing
    return {
        "run": run,
        "terminal": run.status in TERMINAL_RUN_STATUSES,
        "fingerprint": fingerprint,
        "fingerprint_rows": fingerprint_rows(fingerprint or {}),
        "distributions": list((fingerprint or {}).get("distributions") or []),
        "chart_key": f"{run.status}:{run.attempt}:{run.epoch or 0}",
    }


RUN_FRAGMENTS = {"summary": "_run_summary.html", "detail": "_run_detail.html"}


# ---- rendering helpers: routes stay one call deep ----


def _page(request: Request, template: str, build: Callable[[], dict[str, Any]]) -> Response:
    """Render a full page, or the 404 page when the object does not exist."""
    try:
        context = build()
    except NotFound as exc:
        return templates.TemplateResponse(
            request, "not_found.html", {"message": exc.message}, status_code=404
        )
    return templates.TemplateResponse(request, template, context)


def _fragments(
    request: Request, parts: Mapping[str, str], build: Callable[[], dict[str, Any]]
) -> Response:
    """The live fragments of a page as JSON, rendered from the same partial templates."""
    try:
        context = build()
    except NotFound as exc:
        return JSONResponse({"detail": exc.message}, status_code=404)
    context["request"] = request
    html = {key: templates.get_template(name).render(context) for key, name in parts.items()}
    subject = context["report"] if "report" in context else context["run"]
    return JSONResponse(
        {
            "status": subject.status,
            "terminal": context["terminal"],
            "chart_key": context["chart_key"],
            "html": html,
        },
        headers={"Cache-Control": "no-store"},
    )


def _window(offset: int, total: int) -> dict[str, Any]:
    """Pagination links around the current offset."""
    return {
        "offset": offset,
        "total": total,
        "prev": max(offset - PAGE_SIZE, 0) if offset > 0 else None,
        "next": offset + PAGE_SIZE if offset + PAGE_SIZE < total else None,
    }


# ---- routes ----


@router.get("/", response_class=HTMLResponse)
def jobs_page(request: Request, session: ReadSession, offset: int = Query(0, ge=0)) -> Response:
    """Jobs, newest first, a page at a time."""
    jobs, total = jobs_service.list_jobs(session=session, limit=PAGE_SIZE, offset=offset)
    return templates.TemplateResponse(
        request, "jobs.html", {"jobs": jobs, **_window(offset, total)}
    )


@router.get("/jobs/new", response_class=HTMLResponse)
def new_job_page(request: Request, experiment: str | None = None) -> Response:
    """The submission form; parameter inputs are generated from each experiment's schema."""
    return templates.TemplateResponse(request, "job_new.html", new_job_context(experiment))


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: int, request: Request, session: ReadSession) -> Response:
    """Verdict, spread, overlay chart and runs of one job."""
    return _page(request, "job.html", lambda: job_context(session, job_id))


@router.get("/jobs/{job_id}/live")
def job_live(job_id: int, request: Request, session: ReadSession) -> Response:
    """The job page's changing parts, re-rendered for polling."""
    return _fragments(request, JOB_FRAGMENTS, lambda: job_context(session, job_id))


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: int, request: Request, session: ReadSession) -> Response:
    """Attempts, curves, applied profile and fingerprint of one run."""
    return _page(request, "run.html", lambda: run_context(session, run_id))


@router.get("/runs/{run_id}/live")
def run_live(run_id: int, request: Request, session: ReadSession) -> Response:
    """The run page's changing parts, re-rendered for polling."""
    return _fragments(request, RUN_FRAGMENTS, lambda: run_context(session, run_id))
