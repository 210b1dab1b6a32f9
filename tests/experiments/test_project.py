"""The project file: command experiments declared in seedlab.toml or [tool.seedlab]."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from seedlab.experiments.project import (
    COMMAND_ENTRYPOINT,
    ProjectFileError,
    find_project_file,
    load_project,
)

REPO = Path(__file__).resolve().parents[2]

ISSUE_EXAMPLE = """
[experiments.fraud_mlp]
description = "our fraud model"
command = "python train.py --epochs {epochs} --lr {learning_rate}"
[experiments.fraud_mlp.params]
epochs = { type = "int", default = 5, min = 1, max = 500 }
learning_rate = { type = "float", default = 0.01, min = 1e-6, max = 1.0 }
"""


def write(directory: Path, text: str, name: str = "seedlab.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_issue_example_loads_with_a_schema_like_a_builtin(tmp_path: Path) -> None:
    write(tmp_path, ISSUE_EXAMPLE)
    (spec,) = load_project(tmp_path)
    assert (spec.name, spec.description, spec.entrypoint) == (
        "fraud_mlp", "our fraud model", COMMAND_ENTRYPOINT
    )
    assert spec.command is not None and spec.command.project_dir == tmp_path.resolve()
    schema = spec.params_schema()
    assert schema["additionalProperties"] is False
    assert schema["properties"]["epochs"] == {
        "default": 5, "maximum": 500, "minimum": 1, "title": "Epochs", "type": "integer"
    }
    assert spec.validate_params({}) == {"epochs": 5, "learning_rate": 0.01}
    with pytest.raises(ValidationError):
        spec.validate_params({"epochs": 0})
    with pytest.raises(ValidationError):
        spec.validate_params({"batch": 3})
    argv = spec.command.argv({"epochs": 3, "learning_rate": 0.5}, seed=9, python="/py")
    assert argv == ["/py", "train.py", "--epochs", "3", "--lr", "0.5"]


def test_all_param_types_and_seed_placeholder(tmp_path: Path) -> None:
    write(tmp_path, """
        [experiments.all]
        command = "python t.py '{name}' --flag={flag} --opt {opt} --seed {seed} --x {x}"
        metrics_file = "out/m.jsonl"
        [experiments.all.params]
        name = { type = "str", default = "a b", description = "a name" }
        flag = { type = "bool", default = true }
        opt = { type = "choice", values = ["sgd", "adam"], default = "adam" }
        x = { type = "float", default = 1 }
    """)
    (spec,) = load_project(tmp_path)
    schema = spec.params_schema()["properties"]
    assert schema["opt"]["enum"] == ["sgd", "adam"]
    assert schema["name"]["description"] == "a name"
    params = spec.validate_params({"opt": "sgd"})
    assert params == {"name": "a b", "flag": True, "opt": "sgd", "x": 1.0}
    assert spec.command is not None
    assert spec.command.metrics_file == tmp_path.resolve() / "out" / "m.jsonl"
    assert spec.command.argv(params, seed=4, python="py") == [
        "py", "t.py", "a b", "--flag=true", "--opt", "sgd", "--seed", "4", "--x", "1.0"
    ]
    with pytest.raises(ValidationError):
        spec.validate_params({"opt": "rmsprop"})


def test_pyproject_tool_seedlab(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n', name="pyproject.toml")
    assert find_project_file(tmp_path) is None and load_project(tmp_path) == []
    write(tmp_path, """
        [project]
        name = "x"
        [tool.seedlab.experiments.job]
        command = "python job.py"
    """, name="pyproject.toml")
    assert find_project_file(tmp_path) == tmp_path / "pyproject.toml"
    assert [spec.name for spec in load_project(tmp_path)] == ["job"]
    write(tmp_path, ISSUE_EXAMPLE)  # seedlab.toml wins
    assert [spec.name for spec in load_project(tmp_path)] == ["fraud_mlp"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[experiments.a]\ncommand = 'python t.py {epochs}'\n",
         "experiment 'a': field \"command\": placeholder {epochs} is not a declared parameter; "
         "allowed are ['seed']"),
        ("[experiments.a]\ndescription = 'x'\n", 'experiment \'a\': field "command" is required'),
        ("[experiments.a]\ncommand = 'python t.py'\nshell = true\n",
         "experiment 'a': unknown keys ['shell']; allowed are ['description', 'command', "
         "'params', 'metrics_file', 'workdir', 'bounded_metrics']"),
        ("[experiments.a]\ncommand = 'python t.py'\n[experiments.a.params]\n"
         "n = { type = 'integer', default = 1 }\n",
         "parameter \"n\": field \"type\" is 'integer'; allowed are ['int', 'float', 'str', "
         "'bool', 'choice']"),
        ("[experiments.a]\ncommand = 'python t.py'\n[experiments.a.params]\n"
         "n = { type = 'int', default = 0, min = 1 }\n",
         "parameter \"n\": field \"default\" = 0 does not fit type 'int' and its bounds"),
        ("[experiments.a]\ncommand = 'python t.py'\n[experiments.a.params]\n"
         "n = { type = 'choice', default = 'a' }\n",
         "parameter \"n\": field \"values\" is required for a choice"),
        ("[experiments.a]\ncommand = 'python t.py'\n[experiments.a.params]\n"
         "seed = { type = 'int', default = 1 }\n",
         "parameter \"seed\": invalid name"),
        ("[experiments.a]\ncommand = \"python t.py 'unclosed\"\n",
         "field \"command\" cannot be parsed: No closing quotation"),
        ("[experiments.a]\ncommand = 'python t.py'\nworkdir = 'nowhere'\n",
         "field \"workdir\":"),
        ("[experiment.a]\ncommand = 'python t.py'\n",
         "unknown keys ['experiment']; allowed is only 'experiments'"),
        ("[experiments.a\n", "not valid TOML"),
    ],
)
def test_malformed_project_file_names_file_experiment_and_field(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ProjectFileError) as error:
        load_project(tmp_path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_version_follows_the_table_and_the_sources(tmp_path: Path) -> None:
    write(tmp_path, ISSUE_EXAMPLE)
    (tmp_path / "train.py").write_text("print(1)\n")
    first = load_project(tmp_path)[0].version
    assert len(first) == 12 and load_project(tmp_path)[0].version == first
    (tmp_path / "train.py").write_text("print(2)\n")
    second = load_project(tmp_path)[0].version
    assert second != first
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text("X = 1\n")
    third = load_project(tmp_path)[0].version
    assert third != second
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "big.py").write_text("Y = 1\n")  # not the project's code
    assert load_project(tmp_path)[0].version == third
    write(tmp_path, ISSUE_EXAMPLE.replace("default = 5", "default = 6"))
    assert load_project(tmp_path)[0].version != third


def test_the_example_project_loads() -> None:
    (spec,) = load_project(REPO / "examples" / "keras_script")
    assert spec.name == "keras_script"
    assert spec.validate_params({}) == {"epochs": 2, "learning_rate": 0.01, "units": 16}


def test_catalog_lists_the_working_directory_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from seedlab.experiments import catalog

    write(tmp_path, ISSUE_EXAMPLE)
    monkeypatch.chdir(tmp_path)
    assert catalog.get_experiment("fraud_mlp").command is not None
    write(tmp_path, "[experiments.a]\n")
    assert "fraud_mlp" not in {spec.name for spec in catalog.list_experiments()}
    assert 'field "command" is required' in caplog.text


def test_a_value_is_one_argument_whatever_it_contains(tmp_path: Path) -> None:
    write(tmp_path, """
        [experiments.a]
        command = "python t.py --name {name}"
        [experiments.a.params]
        name = { type = "str", default = "x" }
    """)
    (spec,) = load_project(tmp_path)
    assert spec.command is not None
    argv = spec.command.argv({"name": "a b --evil 'c'"}, seed=1, python="py")
    assert argv == ["py", "t.py", "--name", "a b --evil 'c'"]
