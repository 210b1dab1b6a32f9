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
from seedlab.controls import FRAMEWORK_NAMES

CHECK_SEED = 42
# A check is a smoke run: epochs are capped unless --param epochs=N says otherwise.
CHECK_EPOCHS = 2
TRACEBACK_LINES = 12
# A crashed script: its error on one line, then this many last lines of its traceback.
SCRIPT_TRACEBACK_LINES = 8
ERROR_LINE_LIMIT = 400


@dataclass(frozen=True)
class Check:
    """One item of the contract: passed or not, what was seen, and how to fix it.

    label: how the line is marked when it is not a plain pass or gap: "info" (a note that is
    neither, such as a data hash a script cannot give) or "FAILED" (a script that crashed).
    """

    name: str
    ok: bool
    detail: str
    label: str = ""

    @property
    def mark(self) -> str:
        return self.label or ("ok" if self.ok else "MISSING")

    @property
    def counted(self) -> bool:
        """Whether it is a check of the contract (a note is not)."""
        return self.label != "info"


# How to report what is missing, by kind of experiment: a decorated function has `ctx`, a
# command script (seedlab.toml) prints JSON lines, its environment and Keras' fit hook.
ADVICE: dict[str, dict[str, str]] = {
    "decorated": {
        "metrics": "no metrics: train with model.fit(...) (seedlab hooks it), pass "
        "callbacks=[ctx.keras_callback()], or call ctx.log(epoch, loss=...) once per epoch",
        "epochs": "epochs not declared (no progress, no 'epoch k of n'): call ctx.set_epochs(n) "
        "before training (model.fit declares it by itself)",
        "data": "no data hash: call ctx.record_data(x, y) before training, or train with "
        "model.fit(x, y)",
        "weights": "no weights checksum, so runs cannot be compared bit for bit: pass the model, "
        "ctx.log(epoch, model=model, loss=...), or train with model.fit",
    },
    "command": {
        "metrics": 'no metrics: print one JSON line per epoch on stdout, such as {"epoch": 1, '
        '"loss": 0.3} (or write them to the metrics_file of seedlab.toml), or train with Keras '
        "model.fit (seedlab hooks it)",
        "epochs": "epochs not declared (no progress, no 'epoch k of n'): add \"epochs\": N, the "
        "planned total, to each JSON line (Keras model.fit declares it by itself)",
        "data": "no data hash: pass in-memory arrays to Keras model.fit(x, y) (seedlab hashes "
        "them; a tf.data Dataset or a generator is not hashed)",
        "weights": "no weights checksum, so runs cannot be compared bit for bit: add "
        '"weights_checksum" (a sha256 of the weights, as examples/torch_script/train.py '
        "computes it) to each JSON line, or train with Keras model.fit",
    },
}


def evaluate(events: list[dict[str, Any]], exit_code: int, *, command: bool = False) -> list[Check]:
    """The contract checks over a run's events (pure: tests feed it events).

    command: a command experiment (a script declared in seedlab.toml). Its advice names what a
    script can do; a script that failed is one FAILED check (the others need a finished run);
    a script that never imported Keras or TensorFlow, which has no way to report a data hash,
    gets a note instead of a missing data hash.
    """
    advice = ADVICE["command" if command else "decorated"]
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
        if command:
            # One line: the traceback under it says where.
            reason = " ".join(str(reason).split())[:ERROR_LINE_LIMIT]
            after = f" (after {len(epochs)} epoch(s))" if epochs else ""
            return [Check("run finished", False, f"the script failed: {reason}{after}", "FAILED")]
        checks.append(Check("run finished", False, f"the run failed: {reason}"))

    metric_names = sorted({name for e in epochs for name in e.get("metrics", {})})
    if metric_names:
        checks.append(Check("metrics reported", True, ", ".join(metric_names)))
    else:
        checks.append(Check("metrics reported", False, advice["metrics"]))

    declared = next((e["epochs"] for e in epochs if e.get("epochs")), None)
    if declared:
        checks.append(Check("epochs declared", True, f"{declared} epochs"))
    else:
        checks.append(Check("epochs declared", False, advice["epochs"]))

    facts = (fingerprint or {}).get("data") or {}
    data_hash = (done or {}).get("data_hash") or facts.get("data_hash")
    if data_hash:
        checks.append(Check("data hash recorded", True, str(data_hash)[:16]))
    elif command and facts and not _imported_keras(facts):
        checks.append(Check("data hash", True, _no_data_hash_note(facts), "info"))
    else:
        checks.append(Check("data hash recorded", False, advice["data"]))

    checksum = (done or {}).get("weights_checksum") or next(
        (e["weights_checksum"] for e in reversed(epochs) if e.get("weights_checksum")), None
    )
    if checksum:
        checks.append(Check("weights found", True, f"checksum {str(checksum)[:16]}"))
    else:
        checks.append(Check("weights found", False, advice["weights"]))

    frameworks = facts.get("frameworks") or {}
    if command and "jax" in frameworks and not _imported_keras(facts):
        checks.append(
            Check(
                "JAX keys",
                True,
                "seedlab cannot seed the jax.random keys a script makes: make them from the "
                "run's seed, SEEDLAB_SEED in the environment or {seed} in the seedlab.toml "
                "command",
                "info",
            )
        )
    return checks


