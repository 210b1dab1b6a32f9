"""How many cases the fuzz test ran, for its closing line."""

from __future__ import annotations

from collections import Counter

cases: Counter[str] = Counter()
# Set when a fuzz test failed: the closing line then points at the failures.
failed = False


def record(operation: str) -> None:
    """Count one generated case of an operation."""
    cases[operation] += 1


def summary() -> str | None:
    """The closing line, or None when the fuzz test did not run."""
    if not cases:
        return None
    stateful = sum(n for op, n in cases.items() if op.startswith("stateful "))
    operations = len({op.removeprefix("stateful ") for op in cases})
    return (
        f"fuzz: {sum(cases.values())} cases ran over {operations} operations "
        f"({stateful} in the stateful phase); no 5xx, every answer as documented"
    )


def merge(worker_output: dict[str, object]) -> None:
    """Add an xdist worker's counts (see tests/security/conftest.py)."""
    counted = worker_output.get("fuzz_cases")
    if isinstance(counted, dict):
        cases.update(counted)
    global failed
    failed = failed or bool(worker_output.get("fuzz_failed"))


def closing_line() -> str | None:
    """The line the session ends with, or None when the fuzz test did not run."""
    line = summary()
    if line is not None and failed:
        line = line.replace("; no 5xx, every answer as documented", "; FAILURES above")
    return line
