"""Load the catalog in a short-lived process and hand it back as JSON, so the agent stays TF-free.

`python -m seedlab.experiments.inspect --sources JSON [--project-dir DIR]` prints one JSON
object on stdout: {"experiments": [advert...], "sources": [status...]}. User modules may print
while they are imported: that output goes to stderr, never into the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from seedlab.experiments.loader import LoadedCatalog, load_catalog
from seedlab.experiments.spec import ExperimentSpec

# Importing user modules can import TensorFlow (about 8 s on a loaded 2-core machine).
INSPECT_TIMEOUT = 300.0


def advert(spec: ExperimentSpec) -> dict[str, Any]:
    """An experiment as agents advertise it (the fields of queue.schemas.ExperimentAdvert)."""
    try:
        defaults: dict[str, Any] = spec.params_model.model_validate({}).model_dump(mode="json")
    except ValueError:  # a parameter without default: the form asks for it
        defaults = {
            name: info.default
            for name, info in spec.params_model.model_fields.items()
            if not info.is_required()
        }
    return {
        "name": spec.name,
        "version": spec.version,
        "description": spec.description,
        "params_schema": spec.params_schema(),
        "defaults": defaults,
        "source": spec.source,
        "seed_sources": list(spec.seed_sources),
        "bounded_metrics": list(spec.bounded_metrics),
    }


def catalog_json(loaded: LoadedCatalog) -> dict[str, Any]:
    """The whole load result as JSON-ready dicts."""
    return {
        "experiments": [advert(spec) for spec in loaded.specs],
        "sources": [
            {**asdict(status), "experiments": list(status.experiments)}
            for status in loaded.sources
        ],
    }


@dataclass(frozen=True)
class CatalogReport:
    """The catalog as the agent sees it: adverts and per-source statuses (plain dicts)."""

    experiments: list[dict[str, Any]]
    sources: list[dict[str, Any]]

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The statuses of the sources that failed."""
        return [status for status in self.sources if not status["ok"]]


class InspectFailed(RuntimeError):
    """The inspecting process itself failed (not a source: those are statuses)."""


def inspect_catalog(
    sources: Sequence[str],
    *,
    project_dir: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = INSPECT_TIMEOUT,
) -> CatalogReport:
    """Load the catalog in a fresh interpreter (agent side: no user code, no TF imported here)."""
    command = [sys.executable, "-m", "seedlab.experiments.inspect"]
    command += ["--sources", json.dumps(list(sources))]
    if project_dir is not None:
        command += ["--project-dir", str(project_dir)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy() if env is None else env,
        check=False,
    )
    if result.returncode != 0:
        raise InspectFailed(
            f"loading the experiment catalog failed (exit {result.returncode}): "
            f"{result.stderr[-2000:]}"
        )
    data = json.loads(result.stdout)
    return CatalogReport(experiments=data["experiments"], sources=data["sources"])


def main() -> None:
    """Entry: print the catalog of the given sources as JSON on stdout."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", default="[]", help="JSON list of PATH_OR_MODULE sources")
    parser.add_argument("--project-dir", type=Path, default=None, help="its project file too")
    args = parser.parse_args()
    sources = json.loads(args.sources)
    # Whatever user modules print (Python or C level) goes to stderr; stdout is the JSON.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        loaded = load_catalog(sources, project_dir=args.project_dir)
        payload = json.dumps(catalog_json(loaded))
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    sys.stdout.write(payload + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
