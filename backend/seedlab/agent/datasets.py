"""Agent side: download a run's data sets by sha256 into a local cache, verified.

TF-free and database-free: agents import it. A file at its final cache path is always
complete and verified, because it only gets there by an atomic rename after the check.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from seedlab.agent.client import SeedlabClient
from seedlab.datasets.params import DATASET_WIDGET, WIDGET, dataset_fields
from seedlab.experiments.catalog import get_experiment


class DatasetFetchError(RuntimeError):
    """A data set could not be downloaded or did not match its sha256."""


def cache_dir(data_dir: Path) -> Path:
    """The agent host's cache: <data dir>/cache/datasets."""
    return data_dir / "cache" / "datasets"


def dataset_refs(experiment: str, params: dict[str, Any]) -> list[str]:
    """The sha256s of the data sets a run's parameters name (the server resolved names)."""
    try:
        spec = get_experiment(experiment)
    except KeyError:
        return []  # the run process reports the unknown experiment
    fields = dataset_fields(spec.params_schema())
    return [
        str(params[name])
        for name, prop in fields.items()
        if prop.get(WIDGET) == DATASET_WIDGET and params.get(name)
    ]


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_cached(client: SeedlabClient, sha256: str, directory: Path) -> Path:
    """The local file of a data set, downloaded from the server when not cached yet."""
    final = directory / f"{sha256}.csv"
    if final.is_file():
        return final
    directory.mkdir(parents=True, exist_ok=True)
    response = client.request("GET", f"/api/v1/datasets/{sha256}/content")
    handle, name = tempfile.mkstemp(prefix=f"{sha256[:12]}-", suffix=".part", dir=directory)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(response.content)
        actual = _sha256_of(temporary)
        if actual != sha256:
            raise DatasetFetchError(
                f"data set {sha256} downloaded from {client.base_url} has sha256 {actual}; "
                "refusing to use it"
            )
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return final


def fetch_for_run(
    client: SeedlabClient, experiment: str, params: dict[str, Any], directory: Path
) -> dict[str, str]:
    """sha256 -> local path for every data set the run needs (for RunSpec.datasets)."""
    found: dict[str, str] = {}
    for sha256 in dataset_refs(experiment, params):
        try:
            found[sha256] = str(ensure_cached(client, sha256, directory))
        except DatasetFetchError:
            raise
        except Exception as exc:  # HTTP errors, a full disk: the run fails with the reason
            raise DatasetFetchError(f"could not fetch data set {sha256}: {exc}") from exc
    return found
