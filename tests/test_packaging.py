"""A non-editable install ships templates, static files and migrations, and serves pages."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

SERVE_SCRIPT = """
import sys, seedlab
from pathlib import Path
from fastapi.testclient import TestClient
from seedlab.app import create_app
from seedlab.config import Settings
assert "/backend/" not in seedlab.__file__, seedlab.__file__  # the installed copy, not the tree
with TestClient(create_app(Settings(data_dir=Path(sys.argv[1])))) as client:
    for path in ("/", "/jobs/new", "/api/v1/experiments"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
    job = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "1:1x2"})
    assert job.status_code == 201, job.text
    page = client.get(f"/jobs/{job.json()['id']}")
    assert page.status_code == 200 and "seed_card_mlp" in page.text
    assert "tensorflow" not in sys.modules
print("served")
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        check=True,
        timeout=600,
    )
    (built,) = out.glob("seedlab-*.whl")
    return built


def test_wheel_carries_templates_static_files_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "seedlab/web/templates/base.html",
        "seedlab/web/templates/job.html",
        "seedlab/web/static/app.js",
        "seedlab/web/static/app.css",
        "seedlab/migrations/env.py",
        "seedlab/runner/hook/sitecustomize.py",
        "seedlab/migrations/script.py.mako",
        "seedlab/migrations/versions/2026_11_26_0001_initial.py",
        "seedlab/migrations/versions/2026_11_26_0002_audit_jobs.py",
    ):
        assert required in names, required


def test_installed_wheel_migrates_and_serves_pages(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    # Only seedlab comes from the wheel; its dependencies are the test environment's.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    result = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "served" in result.stdout
