"""make test's two workers (tests/xdist_serial.py): serial tests in one, nothing dropped."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CONFTEST = """
from tests.xdist_serial import (  # noqa: F401
    pytest_collection_finish,
    pytest_configure,
    pytest_configure_node,
{scheduler}
)


def pytest_collection_modifyitems(items):
    # Two items with one node id, as schemathesis makes one per API operation.
    twin = next(item for item in items if item.name == "test_twin")
    items.append(twin)
"""

TESTS = """
import os
from pathlib import Path

import pytest

LOG = Path(os.environ["WORKER_LOG"])


def _log(name):
    with LOG.open("a") as f:
        f.write(f"{name} {os.environ['PYTEST_XDIST_WORKER']}\\n")


@pytest.fixture(scope="session")
def shared_live():
    return "a live system"


@pytest.mark.parametrize("n", range(6))
def test_trains(shared_live, n):
    _log(f"tf{n}")


@pytest.mark.parametrize("n", range(12))
def test_light(n):
    _log(f"light{n}")


def test_twin():
    _log("twin")


@pytest.fixture(scope="session")
def launcher():
    return "a zygote"


@pytest.fixture(scope="session")
def ray_cluster():
    return "a cluster"


@pytest.mark.parametrize("n", range(4))
def test_launched(launcher, n):
    _log(f"runner{n}")


@pytest.mark.parametrize("n", range(4))
def test_on_ray(ray_cluster, n):
    _log(f"ray{n}")
"""


def _run(
    tmp_path: Path, *args: str, scheduler: bool = True
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """Run the sample suite with our hooks (the scheduler only when asked); what ran where."""
    hook = "    pytest_xdist_make_scheduler," if scheduler else ""
    (tmp_path / "conftest.py").write_text(CONFTEST.format(scheduler=hook))
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(TESTS))
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    tf: trains\n")
    log = tmp_path / "worker.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "WORKER_LOG": str(log)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    lines = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    return done, lines


def test_every_item_runs_and_each_serial_unit_stays_in_one_worker(tmp_path: Path) -> None:
    done, ran = _run(tmp_path, "-n", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    names = [name for name, _worker in ran]
    # Both items of the twinned node id ran, and everything else once.
    assert sorted(names) == sorted(
        [f"tf{n}" for n in range(6)] + [f"light{n}" for n in range(12)] + ["twin", "twin"]
        + [f"runner{n}" for n in range(4)] + [f"ray{n}" for n in range(4)]
    )
    units = {}
    for prefix in ("tf", "runner", "ray"):
        workers = {worker for name, worker in ran if name.startswith(prefix)}
        assert len(workers) == 1, (prefix, ran)  # one zygote, one cluster, one live system
        units[prefix] = workers.pop()
    # The live system's and the launcher's units go out first, one to each worker: the first
    # test each worker ran is theirs.
    assert units["tf"] != units["runner"], ran
    for prefix in ("tf", "runner"):
        first = next(name for name, worker in ran if worker == units[prefix])
        assert first.startswith(prefix), ran
    assert "28 passed" in done.stdout, done.stdout


def test_a_test_that_never_ran_fails_the_session(tmp_path: Path) -> None:
    # xdist's own loadscope sends list.index() of each node id: one twin never runs.
    done, ran = _run(tmp_path, "-n", "2", "--dist", "loadscope", scheduler=False)
    assert [name for name, _worker in ran].count("twin") == 1
    assert done.returncode == 1, done.stdout
    assert "1 of 28 collected tests never ran" in done.stdout, done.stdout
