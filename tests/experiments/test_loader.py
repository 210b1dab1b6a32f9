"""The experiment loader: sources with statuses, decorated functions, versions from source."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from seedlab.experiments import catalog
from seedlab.experiments.decorated import experiment
from seedlab.experiments.inspect import inspect_catalog
from seedlab.experiments.loader import (
    MODULES_ENV,
    SOURCES_ENV,
    load_catalog,
    parse_sources,
    sources_from_env,
)

DECORATED = '''
from pydantic import BaseModel, ConfigDict, Field

from seedlab import RunContext, experiment


class LoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(3, ge=1, le=50, description="epochs")


@experiment(name="{name}", params=LoopParams)
def train(params: LoopParams, ctx: RunContext) -> None:
    """A custom loop that logs its loss."""
    ctx.set_epochs(params.epochs)
'''


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Modules and sys.path entries a test adds are gone after it."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    monkeypatch.delenv(SOURCES_ENV, raising=False)
    monkeypatch.delenv(MODULES_ENV, raising=False)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def _module(directory: Path, name: str | None = None, source: str | None = None) -> Path:
    stem = name or f"exp_{uuid.uuid4().hex[:10]}"
    path = directory / f"{stem}.py"
    path.write_text(textwrap.dedent(source or DECORATED.format(name=stem)))
    return path


def _status(loaded, label_end: str):  # type: ignore[no-untyped-def]
    matches = [s for s in loaded.sources if s.source.endswith(label_end)]
    assert len(matches) == 1, loaded.sources
    return matches[0]


def test_a_decorated_function_in_a_file_is_an_experiment(tmp_path: Path) -> None:
    path = _module(tmp_path)
    loaded = load_catalog([str(path)])
    spec = loaded.get(path.stem)
    assert spec is not None
    assert spec.entrypoint == f"{path.stem}:train"
    assert spec.source == f"file {path}"
    assert spec.description == "A custom loop that logs its loss."
    assert spec.validate_params({}) == {"epochs": 3}
    assert spec.version == hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    status = _status(loaded, str(path))
    assert (status.ok, status.error, status.experiments) == (True, None, (path.stem,))
    # The built-ins come first, with the whole diagnostic set.
    builtin = loaded.sources[0]
    assert builtin.source == "builtin" and "seed_card_mlp" in builtin.experiments


def test_a_changed_source_is_a_new_version(tmp_path: Path) -> None:
    path = _module(tmp_path)
    first = load_catalog([str(path)]).get(path.stem)
    again = load_catalog([str(path)]).get(path.stem)
    assert first is not None and again is not None and first.version == again.version
    path.write_text(path.read_text() + "\n# tuned the learning rate\n")
    changed = load_catalog([str(path)]).get(path.stem)
    assert changed is not None and changed.version != first.version


def test_a_package_is_versioned_by_all_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = f"pkg_{uuid.uuid4().hex[:8]}"
    root = tmp_path / package
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "models.py").write_text("UNITS = 8\n")
    _module(root, "experiments", DECORATED.format(name=package))
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = load_catalog([f"{package}.experiments"]).get(package)
    assert spec is not None and spec.entrypoint == f"{package}.experiments:train"
    assert spec.source == f"module {package}.experiments"
    (root / "models.py").write_text("UNITS = 16\n")  # a sibling, not the decorated module
    changed = load_catalog([f"{package}.experiments"]).get(package)
    assert changed is not None and changed.version != spec.version


def test_builtin_versions_follow_their_source() -> None:
    source = Path(catalog.__file__).with_name("builtin.py").read_bytes()
    version = catalog.get_experiment("seed_card_mlp").version
    assert version == "1+" + hashlib.sha256(source).hexdigest()[:12]


def test_a_broken_module_fails_loudly_and_the_others_still_load(tmp_path: Path) -> None:
    good = _module(tmp_path)
    broken = _module(tmp_path, source="import json\n\nVALUE = json.loads('{nope')\n")
    loaded = load_catalog([str(broken), str(good)])
    status = _status(loaded, str(broken))
    assert not status.ok and status.experiments == ()
    assert status.error is not None
    assert status.error.startswith("JSONDecodeError: Expecting property name")
    assert f"(at {broken}:3)" in status.error  # the user's line, not importlib's
    assert "raised while it was imported" in status.error
    assert loaded.get(good.stem) is not None and _status(loaded, str(good)).ok


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("no_such_module_anywhere", "ModuleNotFoundError: No module named "),
        ("./missing_file.py", "no such file or directory"),
        ("not a module!", "is not a .py file, a directory"),
    ],
)
def test_unloadable_sources_say_what_to_do(source: str, expected: str) -> None:
    (status,) = [s for s in load_catalog([source]).sources if s.source != "builtin"]
    assert not status.ok and status.error is not None and expected in status.error
    if source.startswith("no_such"):
        assert "is it on PYTHONPATH" in status.error and "give a file path" in status.error


def test_a_missing_dependency_is_named(tmp_path: Path) -> None:
    path = _module(tmp_path, source="import lightgbm_not_installed_here\n")
    status = _status(load_catalog([str(path)]), str(path))
    assert status.error is not None
    assert "it imports 'lightgbm_not_installed_here', which cannot be found" in status.error


def test_a_name_defined_twice_keeps_the_first(tmp_path: Path) -> None:
    first = _module(tmp_path, source=DECORATED.format(name="twice"))
    second = _module(tmp_path, source=DECORATED.format(name="twice"))
    shadow = _module(tmp_path, source=DECORATED.format(name="seed_card_mlp"))
    loaded = load_catalog([str(first), str(second), str(shadow)])
    spec = loaded.get("twice")
    assert spec is not None and spec.entrypoint == f"{first.stem}:train"
    assert _status(loaded, str(first)).ok
    status = _status(loaded, str(second))
    assert not status.ok and status.experiments == ()
    assert status.error == (
        f"experiment 'twice' is already defined by file {first}; the first definition wins: "
        "rename this one"
    )
    shadowed = _status(loaded, str(shadow))
    assert not shadowed.ok and "already defined by builtin" in (shadowed.error or "")
    assert loaded.get("seed_card_mlp") is catalog.get_experiment("seed_card_mlp")


def test_a_module_without_experiments_is_a_failure(tmp_path: Path) -> None:
    path = _module(tmp_path, source="def train(params, ctx):\n    pass\n")
    status = _status(load_catalog([str(path)]), str(path))
    assert not status.ok and "defines no experiment: decorate a function" in (status.error or "")


def test_experiments_lists_of_specs_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.syspath_prepend(str(repo))
    monkeypatch.setenv(MODULES_ENV, "tests.plugin_experiments")
    spec = catalog.get_experiment("flaky_test")
    assert spec.version.startswith("1+") and spec.source == "module tests.plugin_experiments"


def test_the_run_process_finds_file_experiments_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _module(tmp_path)
    monkeypatch.setenv(SOURCES_ENV, json.dumps([str(path)]))
    spec = catalog.get_experiment(path.stem)
    assert spec.entrypoint == f"{path.stem}:train"
    with pytest.raises(KeyError):
        catalog.get_experiment("not_there")


def test_sources_parse_from_json_or_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_sources('["./a.py", "pkg.mod"]') == ["./a.py", "pkg.mod"]
    assert parse_sources(" ./a.py, pkg.mod ,,") == ["./a.py", "pkg.mod"]
    with pytest.raises(ValueError, match="JSON list"):
        parse_sources("[not json")
    monkeypatch.setenv(SOURCES_ENV, "x.py,mod_a")
    monkeypatch.setenv(MODULES_ENV, "mod_a, mod_b")
    assert sources_from_env() == ["x.py", "mod_a", "mod_b"]


def test_the_decorator_rejects_what_cannot_work() -> None:
    with pytest.raises(ValueError, match="use a letter"):
        experiment(name="has space", params=BaseModel)
    with pytest.raises(TypeError, match="must be a pydantic BaseModel subclass"):
        experiment(name="ok_name", params=dict)  # type: ignore[arg-type]

    def outer() -> None:
        @experiment(name="nested")
        def train(params: BaseModel, ctx: object) -> None: ...

    with pytest.raises(TypeError, match="module-level function"):
        outer()


def test_importing_seedlab_and_its_api_stays_light() -> None:
    code = (
        "import sys\n"
        "from seedlab import RunContext, experiment\n"
        "from seedlab.experiments.loader import load_catalog\n"
        "load_catalog()\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'fastapi') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_inspect_runs_in_a_subprocess_and_keeps_user_output_out_of_the_json(
    tmp_path: Path,
) -> None:
    path = _module(tmp_path, source=DECORATED.format(name="noisy") + "\nprint('hello')\n")
    broken = _module(tmp_path, source="raise RuntimeError('no GPU here')\n")
    report = inspect_catalog([str(path), str(broken)])
    (advert,) = [e for e in report.experiments if e["name"] == "noisy"]
    assert advert == {
        "name": "noisy",
        "version": hashlib.sha256(path.read_bytes()).hexdigest()[:12],
        "description": "A custom loop that logs its loss.",
        "params_schema": advert["params_schema"],
        "defaults": {"epochs": 3},
        "source": f"file {path}",
        "seed_sources": ["init"],  # declared nothing: every seed follows the init seed
        "bounded_metrics": [],  # none beyond those bounded by name
    }
    assert advert["params_schema"]["properties"]["epochs"]["maximum"] == 50
    (failed,) = report.failed
    assert failed["source"] == f"file {broken}" and failed["experiments"] == []
    assert failed["error"].startswith("RuntimeError: no GPU here")
    assert "hello" not in json.dumps(report.sources)
