"""The experiment catalog: TF-free, reference defaults, validation, plugins."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from seedlab.experiments import catalog

BUILTIN_NAMES = ["credit_risk_mlp", "digits_cnn", "seed_card_mlp"]


def _schema_fields(spec: catalog.ExperimentSpec) -> dict[str, dict[str, Any]]:
    properties: dict[str, dict[str, Any]] = spec.params_schema()["properties"]
    return properties


def test_importing_the_catalog_leaves_tensorflow_out() -> None:
    code = (
        "import sys\n"
        "import seedlab.experiments.catalog as catalog\n"
        "names = [spec.name for spec in catalog.list_experiments()]\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print(heavy, names)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.startswith("[] "), result.stdout + result.stderr


def test_seed_card_defaults_are_the_reference_example() -> None:
    defaults = catalog.get_experiment("seed_card_mlp").validate_params({})
    assert defaults == {
        "n_features": 10,
        "n_samples": 100,
        "n_val": 50,
        "units": 64,
        "dropout": 0.5,
        "epochs": 2,
        "batch_size": 32,
        "learning_rate": 0.001,
    }


def test_other_builtin_defaults() -> None:
    assert catalog.get_experiment("credit_risk_mlp").validate_params({}) == {
        "dataset": "breast_cancer",
        "epochs": 10,
        "batch_size": 32,
        "hidden_units": 32,
        "dropout": 0.2,
        "learning_rate": 0.001,
        "data_seed": 0,
        "n_samples": 2000,
    }
    assert catalog.get_experiment("digits_cnn").validate_params({}) == {
        "epochs": 3,
        "batch_size": 64,
        "filters": 8,
        "dense_units": 32,
        "dropout": 0.2,
        "learning_rate": 0.001,
        "data_seed": 0,
    }


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_parameter_has_a_default_bounds_and_a_description(name: str) -> None:
    spec = catalog.get_experiment(name)
    assert spec.params_schema().get("required", []) == []
    for field, schema in _schema_fields(spec).items():
        assert schema.get("description"), field
        assert "default" in schema, field
        if schema.get("type") in ("integer", "number"):
            assert "minimum" in schema and "maximum" in schema, field
        else:
            assert "enum" in schema, field


def test_list_is_sorted_and_holds_the_builtins() -> None:
    names = [spec.name for spec in catalog.list_experiments()]
    assert names == sorted(names)
    assert set(BUILTIN_NAMES) <= set(names)
    assert all(":" in spec.entrypoint for spec in catalog.list_experiments())


def test_unknown_experiment_raises_key_error() -> None:
    with pytest.raises(KeyError) as raised:
        catalog.get_experiment("no_such_experiment")
    assert raised.value.args == ("no_such_experiment",)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("seed_card_mlp", {"epochs": 0}),
        ("seed_card_mlp", {"dropout": 1.0}),
        ("seed_card_mlp", {"unknown_knob": 1}),
        ("seed_card_mlp", {"units": "many"}),
        ("credit_risk_mlp", {"dataset": "mnist"}),
        ("credit_risk_mlp", {"data_seed": -1}),
        ("digits_cnn", {"batch_size": 0}),
    ],
)
def test_invalid_params_raise_validation_error(name: str, params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        catalog.get_experiment(name).validate_params(params)


def test_validate_params_fills_defaults_and_keeps_given_values() -> None:
    params = catalog.get_experiment("credit_risk_mlp").validate_params(
        {"dataset": "synthetic_credit", "epochs": 3}
    )
    assert params["dataset"] == "synthetic_credit"
    assert params["epochs"] == 3
    assert params["hidden_units"] == 32


def _install_fake_distribution(root: Path, entry_points: str, module_source: str) -> None:
    """A minimal installed distribution (dist-info with entry points) plus its module."""
    (root / "demo_seedlab_plugin.py").write_text(textwrap.dedent(module_source))
    dist_info = root / "demo_seedlab_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: demo-seedlab-plugin\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def test_entry_point_plugins_are_listed_and_broken_ones_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install_fake_distribution(
        tmp_path,
        """\
        [seedlab.experiments]
        demo = demo_seedlab_plugin:DEMO
        impostor = demo_seedlab_plugin:IMPOSTOR
        not_a_spec = demo_seedlab_plugin:NOT_A_SPEC
        broken = demo_seedlab_plugin_missing:DEMO
        """,
        """\
        from pydantic import BaseModel, ConfigDict, Field

        from seedlab.experiments.catalog import ExperimentSpec


        class DemoParams(BaseModel):
            model_config = ConfigDict(extra="forbid")
            epochs: int = Field(1, ge=1, le=5, description="epochs")


        DEMO = ExperimentSpec("demo_plugin", "7", "a plugin", DemoParams, "demo_seedlab_plugin:x")
        IMPOSTOR = ExperimentSpec(
            "seed_card_mlp", "9", "shadow", DemoParams, "demo_seedlab_plugin:x"
        )
        NOT_A_SPEC = 42
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.INFO, logger="seedlab.experiments"):
        specs = {spec.name: spec for spec in catalog.list_experiments()}
    # The declared version plus the short sha256 of the plugin's source.
    assert specs["demo_plugin"].version.startswith("7+")
    assert specs["demo_plugin"].source == "entry point demo (demo_seedlab_plugin:DEMO)"
    assert specs["demo_plugin"].validate_params({}) == {"epochs": 1}
    assert specs["seed_card_mlp"] is catalog.get_experiment("seed_card_mlp")
    assert specs["seed_card_mlp"].version == catalog.BUILTIN_VERSION  # no shadowing a built-in
    log = caplog.text
    assert "broken" in log and "not_a_spec" in log
    assert "'seed_card_mlp' is already defined by builtin" in log


def test_modules_named_in_the_environment_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalog.MODULES_ENV, "tests.plugin_experiments, no_such_module_here")
    names = [spec.name for spec in catalog.list_experiments()]
    assert "flaky_test" in names
    assert set(BUILTIN_NAMES) <= set(names)
