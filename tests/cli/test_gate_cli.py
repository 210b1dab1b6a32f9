"""`seedlab submit --wait --gate`: every exit code, JUnit XML, step summary, ::error lines."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seedlab.cli import jobs as jobs_cli
from seedlab.cli import output as cli_output
from seedlab.config import Settings
from seedlab.db import Database
from tests.cli.support import InProcessClient, Outcome, cli, run_everything

AUC = {1: 0.981, 2: 0.983, 3: 0.982}


def bitwise(seed: int, repeat: int) -> tuple[dict[str, float], str]:
    return {"val_auc": AUC[seed], "val_loss": 1 - AUC[seed]}, f"w{seed}"


def drifting(seed: int, repeat: int) -> tuple[dict[str, float], str]:
    return {"val_auc": AUC[seed] + repeat * 1e-7}, f"w{seed}r{repeat}"


def failing(seed: int, repeat: int) -> None:
    return None


@pytest.fixture
def agents(
    http: TestClient, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> list[Outcome]:
    """Set chosen[0] to decide how the next submitted job's runs end."""
    chosen: list[Outcome] = [bitwise]
    client = InProcessClient(http, lambda _job: run_everything(database, settings, chosen[0]))
    monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: client)
    return chosen


def submit(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(
        cli(jobs_cli.submit),
        ["seed_card_mlp", "--seeds", "1:3x2", "--wait", *args],
        env=env,
    )


def test_every_gate_holds_exit_0(agents: list[Outcome]) -> None:
    result = submit("--gate", "verdict=bitwise", "--gate", "val_auc.mean>=0.98",
                    "--gate", "val_auc.std<=0.002", "--gate", "val_auc.ci95_halfwidth<=0.003")
    assert result.exit_code == 0, result.output
    assert "PASS verdict=bitwise: measured bitwise" in result.output
    assert "PASS val_auc.mean>=0.98: measured 0.98" in result.output


def test_a_failed_gate_exits_1_with_the_measured_value(agents: list[Outcome]) -> None:
    agents[0] = drifting
    result = submit("--gate", "verdict in bitwise,within_tolerance", "--gate",
                    "val_auc.mean>=0.98", "--format", "github")
    assert result.exit_code == 1, result.output
    assert "FAIL verdict in bitwise,within_tolerance: measured nondeterministic" in result.output
    assert "PASS val_auc.mean>=0.98" in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("::error")]
    assert errors == [
        "::error title=seedlab gate::FAIL verdict in bitwise,within_tolerance: measured "
        "nondeterministic; allowed: bitwise, within_tolerance"
    ]


def test_tolerance_makes_the_verdict_gate_hold(agents: list[Outcome]) -> None:
    agents[0] = drifting
    result = submit("--tolerance", "val_auc=1e-6",
                    "--gate", "verdict in bitwise,within_tolerance")
    assert result.exit_code == 0, result.output


def test_malformed_gate_is_exit_2_before_submitting(
    agents: list[Outcome], http: TestClient
) -> None:
    result = submit("--gate", "val_auc.std<<0.1")
    assert result.exit_code == 2
    assert "is malformed" in result.output and "METRIC.STAT OP NUMBER" in result.output
    assert http.get("/api/v1/jobs").json()["total"] == 0, "nothing was submitted"


def test_unknown_metric_is_exit_2_naming_the_known_ones(agents: list[Outcome]) -> None:
    result = submit("--gate", "val_acc.mean>=0.9")
    assert result.exit_code == 2
    assert "unknown metric(s) val_acc in --gate; the job reports: val_auc, val_loss" in (
        result.output
    )


def test_failed_job_is_exit_2(agents: list[Outcome], tmp_path: Path) -> None:
    agents[0] = failing
    junit = tmp_path / "junit.xml"
    result = submit("--gate", "verdict=bitwise", "--junit", str(junit))
    assert result.exit_code == 2
    assert "gates not checked" in result.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "1"


