"""The fuzz test's closing line in the pytest summary."""

from __future__ import annotations

import pytest

from tests.security import fuzz_stats


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int) -> None:
    """Print how many fuzz cases ran (only when the fuzz test ran)."""
    line = fuzz_stats.summary()
    if line is not None:
        if exitstatus != 0:
            line = line.replace("; no 5xx, every answer as documented", "; FAILURES above")
        terminalreporter.write_line(line)
