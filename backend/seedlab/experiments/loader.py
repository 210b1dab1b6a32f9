"""Load the experiment catalog from every source, with a loaded/failed status per source.

Sources, in order (the first definition of a name wins): the built-ins (with the diagnostic
experiments), installed `seedlab.experiments` entry points, each `--experiments` source (a
`.py` file, a directory holding a project file, or an importable module name), and the project
file of `project_dir`. Loading imports user modules, which may import TensorFlow: the agent
calls this in a short-lived subprocess (`seedlab.experiments.inspect`); run processes and
`seedlab check` call it in-process.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
import sysconfig
import traceback
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from seedlab.experiments.builtin_specs import BUILTIN, ENTRY_POINT_GROUP, MODULES_ENV
from seedlab.experiments.decorated import spec_of
from seedlab.experiments.diagnostic_specs import DIAGNOSTIC
from seedlab.experiments.spec import ExperimentSpec
from seedlab.experiments.versioning import file_digest, source_version

# What the agent hands its run processes (a JSON list), so they find the experiments it
# advertised; people may also set it, comma-separated.
SOURCES_ENV = "SEEDLAB_EXPERIMENT_SOURCES"
PROJECT_MODULE = "seedlab.experiments.project"
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
NOT_IMPORTABLE = (
    "not importable: is it on PYTHONPATH of the agent? give a file path instead "
    "(--experiments path/to/file.py)"
)
NO_EXPERIMENTS = (
    "defines no experiment: decorate a function with @seedlab.experiment(name=..., "
    "params=...) or list ExperimentSpec objects in EXPERIMENTS"
)
# Remembered per imported file so a changed file is imported again (its version changes).
DIGEST_ATTRIBUTE = "__seedlab_digest__"


@dataclass(frozen=True)
class SourceStatus:
    """One source as loaded: ok with its experiments, or failed with the error and a hint."""

    source: str
    ok: bool
    error: str | None
    experiments: tuple[str, ...]


@dataclass(frozen=True)
class LoadedCatalog:
    """Every experiment that loaded, in source order, and the status of every source."""

    specs: tuple[ExperimentSpec, ...]
    sources: tuple[SourceStatus, ...]

    def get(self, name: str) -> ExperimentSpec | None:
        """The named experiment, or None."""
        return next((spec for spec in self.specs if spec.name == name), None)

    @property
    def failed(self) -> tuple[SourceStatus, ...]:
        """The sources that failed (wholly or for some of their experiments)."""
        return tuple(status for status in self.sources if not status.ok)


class SourceError(Exception):
    """A source cannot be loaded; the message says what and how to fix it."""


@dataclass
class _Builder:
    """Accumulates specs by name (first wins) and one status per source."""

    by_name: dict[str, ExperimentSpec] = field(default_factory=dict)
    statuses: list[SourceStatus] = field(default_factory=list)

    def add(self, label: str, load: Callable[[], tuple[list[ExperimentSpec], list[str]]]) -> None:
        """Load one source; any exception is that source's failure, never the catalog's."""
        try:
            specs, problems = load()
        except SourceError as exc:
            self.statuses.append(SourceStatus(label, False, str(exc), ()))
            return
        except Exception as exc:  # user code may raise anything while it is imported
            self.statuses.append(SourceStatus(label, False, describe_import_error(exc), ()))
            return
        names: list[str] = []
        for spec in specs:
            if spec.source != label:
                spec = replace(spec, source=label)
            existing = self.by_name.get(spec.name)
            if existing is None:
                self.by_name[spec.name] = spec
                names.append(spec.name)
            elif (existing.entrypoint, existing.params_model) == (
                spec.entrypoint,
                spec.params_model,
            ):
                names.append(spec.name)  # the same experiment reached twice: no conflict
            else:
                problems.append(
                    f"experiment {spec.name!r} is already defined by {existing.source}; the "
                    "first definition wins: rename this one"
                )
        error = "; ".join(problems) if problems else None
        self.statuses.append(SourceStatus(label, not problems, error, tuple(names)))

    def result(self) -> LoadedCatalog:
        return LoadedCatalog(tuple(self.by_name.values()), tuple(self.statuses))


def load_catalog(
    sources: Sequence[str] = (), *, project_dir: Path | None = None
) -> LoadedCatalog:
    """Built-ins, entry points, each PATH_OR_MODULE source and project_dir's project file."""
    builder = _Builder()
    builder.add("builtin", lambda: ([*BUILTIN, *DIAGNOSTIC], []))
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        builder.add(f"entry point {entry.name} ({entry.value})", partial(_load_entry, entry))
    seen_projects: set[Path] = set()
    for source in dedupe(sources):
        kind, target = classify(source)
        if kind == "file":
            builder.add(f"file {target}", partial(_load_file, Path(target)))
        elif kind == "directory":
            seen_projects.add(Path(target))
            builder.add(f"project {target}", partial(_load_project, Path(target), required=True))
        elif kind == "module":
            builder.add(f"module {target}", partial(_load_module, target))
        else:
            builder.add(f"source {source}", partial(_raise, target))
    if project_dir is not None and project_dir.resolve() not in seen_projects:
        directory = project_dir.resolve()
        found = _project_file(directory)
        if found is not None:
            builder.add(f"project {found}", partial(_load_project, directory, required=False))
    return builder.result()


