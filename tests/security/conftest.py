"""The fuzz test's counts for its closing line (printed by tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.security import fuzz_stats


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Note whether a fuzz test itself failed (not the session: other tests may fail)."""
    outcome = yield
    report = outcome.get_result()
    if item.module is not None and item.module.__name__.endswith("test_fuzz") and report.failed:
        fuzz_stats.failed = True


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In an xdist worker: hand the counts to the controller, which prints the line."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fuzz_cases"] = dict(fuzz_stats.cases)
        workeroutput["fuzz_failed"] = fuzz_stats.failed
