"""Experiment versions from source hashes: a changed source is a new version (TF-free).

Nothing here imports the code it hashes: module files are found with importlib's finders, so
the agent can version a module that imports TensorFlow without importing it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

VERSION_LENGTH = 12
# A package is hashed as a whole; a checkout with a virtualenv or data inside must not make
# loading the catalog read gigabytes.
MAX_PACKAGE_FILES = 2000
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".venv", "venv", "node_modules", ".tox"})

# (path, mtime_ns, size) -> sha256 of the file: the server lists the catalog per request.
_file_digests: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of one file's bytes (cached while its mtime and size stay the same)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    digest = _file_digests.get(key)
    if digest is None:
        digest = _file_digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def files_digest(root: Path, files: list[Path]) -> str:
    """sha256 over the relative names and digests of the files, in name order."""
    combined = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        combined.update(path.relative_to(root).as_posix().encode() + b"\0")
        combined.update(file_digest(path).encode() + b"\n")
    return combined.hexdigest()


def package_files(directory: Path) -> list[Path]:
    """The .py files of a package directory, subpackages included."""
    found: list[Path] = []
    for current, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        found.extend(Path(current, name) for name in names if name.endswith(".py"))
        if len(found) > MAX_PACKAGE_FILES:
            raise ValueError(
                f"package {directory} has more than {MAX_PACKAGE_FILES} .py files; "
                "version it by a module of its own"
            )
    return found


def module_digest(module_name: str) -> str:
    """sha256 of a module's source: its file, or every .py file of its top-level package.

    A package is hashed whole because a training function usually depends on its siblings
    (models, data loading): any change there is a new version too.
    """
    top = module_name.partition(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is None:
        raise ModuleNotFoundError(f"No module named {top!r}", name=top)
    if spec.submodule_search_locations:  # a package (regular or namespace)
        roots = [Path(p) for p in spec.submodule_search_locations]
        parts = [files_digest(root, package_files(root)) for root in sorted(roots)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()
    if spec.origin is None or not spec.has_location:
        raise ValueError(f"module {top!r} has no source file to version")
    return file_digest(Path(spec.origin))


def short(digest: str) -> str:
    """The first VERSION_LENGTH hex digits: what versions show."""
    return digest[:VERSION_LENGTH]


def source_version(module_name: str, declared: str | None = None) -> str:
    """`<declared>+<short source hash>`, or the short hash alone when nothing was declared."""
    digest = short(module_digest(module_name))
    return f"{declared}+{digest}" if declared else digest


def builtin_version(module_file: str) -> str:
    """A built-in's version: "1" plus the short sha256 of the module in this package that trains
    it, so a changed built-in is a new version too."""
    return f"1+{short(file_digest(Path(__file__).with_name(module_file)))}"
