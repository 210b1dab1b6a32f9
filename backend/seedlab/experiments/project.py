"""The project file: experiments declared as commands in `seedlab.toml` or `[tool.seedlab]`.

TF-free and imports no user code: the agent reads it to advertise the experiments, the launcher
to run them. See docs/command-experiments.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import string
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from seedlab.experiments.spec import ExperimentSpec, check_bounded_metrics

PROJECT_FILE = "seedlab.toml"
PYPROJECT_FILE = "pyproject.toml"
# The training function of every command experiment: the supervisor that runs the command.
COMMAND_ENTRYPOINT = "seedlab.runner.command:run_command"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
PARAM_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXPERIMENT_KEYS = ("description", "command", "params", "metrics_file", "workdir", "bounded_metrics")
PARAM_KEYS = ("type", "default", "min", "max", "description", "values")
PARAM_TYPES = ("int", "float", "str", "bool", "choice")
# Placeholders every command may use besides its parameters.
BUILTIN_PLACEHOLDERS = ("seed",)
# The version hashes the project's Python sources; a checkout with a virtualenv or data inside
# must not make loading the catalog read gigabytes.
MAX_SOURCE_FILES = 200
MAX_SOURCE_BYTES = 1_000_000
SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "__pycache__", "node_modules", ".tox"})
VERSION_LENGTH = 12


class ProjectFileError(ValueError):
    """The project file cannot be used; the message names the file, experiment and field."""


@dataclass(frozen=True)
class CommandSpec:
    """How to run a command experiment: the argv template and where its outputs are."""

    template: str
    project_dir: Path
    workdir: Path
    metrics_file: Path | None = None
    # sha256 of the project's Python sources (part of the version; the fingerprint's source_hash)
    sources_digest: str = ""

    def argv(self, params: dict[str, Any], *, seed: int, python: str) -> list[str]:
        """The command's argv for these params (no shell); a leading `python` is `python`.

        The template is split first and each word filled in after, so a value with spaces or
        quotes stays one argument and can never add flags of its own.
        """
        values = {name: _render(value) for name, value in params.items()}
        argv = [word.format(**values, seed=seed) for word in shlex.split(self.template)]
        if argv and argv[0] == "python":
            argv[0] = python
        return argv


def _render(value: Any) -> Any:
    """Parameter values as the command line shows them (bools as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def find_project_file(directory: Path) -> Path | None:
    """`seedlab.toml` in the directory, else a `pyproject.toml` with `[tool.seedlab]`, else None."""
    candidate = directory / PROJECT_FILE
    if candidate.is_file():
        return candidate
    pyproject = directory / PYPROJECT_FILE
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ProjectFileError(f"{pyproject}: not valid TOML: {exc}") from exc
        if isinstance(data.get("tool"), dict) and "seedlab" in data["tool"]:
            return pyproject
    return None


def load_project(directory: Path) -> list[ExperimentSpec]:
    """The command experiments declared by the project file in the directory ([] when none)."""
    path = find_project_file(directory)
    if path is None:
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectFileError(f"{path}: not valid TOML: {exc}") from exc
    where = str(path)
    if path.name == PYPROJECT_FILE:
        data = data["tool"]["seedlab"]
        where = f"{path} [tool.seedlab]"
    if not isinstance(data, dict):
        raise ProjectFileError(f"{where}: must be a table")
    unknown = sorted(set(data) - {"experiments"})
    if unknown:
        raise ProjectFileError(f"{where}: unknown keys {unknown}; allowed is only 'experiments'")
    experiments = data.get("experiments", {})
    if not isinstance(experiments, dict):
        raise ProjectFileError(f"{where}: 'experiments' must be a table of [experiments.NAME]")
    sources = _sources_digest(path.parent)
    return [
        _experiment(where, path, name, table, sources) for name, table in experiments.items()
    ]


def _experiment(
    where: str, path: Path, name: str, table: Any, sources: str
) -> ExperimentSpec:
    """One [experiments.NAME] table as an ExperimentSpec with a CommandSpec."""
    at = f"{where}: experiment {name!r}"
    if not NAME_PATTERN.match(name):
        raise ProjectFileError(
            f"{at}: invalid name; use a letter, then letters, digits, '_', '.' or '-' (max 100)"
        )
    if not isinstance(table, dict):
        raise ProjectFileError(f"{at}: must be a table ([experiments.{name}])")
    unknown = sorted(set(table) - set(EXPERIMENT_KEYS))
    if unknown:
        raise ProjectFileError(f"{at}: unknown keys {unknown}; allowed are {list(EXPERIMENT_KEYS)}")
    command = table.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ProjectFileError(
            f'{at}: field "command" is required, a string such as '
            '"python train.py --epochs {epochs}"'
        )
    description = table.get("description", "")
    if not isinstance(description, str):
        raise ProjectFileError(f'{at}: field "description" must be a string')
    params = table.get("params", {})
    if not isinstance(params, dict):
        raise ProjectFileError(f"{at}: field \"params\" must be a table of NAME = {{ type = ... }}")
    fields = {pname: _param_field(at, pname, pspec) for pname, pspec in params.items()}
    _check_placeholders(at, command, set(params))
    project_dir = path.parent.resolve()
    workdir = _relative_path(at, "workdir", table.get("workdir", "."), project_dir)
    if not workdir.is_dir():
        raise ProjectFileError(f'{at}: field "workdir": {workdir} is not a directory')
    metrics = table.get("metrics_file")
    metrics_file = None if metrics is None else _relative_path(at, "metrics_file", metrics, workdir)
    try:
        bounded = check_bounded_metrics(table.get("bounded_metrics", []), where=at)
    except ValueError as exc:
        raise ProjectFileError(str(exc)) from None
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{_camel(name)}Params",
        __config__=ConfigDict(extra="forbid"),
        __doc__=description or f"Parameters of {name}",
        **fields,
    )
    digest = hashlib.sha256(
        json.dumps({"name": name, "table": table}, sort_keys=True, default=str).encode()
    )
    digest.update(sources.encode())
    return ExperimentSpec(
        name=name,
        version=digest.hexdigest()[:VERSION_LENGTH],
        description=description or f"command: {command}",
        params_model=model,
        entrypoint=COMMAND_ENTRYPOINT,
        command=CommandSpec(
            template=command,
            project_dir=project_dir,
            workdir=workdir,
            metrics_file=metrics_file,
            sources_digest=sources,
        ),
        bounded_metrics=bounded,
    )


