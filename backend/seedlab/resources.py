"""Files shipped with the package (pages, migrations), found through importlib.resources."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def packaged_path(package: str, name: str) -> Path:
    """A folder or file shipped in `package`, as a real path (Jinja2 and Alembic want paths).

    seedlab.frontend and seedlab.migrations are the top-level frontend/ and alembic/ folders:
    copied into the package by a wheel, reached through symbolic links in a source tree or an
    editable install (docs/architecture.md). Both are namespace packages, whose files() is a
    MultiplexedPath; joining a name that exists on disk gives a plain Path.
    """
    resource = files(package).joinpath(name)
    if not isinstance(resource, Path) or not resource.exists():
        raise FileNotFoundError(f"{package}/{name} is not installed as a file; reinstall seedlab")
    return resource
