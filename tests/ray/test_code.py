"""The code bundle of the Ray executor: what travels, its hash, and the version on the node."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

from seedlab.experiments.inspect import inspect_catalog
from seedlab.experiments.loader import sources_from_env
from seedlab.runner.raycode import (
    BundleError,
    build_bundle,
    materialise_bundle,
    node_environment,
)

REPO = Path(__file__).resolve().parents[2]

DECORATED = '''
from pydantic import BaseModel

import seedlab
from helper_{tag} import WIDTH


class Params(BaseModel):
    epochs: int = 1


@seedlab.experiment(name="shipped_{tag}", params=Params)
def train(params, ctx):
    """Trains nothing: the test loads the catalog only."""
'''


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A decorated file, a package (module source) and a seedlab.toml project."""
    agent = tmp_path / "agent"
    (agent / "files").mkdir(parents=True)
    (agent / "files" / "exp_file.py").write_text(DECORATED.format(tag="file"))
    (agent / "files" / "helper_file.py").write_text("WIDTH = 1\n")  # a module it imports
    (agent / "files" / "notes.txt").write_text("not code\n")
    package = agent / "pkgroot" / "shippedpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helper_pkg.py").write_text("WIDTH = 2\n")
    (package / "exps.py").write_text(
        DECORATED.format(tag="pkg").replace("from helper_pkg", "from shippedpkg.helper_pkg")
    )
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    project = agent / "proj"
    shutil.copytree(REPO / "examples" / "keras_script", project)
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: x\n")
    # The file source's sibling lives next to it only on the agent: put it on the path there.
    monkeypatch.syspath_prepend(str(agent / "files"))
    monkeypatch.syspath_prepend(str(agent / "pkgroot"))
    return [str(agent / "files" / "exp_file.py"), "shippedpkg.exps", str(project) + "/"]


def test_the_bundle_holds_the_sources_and_its_hash_is_its_content(
    sources: list[str], tmp_path: Path
) -> None:
    bundle = build_bundle(sources)
    assert bundle.files == (
        "files/0/exp_file.py",
        "files/0/helper_file.py",
        "modules/shippedpkg/__init__.py",
        "modules/shippedpkg/exps.py",
        "modules/shippedpkg/helper_pkg.py",
        "projects/2/proj/README.md",
        "projects/2/proj/seedlab.toml",
        "projects/2/proj/train.py",
    )
    assert bundle.sources == ("files/0/exp_file.py", "shippedpkg.exps", "projects/2/proj")
    # Reproducible: no timestamps inside, so the same files give the same sha256 ...
    os.utime(sources[0], (1, 1))
    assert build_bundle(sources).sha256 == bundle.sha256
    # ... and one changed byte a new one.
    train = Path(sources[2]) / "train.py"
    train.write_text(train.read_text() + "\n")
    assert build_bundle(sources).sha256 != bundle.sha256


def test_the_node_refuses_bytes_that_do_not_match_the_hash(
    sources: list[str], tmp_path: Path
) -> None:
    bundle = build_bundle(sources)
    tampered = gzip.compress(gzip.decompress(bundle.data) + b"\0" * 512, mtime=0)
    with pytest.raises(ValueError, match="arrived corrupted"):
        materialise_bundle(bundle.sha256, tampered, tmp_path / "node")
    with pytest.raises(ValueError, match="arrived corrupted"):
        materialise_bundle(bundle.sha256, None, tmp_path / "node")
    folder = materialise_bundle(bundle.sha256, bundle.data, tmp_path / "node")
    assert folder == tmp_path / "node" / bundle.sha256
    # Unpacked once: the next run on this node needs no bytes.
    assert materialise_bundle(bundle.sha256, None, tmp_path / "node") == folder


def test_the_node_loads_the_version_the_agent_advertised(
    sources: list[str], tmp_path: Path
) -> None:
    agent_env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(sources[0]).parent), str(Path(sources[0]).parents[1] / "pkgroot"),
         str(REPO / "backend")]
    )}  # fmt: skip
    on_agent = inspect_catalog(sources, env=agent_env)
    bundle = build_bundle(sources)
    folder = materialise_bundle(bundle.sha256, bundle.data, tmp_path / "node")
    # The node has neither the agent's paths nor its PYTHONPATH: only the bundle.
    node_env = node_environment(folder, {**os.environ, "PYTHONPATH": str(REPO / "backend")})
    on_node = inspect_catalog(sources_from_env(node_env), env=node_env)

    def versions(report: object) -> dict[str, str]:
        return {e["name"]: e["version"] for e in report.experiments}  # type: ignore[attr-defined]

    shipped = {"shipped_file", "shipped_pkg", "keras_script"}
    assert shipped <= versions(on_node).keys()
    assert {n: versions(on_node)[n] for n in shipped} == {
        n: versions(on_agent)[n] for n in shipped
    }
    assert not [s for s in on_node.sources if not s["ok"]], on_node.sources
    # Paths point into the unpacked bundle, never at the agent's files.
    paths = [s["source"] for s in on_node.sources if s["source"].startswith(("file", "project"))]
    assert len(paths) == 2 and all(str(folder) in p for p in paths), paths


def test_a_project_too_big_to_ship_is_refused_by_name(
    sources: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("seedlab.runner.raycode.MAX_BUNDLE_BYTES", 1000)
    with pytest.raises(BundleError, match="over 0 MB"):
        build_bundle(sources)