def _imported_keras(fingerprint: dict[str, Any]) -> bool:
    """Whether the run imported Keras or TensorFlow (read from its fingerprint's data): only then
    did seedlab's Keras fit hook, which hashes the training data, run."""
    return fingerprint.get("tensorflow") is not None or "keras" in (
        fingerprint.get("frameworks") or {}
    )


def _no_data_hash_note(fingerprint: dict[str, Any]) -> str:
    """Why a script that never imported Keras is not asked for a data hash, and the way to one."""
    used = [FRAMEWORK_NAMES.get(name, name) for name in sorted(fingerprint.get("frameworks") or {})]
    what = (
        f"the script used {' and '.join(used)}, never Keras"
        if used
        else "the script never imported Keras"
    )
    return (
        f"not asked: {what}; a script has no way to report a data hash (only Keras "
        "model.fit(x, y) on in-memory arrays records one). To have one, train with Keras fit or "
        "write a decorated experiment (docs/your-own-model.md)"
    )


def _traceback_tail(text: str, error: str, lines: int) -> list[str]:
    """The last lines of a traceback, without its last line when that repeats the error."""
    tail = [line for line in str(text).rstrip().splitlines() if line.strip()]
    if tail and tail[-1].strip() == error.strip():
        tail.pop()
    return tail[-lines:]


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
    command = spec.command is not None
    checks = evaluate(events, code, command=command)
    for item in checks:
        typer.echo(f"  {item.mark:8} {item.name}: {item.detail}")
    error = next((e for e in events if e.get("event") == "error"), None)
    elapsed = time.monotonic() - started
    if command and checks[0].mark == "FAILED":
        # One line said what failed; the traceback's last lines say where.
        text = str((error or {}).get("traceback") or "").strip()
        if not text or text == "(no output on stderr)":
            text = handle.stderr_tail()
        tail = _traceback_tail(text, str((error or {}).get("error", "")), SCRIPT_TRACEBACK_LINES)
        if tail:
            typer.echo("    " + "\n    ".join(tail))
        typer.echo(f"the run failed, so nothing else was checked ({elapsed:.0f} s)")
        raise typer.Exit(1)
    if error is not None:
        tail = str(error.get("traceback", "")).rstrip().splitlines()[-TRACEBACK_LINES:]
        typer.echo("  traceback (last lines):\n    " + "\n    ".join(tail))
    elif code != 0:
        typer.echo("  output (last lines):\n" + handle.stderr_tail()[-2000:])
    counted = [item for item in checks if item.counted]
    missing = [item.name for item in counted if not item.ok]
    if missing:
        typer.echo(f"{len(missing)} check(s) missing: {', '.join(missing)} ({elapsed:.0f} s)")
        raise typer.Exit(1)
    typer.echo(f"all {len(counted)} checks passed ({elapsed:.0f} s)")
