"""The fuzz test's closing line in the pytest summary."""

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int) -> None:
    """Print how many fuzz cases ran (only when the fuzz test ran)."""
    line = fuzz_stats.summary()
    if line is not None:
        if fuzz_stats.failed:
            line = line.replace("; no 5xx, every answer as documented", "; FAILURES above")
        terminalreporter.write_line(line)
