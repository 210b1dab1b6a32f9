"""A wheel and an editable install both ship pages and migrations: they migrate and serve pages."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# `pip wheel` and `pip install -e` of the checkout rewrite build/ and backend/*.egg-info, which
# the agents of the tf tests read their entry points from: never beside them.
pytestmark = pytest.mark.serial

SERVE_SCRIPT = """
import sys, seedlab
from pathlib import Path
from fastapi.testclient import TestClient
from seedlab.app import create_app
from seedlab.config import Settings
from_tree = "/backend/seedlab/" in seedlab.__file__
assert from_tree == (sys.argv[3] == "editable"), seedlab.__file__  # the copy under test
settings = Settings(
    data_dir=Path(sys.argv[1]), database_url=sys.argv[2], allowed_hosts=["testserver"]
)
with TestClient(create_app(settings)) as client:
    for path in ("/", "/jobs/new", "/api/v1/experiments"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
    job = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "1:1x2"})
    assert job.status_code == 201, job.text
    page = client.get(f"/jobs/{job.json()['id']}")
    assert page.status_code == 200 and "seed_card_mlp" in page.text
    css = page.text.split('href="/static/', 1)[1].split('"', 1)[0]
    assert client.get(f"/static/{css}").status_code == 200, css
    assert "tensorflow" not in sys.modules
print("served", seedlab.__file__)
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


@pytest.fixture(scope="module")
def editable_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with seedlab installed editable (dependencies borrowed)."""
    venv = tmp_path_factory.mktemp("editable") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The test environment's packages are importable from the new one (a plain path line, so
    # the test environment's own editable seedlab is not activated there).
    Path(site, "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
            "--no-deps", "--editable", str(REPO),
        ],
        check=True,
        timeout=600,
    )
    return python


def test_wheel_carries_templates_static_files_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "seedlab/frontend/templates/base.html",
        "seedlab/frontend/templates/job.html",
        "seedlab/frontend/static/app.js",
        "seedlab/frontend/static/app.css",
        "seedlab/migrations/env.py",
        "seedlab/runner/hook/sitecustomize.py",
        "seedlab/migrations/script.py.mako",
        "seedlab/migrations/versions/2026_11_26_0001_initial.py",
        "seedlab/migrations/versions/2026_11_26_0002_audit_jobs.py",
    ):
        assert required in names, required
    # alembic/ has no __init__.py at any level that could shadow the alembic library.
    assert not any(name.startswith("alembic/") for name in names)
    assert "seedlab/migrations/__init__.py" not in names


def _serve(python: Path, database_url: str, tmp_path: Path, mode: str, **env: str) -> None:
    result = subprocess.run(
        [str(python), "-c", SERVE_SCRIPT, str(tmp_path / "data"), database_url, mode],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "served" in result.stdout


def test_installed_wheel_migrates_and_serves_pages(
    wheel: Path, tmp_path: Path, database_url: str
) -> None:
    target = tmp_path / "site"
    # Only seedlab comes from the wheel; its dependencies are the test environment's.
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--target", str(target), str(wheel),
        ],
        check=True,
        timeout=300,
    )
    _serve(Path(sys.executable), database_url, tmp_path, "wheel", PYTHONPATH=str(target))


def test_editable_install_migrates_and_serves_pages(
    editable_python: Path, tmp_path: Path, database_url: str
) -> None:
    _serve(editable_python, database_url, tmp_path, "editable")


def test_alembic_folder_does_not_shadow_the_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import alembic.command, sys; print(alembic.__file__)"],
        cwd=REPO,  # the repository root first on sys.path, as `python -m` from there has it
        capture_output=True,
        text=True,
        check=True,
    )
    assert "site-packages" in result.stdout, result.stdout