def _relative_path(at: str, field: str, value: Any, base: Path) -> Path:
    """A path field, relative to base."""
    if not isinstance(value, str) or not value:
        raise ProjectFileError(f'{at}: field "{field}" must be a non-empty path string')
    return (base / value).resolve()


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name)) or "Command"


def _check_placeholders(at: str, command: str, params: set[str]) -> None:
    """Every {placeholder} names a declared parameter or seed; the result splits as argv."""
    try:
        parsed = list(string.Formatter().parse(command))
        shlex.split(command)
    except ValueError as exc:
        raise ProjectFileError(f'{at}: field "command" cannot be parsed: {exc}') from exc
    allowed = params | set(BUILTIN_PLACEHOLDERS)
    for _text, field, _spec, _conversion in parsed:
        if field is None:
            continue
        if not PARAM_NAME_PATTERN.match(field):
            raise ProjectFileError(
                f'{at}: field "command": placeholder {{{field}}} must be a plain name '
                "(write {{ and }} for literal braces)"
            )
        if field not in allowed:
            raise ProjectFileError(
                f'{at}: field "command": placeholder {{{field}}} is not a declared parameter; '
                f"allowed are {sorted(allowed)}"
            )


def _param_field(at: str, name: str, spec: Any) -> tuple[Any, Any]:
    """A create_model field definition (type, FieldInfo) for one declared parameter."""
    where = f'{at}: parameter "{name}"'
    if not PARAM_NAME_PATTERN.match(name) or name in BUILTIN_PLACEHOLDERS:
        raise ProjectFileError(
            f"{where}: invalid name; use a Python identifier other than "
            f"{list(BUILTIN_PLACEHOLDERS)}"
        )
    if not isinstance(spec, dict):
        raise ProjectFileError(f'{where}: must be a table such as {{ type = "int", default = 5 }}')
    unknown = sorted(set(spec) - set(PARAM_KEYS))
    if unknown:
        raise ProjectFileError(f"{where}: unknown keys {unknown}; allowed are {list(PARAM_KEYS)}")
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        raise ProjectFileError(
            f'{where}: field "type" is {kind!r}; allowed are {list(PARAM_TYPES)}'
        )
    python_type: Any
    bounds: dict[str, Any] = {}
    if kind == "choice":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise ProjectFileError(f'{where}: field "values" is required for a choice, a list')
        from typing import Literal

        python_type = Literal[tuple(values)]
    else:
        if "values" in spec:
            raise ProjectFileError(f'{where}: field "values" is only for type = "choice"')
        python_type = {"int": int, "float": float, "str": str, "bool": bool}[kind]
        for key, constraint in (("min", "ge"), ("max", "le")):
            if key not in spec:
                continue
            if kind not in ("int", "float"):
                raise ProjectFileError(f'{where}: field "{key}" is only for int and float')
            bound = spec[key]
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise ProjectFileError(f'{where}: field "{key}" must be a number')
            bounds[constraint] = bound
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise ProjectFileError(f'{where}: field "description" must be a string')
    if "default" not in spec:
        return python_type, Field(description=description or None, **bounds)
    default = spec["default"]
    probe = create_model("Probe", __config__=ConfigDict(strict=kind != "float"),
                         value=(python_type, Field(**bounds)))
    try:
        default = probe.model_validate({"value": default}).value  # type: ignore[attr-defined]
    except ValueError as exc:
        raise ProjectFileError(
            f'{where}: field "default" = {default!r} does not fit type {kind!r}'
            f"{' and its bounds' if bounds else ''}"
        ) from exc
    return python_type, Field(default=default, description=description or None, **bounds)


def _sources_digest(directory: Path) -> str:
    """sha256 over the project's Python sources (relative path and bytes), sorted and bounded."""
    digest = hashlib.sha256()
    files = sorted(
        path
        for path in directory.rglob("*.py")
        if not SKIPPED_DIRS.intersection(path.relative_to(directory).parts)
    )
    for path in files[:MAX_SOURCE_FILES]:
        try:
            data = path.read_bytes()[:MAX_SOURCE_BYTES]
        except OSError:
            continue  # unreadable: it cannot be what the command runs either
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()



def find_command_experiment(
    name: str, directories: Sequence[Path]
) -> ExperimentSpec | None:
    """The command experiment NAME from the first of these directories' project files declaring
    it, or None. Reads project files only: no user module is imported (the agent never does)."""
    from seedlab.experiments.builtin_specs import BUILTIN
    from seedlab.experiments.diagnostic_specs import DIAGNOSTIC

    if any(spec.name == name for spec in (*BUILTIN, *DIAGNOSTIC)):
        return None  # a built-in name always means the built-in, as in the catalog
    for directory in directories:
        try:
            specs = load_project(directory)
        except (ProjectFileError, OSError):
            continue  # reported where the catalog is loaded; here it only declares nothing
        for spec in specs:
            if spec.name == name:
                return spec
    return None
