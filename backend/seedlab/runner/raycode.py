"""User code for Ray nodes: the agent's experiment sources as one content-hashed bundle.

Agent side (`build_bundle`): every `--experiments` source and the agent's own project
directory are packed into a reproducible tar (sorted names, no timestamps or owners), named by
its sha256. Node side (`materialise_bundle`): the bytes are checked against that sha256, then
unpacked once per node into `<tmp>/seedlab-ray-code/<sha256>/`; `node_environment` points the
run processes' experiment sources (and PYTHONPATH) at the unpacked copy, so a run on any node
imports the very bytes whose hashes make the version the catalog shows. TF-free.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.util
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seedlab.config import env_name
from seedlab.experiments.loader import classify
from seedlab.experiments.project import find_project_file
from seedlab.experiments.versioning import package_files

# A project directory travels whole (its script may read data files next to it); past this a
# checkout is too big to send with every new version, and the agent says so.
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
# Never shipped: version control, environments, caches (as the version hashes skip them).
SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "__pycache__", "node_modules", ".tox"})
# seedlab itself is installed on every node (`pip install 'seedlab[ray]'`), never shipped.
NOT_SHIPPED_TOP_MODULES = frozenset({"seedlab"})
CACHE_FOLDER = "seedlab-ray-code"
MODULES_DIR = "modules"
SOURCES_ENV = env_name("experiment_sources")
MODULES_ENV = env_name("experiment_modules")


class BundleError(ValueError):
    """A source cannot be shipped (too big, unreadable); the message says which and why."""


@dataclass(frozen=True)
class CodeBundle:
    """The sources a run needs, packed: sha256 of `data`, and the sources as the node sees
    them (paths relative to the unpacked bundle, module names unchanged)."""

    sha256: str
    data: bytes
    sources: tuple[str, ...]
    # Whether modules/ holds shipped modules or packages (it goes first on PYTHONPATH).
    has_modules: bool = False
    files: tuple[str, ...] = field(default=(), compare=False)


def _walk(directory: Path) -> list[Path]:
    """Every file under the directory but the skipped folders, in name order."""
    found: list[Path] = []
    for current, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        found.extend(Path(current, name) for name in sorted(names))
    return found


def _module_files(name: str) -> list[tuple[Path, str]] | None:
    """(file, name in modules/) of the module's top-level package or file; None when it is
    not found here or is seedlab itself (then the node must have it installed)."""
    top = name.partition(".")[0]
    if top in NOT_SHIPPED_TOP_MODULES:
        return None
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        # Its .py files, as versioning hashes them: the version the catalog shows.
        pairs: list[tuple[Path, str]] = []
        for root in map(Path, spec.submodule_search_locations):
            pairs.extend(
                (path, f"{top}/{path.relative_to(root).as_posix()}") for path in package_files(root)
            )
        return pairs
    if spec.origin is None or not spec.has_location or not spec.origin.endswith(".py"):
        return None
    return [(Path(spec.origin), f"{top}.py")]


def plan(sources: Sequence[str], project_dir: Path | None) -> tuple[list[str], dict[str, Path]]:
    """The sources as the node will name them, and each shipped file by its name in the
    bundle. The agent's project directory (when it has a project file) travels as a source."""
    node_sources: list[str] = []
    files: dict[str, Path] = {}
    shipped: set[Path] = set()
    every = list(sources)
    if project_dir is not None:
        with contextlib.suppress(ValueError, OSError):
            if find_project_file(project_dir) is not None:
                every.append(str(project_dir.resolve()) + "/")
    for index, source in enumerate(every):
        kind, target = classify(source)
        if kind == "file":
            # With the .py files beside it: the modules a script-sized experiment imports.
            path = Path(target)
            for sibling in sorted(path.parent.glob("*.py")):
                files[f"files/{index}/{sibling.name}"] = sibling
            node_sources.append(f"files/{index}/{path.name}")
        elif kind == "directory":
            root = Path(target)
            if root in shipped:
                continue  # the agent's project directory, also given as a source
            shipped.add(root)
            prefix = f"projects/{index}/{root.name or 'project'}"
            for path in _walk(root):
                files[f"{prefix}/{path.relative_to(root).as_posix()}"] = path
            node_sources.append(prefix)
        elif kind == "module":
            for path, name in _module_files(target) or []:
                files[f"{MODULES_DIR}/{name}"] = path
            node_sources.append(target)
        else:
            node_sources.append(source)  # the node's loader reports it as the agent's did
    return node_sources, files


def build_bundle(sources: Sequence[str], project_dir: Path | None = None) -> CodeBundle:
    """Pack the sources into a reproducible tar.gz; the same bytes give the same sha256."""
    node_sources, files = plan(sources, project_dir)
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        manifest = json.dumps(node_sources).encode()
        _add(tar, "sources.json", manifest, 0o644)
        for name in sorted(files):
            try:
                data = files[name].read_bytes()
            except OSError as exc:
                raise BundleError(f"cannot ship {files[name]} to the Ray nodes: {exc}") from None
            total += len(data)
            if total > MAX_BUNDLE_BYTES:
                raise BundleError(
                    f"the experiment sources are over {MAX_BUNDLE_BYTES // 2**20} MB "
                    f"(at {files[name]}): give the Ray agent the project's code only (move "
                    "data to `seedlab data add`, or install large packages on the nodes)"
                )
            executable = os.access(files[name], os.X_OK)
            _add(tar, name, data, 0o755 if executable else 0o644)
    data = gzip.compress(buffer.getvalue(), mtime=0)
    return CodeBundle(
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        sources=tuple(node_sources),
        has_modules=any(name.startswith(f"{MODULES_DIR}/") for name in files),
        files=tuple(sorted(files)),
    )


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def cache_root() -> Path:
    """Where a node keeps unpacked bundles: one folder per sha256, shared by its runs."""
    return Path(tempfile.gettempdir()) / CACHE_FOLDER


def materialise_bundle(sha256: str, data: bytes | None, root: Path | None = None) -> Path:
    """The unpacked bundle on this node; `data` (None when the caller found it unpacked
    already) is checked against its sha256 first, as data sets are."""
    folder = (root or cache_root()) / sha256
    if folder.is_dir():
        return folder
    if data is None or hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"experiment code {sha256[:12]} arrived corrupted on this Ray node")
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{sha256}.", dir=folder.parent))
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r") as tar:
        tar.extractall(partial, filter="data")  # no absolute names, links out or devices
    try:
        partial.rename(folder)  # atomic: a concurrent run on this node sees all or nothing
    except OSError:  # another run unpacked it first: same bytes, keep theirs
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def node_environment(folder: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """This environment with the experiment sources pointing into the unpacked bundle."""
    sources = json.loads((folder / "sources.json").read_text())
    local = [str(folder / s) if "/" in s else s for s in sources]
    env = dict(environ)
    env[SOURCES_ENV] = json.dumps(local)
    env.pop(MODULES_ENV, None)  # its names are in the sources now
    modules = folder / MODULES_DIR
    if modules.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(modules), environ.get("PYTHONPATH", "")) if part
        )
    return env
