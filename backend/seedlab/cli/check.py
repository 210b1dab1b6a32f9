"""`seedlab check NAME`: one short run of an experiment, checked against the runner contract."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from seedlab.cli.output import ParamsOpt, fail, parse_params
from seedlab.cli.sources import ExperimentsOpt, configured_sources, print_sources

CHECK_SEED = 42
# A check is a smoke run: epochs are capped unless --param epochs=N says otherwise.
CHECK_EPOCHS = 2
TRACEBACK_LINES = 12


@dataclass(frozen=True)
class Check:
    """One item of the contract: passed or not, what was seen, and how to fix it."""

    name: str
    ok: bool
    detail: str


def evaluate(events: list[dict[str, Any]], exit_code: int) -> list[Check]:
    """The contract checks over a run's events (pure: tests feed it events)."""
    epochs = [e for e in events if e.get("event") == "epoch"]
    done = next((e for e in events if e.get("event") == "done"), None)
    error = next((e for e in events if e.get("event") == "error"), None)
    fingerprint = next((e for e in events if e.get("event") == "fingerprint"), None)
    checks: list[Check] = []

    if done is not None and exit_code == 0:
        seconds = sum(float(e.get("seconds") or 0.0) for e in epochs)
        checks.append(Check("run finished", True, f"{len(epochs)} epoch(s) in {seconds:.1f} s"))
    else:
        reason = error["error"] if error else f"the run process exited with code {exit_code}"
        checks.append(Check("run finished", False, f"the run failed: {reason}"))

    metric_names = sorted({name for e in epochs for name in e.get("metrics", {})})
    if metric_names:
        checks.append(Check("metrics reported", True, ", ".join(metric_names)))
    else:
        checks.append(
            Check(
                "metrics reported",
                False,
                "no metrics: train with model.fit(...) (seedlab hooks it), pass "
                "callbacks=[ctx.keras_callback()], or call ctx.log(epoch, loss=...) once per "
                "epoch",
            )
        )

    declared = next((e["epochs"] for e in epochs if e.get("epochs")), None)
    if declared:
        checks.append(Check("epochs declared", True, f"{declared} epochs"))
    else:
        checks.append(
            Check(
                "epochs declared",
                False,
                "epochs not declared (no progress, no 'epoch k of n'): call ctx.set_epochs(n) "
                "before training (model.fit declares it by itself)",
            )
        )

    data_hash = (done or {}).get("data_hash") or ((fingerprint or {}).get("data") or {}).get(
        "data_hash"
    )
    if data_hash:
        checks.append(Check("data hash recorded", True, str(data_hash)[:16]))
    else:
        checks.append(
            Check(
                "data hash recorded",
                False,
                "no data hash: call ctx.record_data(x, y) before training, or train with "
                "model.fit(x, y)",
            )
        )

    checksum = (done or {}).get("weights_checksum") or next(
        (e["weights_checksum"] for e in reversed(epochs) if e.get("weights_checksum")), None
    )
    if checksum:
        checks.append(Check("weights found", True, f"checksum {str(checksum)[:16]}"))
    else:
        checks.append(
            Check(
                "weights found",
                False,
                "no weights checksum, so runs cannot be compared bit for bit: pass the model, "
                "ctx.log(epoch, model=model, loss=...), or train with model.fit",
            )
        )
    return checks


def _capped(spec: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Params with epochs capped at CHECK_EPOCHS when the experiment has them and none given."""
    field = spec.params_model.model_fields.get("epochs")
    if field is None or "epochs" in params:
        return params, None
    default = field.get_default(call_default_factory=True)
    if not isinstance(default, int) or default <= CHECK_EPOCHS:
        return params, None
    candidate = {**params, "epochs": CHECK_EPOCHS}
    try:
        spec.validate_params(candidate)
    except ValueError:
        return params, None
    return candidate, f"epochs capped at {CHECK_EPOCHS} for the check (--param epochs=N)"


def check(
    name: Annotated[str, typer.Argument(help="experiment name")],
    param: ParamsOpt = None,
    experiments: ExperimentsOpt = None,
) -> None:
    """Run one short run of an experiment (profile full, seed 42, in a fresh process) and check
    the contract: run finished, metrics, epochs, data hash, weights. Exit 0 when all pass."""
    from pydantic import ValidationError

    from seedlab.experiments.loader import SOURCES_ENV, load_catalog
    from seedlab.profiles import ProfileSpec, resolve_profile
    from seedlab.runner.launcher import Launcher
    from seedlab.runspec import RunSpec

    sources = configured_sources(experiments)
    # User modules may import TensorFlow here; its start-up chatter is not the check's output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Module names resolve as in the run process (`python -m` puts the working directory first).
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    loaded = load_catalog(sources, project_dir=Path.cwd())
    print_sources([asdict(status) for status in loaded.failed])
    spec = loaded.get(name)
    if spec is None:
        known = ", ".join(sorted(s.name for s in loaded.specs))
        hint = " (a source failed to load, see above)" if loaded.failed else ""
        raise fail(f"unknown experiment {name!r}{hint}; known experiments: {known}")
    params, note = _capped(spec, parse_params(param or []))
    try:
        spec.validate_params(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise fail(f"invalid parameters for {name}: {problems}") from None
    typer.echo(
        f"check {name} (v{spec.version}, {spec.source}): seed {CHECK_SEED}, profile full, "
        f"params {json.dumps(params)}"
    )
    if note:
        typer.echo(f"  ({note})")
    profile = resolve_profile(ProfileSpec(preset="full", isolation="process"))
    launcher = Launcher(base_env={**os.environ, SOURCES_ENV: json.dumps(sources)})
    started = time.monotonic()
    try:
        handle = launcher.start(
            RunSpec(
                run_id=0,
                attempt=1,
                experiment=name,
                params=params,
                seed=CHECK_SEED,
                profile=profile,
            )
        )
        events = list(handle.events())
        code = handle.wait()
    finally:
        launcher.close()
    checks = evaluate(events, code)
    for item in checks:
        typer.echo(f"  {'ok' if item.ok else 'MISSING':8} {item.name}: {item.detail}")
    error = next((e for e in events if e.get("event") == "error"), None)
    if error is not None:
        tail = str(error.get("traceback", "")).rstrip().splitlines()[-TRACEBACK_LINES:]
        typer.echo("  traceback (last lines):\n    " + "\n    ".join(tail))
    elif code != 0:
        typer.echo("  output (last lines):\n" + handle.stderr_tail()[-2000:])
    missing = [item.name for item in checks if not item.ok]
    elapsed = time.monotonic() - started
    if missing:
        typer.echo(f"{len(missing)} check(s) missing: {', '.join(missing)} ({elapsed:.0f} s)")
        raise typer.Exit(1)
    typer.echo(f"all {len(checks)} checks passed ({elapsed:.0f} s)")
