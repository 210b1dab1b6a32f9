"""The run page: attempts, curves, applied profile and environment fingerprint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from seedlab.deps import IdPath, ReadSession
from seedlab.errors import NotFound
from seedlab.fingerprints import service as fingerprints_service
from seedlab.pages.templating import render_fragments, render_page
from seedlab.runs import service as runs_service
from seedlab.runs.schemas import RunRead
from seedlab.status import TERMINAL_RUN_STATUSES

router = APIRouter(include_in_schema=False)


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
    # Only runs executed as Ray tasks have this row.
    ray = (
        [("Ray node", f"Ray {at('ray', 'version')}, node {at('ray', 'node_id')}")]
        if at("ray") is not None
        else []
    )
    return [
        ("Python", python or None),
        ("Hash seed (PYTHONHASHSEED)", at("python", "hash_seed")),
        ("Hash randomization", at("python", "hash_randomization")),
        ("OS", at("os", "platform") or at("os", "system")),
        ("Machine", at("os", "machine")),
        ("Hostname", at("hostname")),
        *ray,
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


def time_split(run: RunRead) -> list[tuple[str, float]]:
    """Where the run's time went, as label/seconds rows ([] when the run did not measure it).

    The run process measures its own phases; what the agent saw beyond them (fork or
    interpreter start, reporting, exit) is the first row.
    """
    phases = run.phases or {}
    if run.seconds is None or phases.get("training") is None:
        return []
    rows = [
        ("profile applied, experiment imported", phases.get("setup")),
        ("data, model build and compile", phases.get("build")),
        ("training (the epochs)", phases.get("training")),
    ]
    measured = [(label, float(value)) for label, value in rows if value is not None]
    outside = max(0.0, run.seconds - sum(value for _label, value in measured))
    return [("process start and exit", outside), *measured]


def run_context(session: Session, run_id: int) -> dict[str, Any]:
    """Everything the run page and its live fragment render."""
    run = runs_service.read_run(session=session, run_id=run_id)
    fingerprint: dict[str, Any] | None = None
    if run.fingerprint_hash:
        try:
            fingerprint = fingerprints_service.get_fingerprint(
                session=session, fingerprint_hash=run.fingerprint_hash
            )["data"]
        except NotFound:
            fingerprint = None  # the run still renders; the section says it is missing
    return {
        "run": run,
        "terminal": run.status in TERMINAL_RUN_STATUSES,
        "fingerprint": fingerprint,
        "fingerprint_rows": fingerprint_rows(fingerprint or {}),
        # A command experiment's profile is applied from outside its script (the start-up hook).
        "command_run": bool(((fingerprint or {}).get("experiment") or {}).get("command")),
        "time_split": time_split(run),
        "distributions": list((fingerprint or {}).get("distributions") or []),
        "chart_key": f"{run.status}:{run.attempt}:{run.epoch or 0}",
    }


RUN_FRAGMENTS = {"summary": "_run_summary.html", "detail": "_run_detail.html"}


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: IdPath, request: Request, session: ReadSession) -> Response:
    """Attempts, curves, applied profile and fingerprint of one run."""
    return render_page(request, "run.html", lambda: run_context(session, run_id))


@router.get("/runs/{run_id}/live")
def run_live(run_id: IdPath, request: Request, session: ReadSession) -> Response:
    """The run page's changing parts, re-rendered for polling."""
    return render_fragments(request, RUN_FRAGMENTS, lambda: run_context(session, run_id))