def _load_entry(entry: EntryPoint) -> tuple[list[ExperimentSpec], list[str]]:
    return _from_object(entry.load(), f"entry point {entry.name}")


def _raise(message: str) -> tuple[list[ExperimentSpec], list[str]]:
    raise SourceError(message)


def classify(source: str) -> tuple[str, str]:
    """("file" | "directory" | "module" | "invalid", absolute path, module name or error)."""
    looks_like_path = source.endswith(".py") or "/" in source or source.startswith((".", "~"))
    if looks_like_path:
        path = Path(source).expanduser().resolve()
        if path.is_file() and path.suffix == ".py":
            return "file", str(path)
        if path.is_dir():
            return "directory", str(path)
        if path.exists():
            return "invalid", f"{source}: not a .py file or a directory"
        return "invalid", f"{source}: no such file or directory (resolved to {path})"
    if MODULE_NAME.match(source):
        return "module", source
    return "invalid", (
        f"{source!r} is not a .py file, a directory (write it with a slash, e.g. ./project) "
        "or an importable module name"
    )


def absolute_source(source: str) -> str:
    """File and directory sources as absolute paths (run processes may start elsewhere);
    module names unchanged."""
    kind, target = classify(source)
    return target if kind in ("file", "directory") else source


def dedupe(sources: Iterable[str]) -> list[str]:
    """Stripped, non-empty sources in first-seen order."""
    seen: dict[str, None] = {}
    for source in sources:
        if source.strip():
            seen.setdefault(source.strip(), None)
    return list(seen)


def parse_sources(text: str | None) -> list[str]:
    """A sources value: a JSON list of strings (as the agent sets it) or comma-separated."""
    if not text or not text.strip():
        return []
    if text.lstrip().startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{SOURCES_ENV} is not a valid JSON list ({exc})") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{SOURCES_ENV} must be a JSON list of strings")
        return dedupe(value)
    return dedupe(text.split(","))


def sources_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """SEEDLAB_EXPERIMENT_SOURCES plus the older SEEDLAB_EXPERIMENT_MODULES (module names)."""
    env = os.environ if environ is None else environ
    return dedupe(
        [*parse_sources(env.get(SOURCES_ENV)), *env.get(MODULES_ENV, "").split(",")]
    )


