"""The bad input a new user met (issue 19): each gets a clear message and exit 2, nothing stored.
Through the real CLI commands and the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seedlab.cli import data as data_cli
from seedlab.cli import jobs as jobs_cli
from seedlab.cli import output as cli_output
from seedlab.cli import serving
from seedlab.storage import low_space_warning
from tests.cli.support import InProcessClient, cli


@pytest.fixture
def in_process(http: TestClient, monkeypatch: pytest.MonkeyPatch) -> InProcessClient:
    client = InProcessClient(http)
    monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: client)
    return client


def _add(path: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(data_cli.data_app, ["add", str(path), *args])


@pytest.mark.usefixtures("in_process")
def test_data_add_of_a_taken_name_or_stored_content_exits_2_with_the_reason(
    tmp_path: Path, http: TestClient
) -> None:
    first, other = tmp_path / "first.csv", tmp_path / "other.csv"
    first.write_bytes(b"x,y\n1,0\n2,1\n")
    other.write_bytes(b"x,y\n3,0\n4,1\n")
    assert _add(first, "--name", "credit").exit_code == 0
    taken = _add(other, "--name", "credit")
    assert taken.exit_code == 2, taken.output
    assert "the name 'credit' is already used by other content" in taken.output
    assert "Traceback" not in taken.output and "StaleAttempt" not in taken.output
    again = _add(first, "--name", "loans")
    assert again.exit_code == 2 and "already stored as data set 'credit'" in again.output
    assert [d["name"] for d in http.get("/api/v1/datasets").json()] == ["credit"]


@pytest.mark.usefixtures("in_process")
def test_an_unknown_profile_names_the_allowed_ones_and_the_nearest(http: TestClient) -> None:
    result = CliRunner().invoke(
        cli(jobs_cli.submit), ["seed_card_mlp", "--seeds", "1:1x1", "--profile", "fulll"]
    )
    assert result.exit_code == 2, result.output
    assert (
        "unknown profile 'fulll'; one of full, seeds_only, none, or a JSON object; "
        "did you mean 'full'?" in result.output
    )
    assert "literal" not in result.output.lower()
    assert http.get("/api/v1/jobs").json()["total"] == 0


@pytest.mark.usefixtures("in_process")
@pytest.mark.parametrize(
    ("seeds", "words"),
    [
        ("-5:3", ["-5 is negative", "from 0 to 4294967295", "COUNT and REPEATS are at least 1"]),
        ("12345678901234567890", ["12345678901234567890 (20 digits) is too large",
                                  "from 0 to 4294967295"]),
        ("3,12345678901234567890x2", ["(20 digits) is too large"]),
    ],
)
def test_seed_plans_say_what_is_wrong_and_what_is_allowed(
    http: TestClient, seeds: str, words: list[str]
) -> None:
    result = CliRunner().invoke(cli(jobs_cli.submit), ["seed_card_mlp", "--seeds", seeds])
    assert result.exit_code == 2, result.output
    for word in words:
        assert word in result.output, result.output
    assert "'BASE:COUNTxREPEATS'" in result.output  # and the forms allowed
    assert http.get("/api/v1/jobs").json()["total"] == 0


def test_booleans_are_not_numbers(http: TestClient) -> None:
    for params in ({"epochs": True}, {"learning_rate": False}):
        for path in ("/api/v1/jobs", "/api/v1/jobs/plan"):
            response = http.post(path, json={"experiment": "seed_card_mlp", "params": params})
            assert response.status_code == 422, response.text
            name = next(iter(params))
            assert f"params.{name}: must be" in response.json()["detail"]
            assert "not a boolean" in response.json()["detail"]
    assert http.get("/api/v1/jobs").json()["total"] == 0
    assert http.post("/api/v1/jobs", json={"experiment": "seed_card_mlp",
                                           "params": {"epochs": 1}}).status_code == 201


def test_a_port_in_use_is_said_with_how_to_choose_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli(serving.server), ["--port", str(port)], env={"SEEDLAB_DATA_DIR": str(tmp_path)}
        )
    assert result.exit_code == 2, result.output
    assert f"port {port} on 127.0.0.1 is taken" in result.output
    assert f"--port, e.g. `seedlab up --port {port + 1}`" in result.output
    assert "Errno" not in result.output


def test_low_free_space_is_warned_of(tmp_path: Path) -> None:
    assert low_space_warning(tmp_path, threshold=1) is None
    warning = low_space_warning(tmp_path / "not-yet", threshold=2**62)
    assert warning is not None and str(tmp_path / "not-yet") in warning and "507" in warning