def test_one_seed_is_inconclusive_exit_3(agents: list[Outcome]) -> None:
    result = CliRunner().invoke(
        cli(jobs_cli.submit),
        ["seed_card_mlp", "--seeds", "1:1x2", "--wait", "--gate", "val_auc.std<=0.002",
         "--gate", "verdict=bitwise"],
    )
    assert result.exit_code == 3, result.output
    assert "INCONCLUSIVE val_auc.std<=0.002: measured n/a; std needs at least 2 seeds, the job " \
        "has 1; 2 seeds would decide" in result.output


def test_failure_beats_inconclusive(agents: list[Outcome]) -> None:
    result = CliRunner().invoke(
        cli(jobs_cli.submit),
        ["seed_card_mlp", "--seeds", "1:1x2", "--wait", "--gate", "val_auc.std<=0.002",
         "--gate", "val_auc.mean>=0.99"],
    )
    assert result.exit_code == 1, result.output


def test_timeout_is_exit_4(http: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    client = InProcessClient(http)  # no agent: the runs stay queued
    monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: client)
    result = submit("--gate", "verdict=bitwise", "--timeout", "0")
    assert result.exit_code == 4
    assert "still queued after 0 s" in result.output


def test_unreachable_server_is_exit_2() -> None:
    result = submit("--gate", "verdict=bitwise", "--server", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert "cannot reach the seedlab server" in result.output


def test_json_report_carries_the_gates(agents: list[Outcome]) -> None:
    result = CliRunner().invoke(
        cli(jobs_cli.submit),
        ["seed_card_mlp", "--seeds", "1:3x2", "--wait", "--json", "--gate", "verdict=bitwise"],
    )
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert body["gates"] == [{"gate": "verdict=bitwise", "outcome": "held",
                              "measured": "bitwise", "detail": "allowed: bitwise",
                              "seeds_needed": None}]


def test_junit_xml_parsed_back(agents: list[Outcome], tmp_path: Path) -> None:
    agents[0] = drifting
    junit = tmp_path / "out" / "junit.xml"
    result = submit("--gate", "verdict=bitwise", "--gate", "val_auc.mean>=0.98",
                    "--junit", str(junit))
    assert result.exit_code == 1
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("5", "4")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["val_auc.mean>=0.98"].find("failure") is None
    failure = cases["verdict=bitwise"].find("failure")
    assert failure is not None and "measured nondeterministic" in failure.get("message", "")
    pairs = [name for name in cases if name and name.startswith("seed ")]
    assert len(pairs) == 3
    pair_failure = cases[pairs[0]].find("failure")
    assert pair_failure is not None
    message = pair_failure.get("message", "")
    assert "weights w1r0 vs w1r1" in message
    assert f"val_auc {AUC[1]!r} vs {AUC[1] + 1e-7!r}" in message


def test_step_summary_appended(agents: list[Outcome], tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = submit("--gate", "val_auc.std<=0.002", "--server", "http://ci.example:8000",
                    env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0, result.output
    text = summary.read_text()
    assert text.startswith("earlier step\n### seedlab job ")
    assert "verdict `bitwise`" in text
    assert "| val_auc | 3 | 0.982 | 0.001 | 0.981 | 0.983 |" in text
    assert "| `val_auc.std<=0.002` | ✅ pass |" in text
    assert "[Job page](http://ci.example:8000/jobs/1)" in text


def test_require_bitwise_keeps_exit_3(agents: list[Outcome]) -> None:
    agents[0] = drifting
    result = submit("--require-bitwise")
    assert result.exit_code == 3
    both = submit("--require-bitwise", "--gate", "verdict=bitwise")
    assert both.exit_code == 2 and "old spelling" in both.output


def test_junit_alone_keeps_the_plain_exit_codes(agents: list[Outcome], tmp_path: Path) -> None:
    agents[0] = drifting
    junit = tmp_path / "junit.xml"
    plain = submit("--junit", str(junit))
    assert plain.exit_code == 0, plain.output  # the job succeeded; the file shows the pairs
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("3", "3")
    strict = submit("--junit", str(junit), "--require-bitwise")
    assert strict.exit_code == 3
    agents[0] = failing
    assert submit("--junit", str(junit)).exit_code == 1
