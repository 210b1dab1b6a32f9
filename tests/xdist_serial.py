"""With `pytest -n 2`: tests that share an expensive session fixture run in one worker, in order.

Three serial units, each handed out whole, before any other work:
- `serial`: every test using the shared live server and agents (`shared_live`), or marked
  `serial`;
- `serial-runner`: tests/runner and every test using the runner's launcher (its zygote);
- `serial-ray`: tests/ray and every test using the Ray cluster.
Each unit runs in collection order in one worker, so there is one live system, one Ray cluster
and one launcher per session. The first two units go to the two workers at once, the third to
whichever is free first; then test modules, one at a time, as workers free up (a module's own
fixtures, such as an end-to-end module's own live system, stay with it). One serial unit for
every test that trains kept a worker idle for the last 20 minutes of a 39-minute `.ci/run`.

Why not `--dist loadgroup`: it reads the group from a suffix of the node id, which pytest-xdist
3.8 does not get back under pytest 9.2 (every test lands in its own group). Here each worker
writes the node ids it found to be serial to a file as its collection finishes, and the
scheduler reads them once all workers have collected, before it splits the work.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

SERIAL = "serial"
SERIAL_FIXTURES = frozenset({"shared_live"})
# Units of their own: (directory, fixtures).
SEPARATE_UNITS: dict[str, tuple[str, frozenset[str]]] = {
    "serial-runner": ("tests/runner/", frozenset({"launcher", "full_runs"})),
    "serial-ray": ("tests/ray/", frozenset({"ray_cluster"})),
}
# The order units are handed out in: the longest first (about 700, 400 and 300 s in CI).
UNIT_ORDER = (SERIAL, *SEPARATE_UNITS)
# The workerinput key naming the directory where each worker writes its list of serial tests.
LISTS_KEY = "seedlab_serial_lists"


def must_run_serially(item: pytest.Item) -> bool:
    """Marked serial, or using the shared live system."""
    if item.get_closest_marker("serial"):
        return True
    return bool(SERIAL_FIXTURES & set(getattr(item, "fixturenames", ())))


def serial_unit(item: pytest.Item) -> str | None:
    """The serial unit a test belongs to, or None when it may run anywhere."""
    fixtures = set(getattr(item, "fixturenames", ()))
    for unit, (directory, unit_fixtures) in SEPARATE_UNITS.items():
        if item.nodeid.startswith(directory) or unit_fixtures & fixtures:
            return unit
    return SERIAL if must_run_serially(item) else None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Controller: tell each worker where to write its list (one directory per session)."""
    config = node.config
    directory = getattr(config, "_seedlab_serial_lists", None)
    if directory is None:
        directory = tempfile.mkdtemp(prefix="seedlab-xdist-serial-")
        config._seedlab_serial_lists = directory
    node.workerinput[LISTS_KEY] = directory


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Worker: write the serial node ids before xdist sends the collection to the controller."""
    workerinput = getattr(session.config, "workerinput", None)
    if not workerinput or LISTS_KEY not in workerinput:
        return
    serial = {item.nodeid: unit for item in session.items if (unit := serial_unit(item))}
    # Modules that train go out right after the serial units: left for last, a 60-second
    # end-to-end module keeps one worker busy while the other has nothing left to do.
    heavy = sorted(
        {
            item.nodeid.split("::", 1)[0]
            for item in session.items
            if item.nodeid not in serial
            and (item.get_closest_marker("tf") or item.nodeid.startswith("tests/e2e/"))
        }
    )
    path = Path(workerinput[LISTS_KEY]) / f"{workerinput['workerid']}.json"
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"units": serial, "heavy": heavy}))
    partial.replace(path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Controller: the scheduler below, for every `-n` run of this suite."""
    from xdist.scheduler.loadscope import LoadScopeScheduling

    class SerialFirstScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Load-scope scheduling with one unit for every serial test, handed out first."""

        serial: dict[str, str] | None = None
        heavy: frozenset[str] | set[str] = frozenset()

        def _split_scope(self, nodeid: str) -> str:
            if self.serial is None:
                self.serial, self.heavy = _read_lists(
                    getattr(config, "_seedlab_serial_lists", None)
                )
            return self.serial.get(nodeid) or nodeid.split("::", 1)[0]

        def _assign_work_unit(self, node: Any) -> None:
            # Serial units first, in UNIT_ORDER, then the modules that train. Every index of a
            # node id goes out: schemathesis gives its per-operation tests one node id, and the
            # base class (list.index) sent only the first of them.
            front = [unit for unit in UNIT_ORDER if unit in self.workqueue]
            front += [scope for scope in self.workqueue if scope in self.heavy]
            for scope in reversed(front):
                self.workqueue.move_to_end(scope, last=False)
            scope, work_unit = self.workqueue.popitem(last=False)
            self.assigned_work.setdefault(node, {})[scope] = work_unit
            indexes = [
                index
                for index, nodeid in enumerate(self.registered_collections[node])
                if work_unit.get(nodeid) is False
            ]
            node.send_runtest_some(indexes)

    return SerialFirstScheduling(config, log)


class RanEveryTest:
    """Controller: fail the session when a collected test never reported (with `-n`)."""

    def __init__(self) -> None:
        self.collected = 0
        self.finished = 0

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.collected = len(ids)  # every worker collects the same tests

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":  # one per test, whatever its outcome
            self.finished += 1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus == 0 and self.finished < self.collected:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(
                    f"xdist_serial: {self.collected - self.finished} of {self.collected} "
                    "collected tests never ran",
                    red=True,
                )


def pytest_configure(config: pytest.Config) -> None:
    """Controller of an `-n` run: watch that every collected test runs."""
    if not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None):
        config.pluginmanager.register(RanEveryTest(), "seedlab-ran-every-test")


def _read_lists(directory: str | None) -> tuple[dict[str, str], set[str]]:
    """Every worker's serial node ids with their units, and the modules that train (the
    workers collected the same tests; xdist checks that)."""
    if directory is None:
        return {}, set()
    lists = [json.loads(path.read_text()) for path in Path(directory).glob("*.json")]
    if not lists:
        raise RuntimeError(f"no worker wrote its serial tests to {directory}")
    units = {nodeid: unit for found in lists for nodeid, unit in found["units"].items()}
    return units, {module for found in lists for module in found["heavy"]}
