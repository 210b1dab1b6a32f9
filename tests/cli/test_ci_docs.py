"""docs/ci.md's workflows, their commands run as written against a live server and agents.

Real server and agent processes, real TensorFlow (seed_card_mlp, 64 samples, 1 epoch). The
`install` and `start` steps (GitHub) and `before_script` (GitLab) are replaced by the live system;
every other `run:` step and `script:` line runs in bash as the CI runner would run it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.livesystem import LiveSystem

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ci.md"
REPLACED_STEPS = ("install", "start")

pytestmark = pytest.mark.tf


def workflows() -> list[dict[str, Any]]:
    """Every YAML block of docs/ci.md, parsed."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    return [yaml.safe_load(block) for block in blocks]


def github_steps(job: str) -> list[str]:
    """The `run:` scripts of a GitHub Actions job, without the steps the test replaces."""
    (workflow,) = [w for w in workflows() if "jobs" in w]
    return [
        step["run"]
        for step in workflow["jobs"][job]["steps"]
        if "run" in step and step.get("id") not in REPLACED_STEPS
    ]


def gitlab_script() -> str:
    """The GitLab job's `script:` lines, one after the other."""
    (job,) = [w["seedlab-double-run"] for w in workflows() if "seedlab-double-run" in w]
    return "\n".join(job["script"])


@pytest.fixture
def system(shared_live: LiveSystem) -> LiveSystem:
    """The session's shared server and two agents (tests/conftest.py)."""
    return shared_live


def shell(
    system: LiveSystem, script: str, cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a CI script with `seedlab` meaning this checkout's CLI, as GitHub runs bash steps."""
    prelude = f'seedlab() {{ "{sys.executable}" -m seedlab.cli "$@"; }}\n'
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", prelude + script],
        cwd=cwd,
        env={**system.env, "SEEDLAB_SERVER": system.url,
             "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=1800,
    )


def junit(path: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    return suite, {str(case.get("name")): case for case in suite.iter("testcase")}


def test_github_workflow(system: LiveSystem, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    (gate,) = github_steps("double-run")
    result = shell(system, gate, tmp_path, GITHUB_REF_NAME="main",
                   GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 0, result.stdout + result.stderr + system.logs()
    assert "PASS verdict=bitwise: measured bitwise" in result.stdout
    suite, cases = junit(tmp_path / "reports" / "seedlab-gate.xml")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "0", "0")
    assert {"verdict=bitwise", "val_accuracy.std<=0.5"} <= set(cases)
    assert sum(name.startswith("seed ") for name in cases) == 2
    assert "verdict `bitwise`" in summary.read_text()

    (compare,) = github_steps("pull-request")
    pr = shell(system, compare, tmp_path, PR_NUMBER="7")
    assert pr.returncode == 0, pr.stdout + pr.stderr + system.logs()
    job = json.loads((tmp_path / "reports" / "job.json").read_text())
    assert job["status"] == "succeeded" and job["gates"][0]["outcome"] == "held"
    suite, cases = junit(tmp_path / "reports" / "seedlab-compare.xml")
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")
    assert "PASS not_worse:0.5" in pr.stdout
    # Only this test labels jobs `main` on the shared live system: its one job is that baseline.
    main = httpx.get(f"{system.url}/api/v1/jobs", params={"label": "main"}).json()["items"]
    assert f"against baseline job {main[0]['id']}" not in pr.stdout  # no summary outside GitHub
    assert len(main) == 1


def test_gitlab_job(system: LiveSystem, tmp_path: Path) -> None:
    result = shell(system, gitlab_script(), tmp_path, CI_COMMIT_REF_NAME="feature")
    assert result.returncode == 0, result.stdout + result.stderr + system.logs()
    suite, _ = junit(tmp_path / "reports" / "seedlab-gate.xml")
    assert (suite.get("tests"), suite.get("failures")) == ("4", "0")


def test_gate_fails_without_seeds(system: LiveSystem, tmp_path: Path) -> None:
    result = system.cli(
        "submit", "seed_card_mlp", "--param", "n_samples=64", "--param", "epochs=1",
        "--seeds", "42:1x2", "--profile", "none", "--wait", "--gate", "verdict=bitwise",
        "--junit", str(tmp_path / "junit.xml"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL verdict=bitwise: measured nondeterministic" in result.stdout
    suite, cases = junit(tmp_path / "junit.xml")
    assert suite.get("failures") == "2"
    (pair,) = [case for name, case in cases.items() if name.startswith("seed 42")]
    failure = pair.find("failure")
    assert failure is not None and "weights " in failure.get("message", "")


def test_replay_is_bit_identical_and_an_env_change_shows(
    system: LiveSystem, tmp_path: Path
) -> None:
    submitted = system.cli(
        "submit", "seed_card_mlp", "--param", "n_samples=64", "--param", "epochs=1",
        "--seeds", "7:1x1", "--profile", "full", "--wait", "--json",
    )
    assert submitted.returncode == 0, submitted.stderr
    (run,) = json.loads(submitted.stdout)["runs"]
    same = system.cli("replay", str(run["id"]), "--wait", "--json")
    assert same.returncode == 0, same.stdout + same.stderr + system.logs()
    body = json.loads(same.stdout)
    assert body["bitwise"] is True and body["run_id"] != run["id"]
    assert body["weights_checksum"]["replay"] == run["weights_checksum"]
    assert body["diff"]["identical"] is True

    bundle = httpx.get(f"{system.url}/api/v1/runs/{run['id']}/bundle").json()
    before = (bundle["fingerprint"].get("env") or {}).get("TF_ENABLE_ONEDNN_OPTS")
    flipped = "1" if before == "0" else "0"
    bundle["profile"]["env"] = {**bundle["profile"]["env"], "TF_ENABLE_ONEDNN_OPTS": flipped}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    changed = system.cli("replay", str(path), "--wait", "--json")
    assert changed.returncode in (0, 1), changed.stdout + changed.stderr + system.logs()
    result = json.loads(changed.stdout)
    assert changed.returncode == (0 if result["bitwise"] else 1)
    fields = {f["name"]: f for f in result["diff"]["fields"]}
    assert fields["env.TF_ENABLE_ONEDNN_OPTS"]["b"] == flipped
    assert fields["env.TF_ENABLE_ONEDNN_OPTS"]["risk"] == "high"