def describe_import_error(exc: BaseException) -> str:
    """`Type: message (at file:line)` and a hint of what to do."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError):
        where = f"{exc.filename}:{exc.lineno}" if exc.filename else None
        hint = "fix the syntax error"
    else:
        frame = _user_frame(traceback.extract_tb(exc.__traceback__))
        where = f"{frame.filename}:{frame.lineno}" if frame else None
        if isinstance(exc, ModuleNotFoundError):
            hint = (
                f"it imports {exc.name!r}, which cannot be found where the agent runs (not "
                "installed, or not on PYTHONPATH)"
            )
        else:
            hint = "the module raised while it was imported"
    return f"{text} (at {where}); {hint}" if where else f"{text}; {hint}"


def _user_frame(frames: traceback.StackSummary) -> traceback.FrameSummary | None:
    """The deepest frame in the user's code: not importlib's, the standard library's, an
    installed library's or this loader's (those say nothing about what to fix)."""
    paths = sysconfig.get_paths()
    library_roots = tuple(
        str(Path(paths[key]).resolve()) for key in ("stdlib", "platstdlib", "purelib", "platlib")
    )
    candidates = [f for f in frames if not f.filename.startswith("<") and f.filename != __file__]
    for frame in reversed(candidates):
        if not str(Path(frame.filename).resolve()).startswith(library_roots):
            return frame
    return candidates[-1] if candidates else None


def _import(name: str, origin_check: Path | None = None) -> types.ModuleType:
    """Import a module; a module whose file changed since it was imported is imported again."""
    importlib.invalidate_caches()
    module = sys.modules.get(name)
    if module is not None:
        file = getattr(module, "__file__", None)
        if origin_check is not None and (file is None or Path(file).resolve() != origin_check):
            raise SourceError(
                f"module name {name!r} is already taken by {file or 'a built-in module'}: "
                "rename the file"
            )
        if file and getattr(module, DIGEST_ATTRIBUTE, None) not in (None, _digest(file)):
            module = importlib.reload(module)
    else:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
                raise SourceError(f"ModuleNotFoundError: {exc}; {NOT_IMPORTABLE}") from None
            raise
    file = getattr(module, "__file__", None)
    if file:
        setattr(module, DIGEST_ATTRIBUTE, _digest(file))
    return module


def _digest(file: str) -> str | None:
    try:
        return file_digest(Path(file))
    except OSError:
        return None


def _load_module(name: str) -> tuple[list[ExperimentSpec], list[str]]:
    return _from_module(_import(name), f"module {name}")


def _load_file(path: Path) -> tuple[list[ExperimentSpec], list[str]]:
    """Import a .py file as a top-level module named after it, from its directory (so run
    processes import it again by the same name)."""
    name = path.stem
    if not name.isidentifier():
        raise SourceError(f"{path.name}: {name!r} is not a valid module name; rename the file")
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return _from_module(_import(name, origin_check=path), f"file {path}")


def _from_module(
    module: types.ModuleType, label: str
) -> tuple[list[ExperimentSpec], list[str]]:
    """The experiments a module exposes: its EXPERIMENTS list, then its decorated functions."""
    specs: list[ExperimentSpec] = []
    problems: list[str] = []
    listed = getattr(module, "EXPERIMENTS", None)
    if listed is not None:
        if not isinstance(listed, list | tuple):
            raise SourceError(f"{label}: EXPERIMENTS must be a list, got {type(listed).__name__}")
        for item in listed:
            found, item_problems = _from_object(item, f"{label} EXPERIMENTS")
            specs.extend(found)
            problems.extend(item_problems)
    for value in vars(module).values():
        decorated = spec_of(value)
        if decorated is not None and decorated not in specs:
            specs.append(decorated)
    if not specs and not problems:
        raise SourceError(f"{module.__name__} {NO_EXPERIMENTS}")
    return specs, problems


def _from_object(value: Any, label: str) -> tuple[list[ExperimentSpec], list[str]]:
    """What an entry point or an EXPERIMENTS item is: a spec, a decorated function, a module
    or a list of those."""
    if isinstance(value, ExperimentSpec):
        return [_versioned(value)], []
    decorated = spec_of(value)
    if decorated is not None:
        return [decorated], []
    if isinstance(value, types.ModuleType):
        return _from_module(value, label)
    if isinstance(value, list | tuple):
        specs: list[ExperimentSpec] = []
        problems: list[str] = []
        for item in value:
            found, item_problems = _from_object(item, label)
            specs.extend(found)
            problems.extend(item_problems)
        return specs, problems
    raise SourceError(
        f"{label} is a {type(value).__name__}, not an ExperimentSpec, a function decorated with "
        "@seedlab.experiment, a module or a list of them"
    )


def _versioned(spec: ExperimentSpec) -> ExperimentSpec:
    """A hand-written spec's version gets its entrypoint module's source hash appended."""
    if any(spec is builtin for builtin in BUILTIN):
        return spec
    module = spec.entrypoint.partition(":")[0]
    try:
        return replace(spec, version=source_version(module, spec.version))
    except (ImportError, ValueError) as exc:
        raise SourceError(
            f"experiment {spec.name!r}: its entrypoint module {module!r} cannot be found "
            f"({exc}); {NOT_IMPORTABLE}"
        ) from None


def _project_file(directory: Path) -> Path | None:
    """The project file of a directory, or None (also when this build has no project files)."""
    if importlib.util.find_spec(PROJECT_MODULE) is None:
        return None
    project = importlib.import_module(PROJECT_MODULE)
    try:
        found: Path | None = project.find_project_file(directory)
    except Exception:  # a broken pyproject.toml: _load_project reports it
        return directory / "pyproject.toml"
    return found


def _load_project(
    directory: Path, *, required: bool
) -> tuple[list[ExperimentSpec], list[str]]:
    """The command experiments of the directory's project file (helper module project.py)."""
    if importlib.util.find_spec(PROJECT_MODULE) is None:
        raise SourceError(
            f"{directory}: project files (seedlab.toml) are not supported by this seedlab "
            "build; give a .py file or a module name"
        )
    project = importlib.import_module(PROJECT_MODULE)
    try:
        specs: list[ExperimentSpec] = project.load_project(directory)
    except (ValueError, OSError) as exc:  # ProjectFileError names file, experiment and field
        raise SourceError(str(exc)) from None
    if not specs and required:
        raise SourceError(
            f"{directory}: no seedlab.toml (or pyproject.toml with [tool.seedlab]) declaring "
            "[experiments.NAME] here"
        )
    return specs, []
