"""`seedlab diff`: the table and JSON output, against the real endpoint through a fake client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seedlab.agent.client import ApiError
from seedlab.app import create_app
from seedlab.cli import diagnosis as diff_cli
from seedlab.cli import output as cli_output
from seedlab.config import Settings
from seedlab.db import Database
from tests.factory import OTHER, create_job, fingerprint, start_run

RESULT: dict[str, Any] = {
    "run_a": 3, "run_b": 4, "identical": False,
    "fields": [
        {"name": "onednn", "a": "default (on)", "b": "off", "risk": "high"},
        {"name": "cpu.isa_flags", "a": ["avx", "avx2"], "b": ["avx"], "risk": "high"},
        {"name": "experiment.source_hash", "a": "ab" * 32, "b": None, "risk": "high"},
    ],
    "packages": {"added": ["tf-keras==2.18.0"], "removed": [],
                 "changed": [{"name": "numpy", "a": "2.0.2", "b": "2.1.0"}]},
}


def test_format_diff_table() -> None:
    lines = diff_cli.format_diff(RESULT).splitlines()
    assert lines[0] == "runs 3 and 4: 3 field(s) differ (3 high, 0 low, 0 none)"
    assert lines[1].split() == ["RISK", "FIELD", "RUN", "3", "RUN", "4"]
    assert lines[2].split() == ["high", "onednn", "default", "(on)", "off"]
    assert lines[3].split() == ["high", "cpu.isa_flags", '["avx","avx2"]', '["avx"]']
    assert lines[4].split()[2].endswith("…") and lines[4].split()[3] == "null"
    assert lines[5:] == ["+ tf-keras==2.18.0", "~ numpy 2.0.2 -> 2.1.0"]
    # Columns line up under their headings.
    assert lines[2].index("default") == lines[1].index("RUN 3")
    assert lines[2].index("off") == lines[1].index("RUN 4")


def test_format_identical() -> None:
    result = {"run_a": 1, "run_b": 2, "identical": True, "fields": [], "packages": {}}
    assert diff_cli.format_diff(result) == "runs 1 and 2: identical environments"


class _Forward:
    """SeedlabClient stand-in that sends requests to an in-process app."""

    def __init__(self, http: TestClient) -> None:
        self._http = http

    def get(self, path: str) -> Any:
        response = self._http.get(path)
        if response.status_code >= 400:
            raise ApiError(response.status_code, response.json()["detail"])
        return response.json()

    def close(self) -> None:
        pass


@pytest.fixture
def app_client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as http:
        monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: _Forward(http))
        yield http


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(diff_cli.diff)
    return app


def test_diff_command(app_client: TestClient, database: Database, settings: Settings) -> None:
    _, (a, b) = create_job(database, settings)
    start_run(database, a, fingerprint())
    start_run(database, b, OTHER)
    runner = CliRunner()
    table = runner.invoke(_cli(), [str(a), str(b)])
    assert table.exit_code == 0, table.output
    assert "onednn" in table.output and "+ tf-keras==2.18.0" in table.output
    as_json = runner.invoke(_cli(), [str(a), str(b), "--json"])
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    assert {"name": "onednn", "a": "default (on)", "b": "off", "risk": "high"} in body["fields"]
    missing = runner.invoke(_cli(), [str(a), "999"])
    assert missing.exit_code == 2 and "run 999 does not exist" in missing.output
