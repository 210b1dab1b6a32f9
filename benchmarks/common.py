"""Helpers shared by the benchmark scripts: machine description, medians, printing."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.livesystem (real server/agent processes)


def machine() -> str:
    """One line naming the machine the figures come from."""
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.node()} | {cpu} | {os.cpu_count()} cores | Python "
        f"{platform.python_version()} | {platform.platform()}"
    )


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return statistics.median(values)


def report(title: str, rows: list[tuple[str, str]]) -> None:
    """Print a titled block of figures."""
    print(f"\n== {title}")
    print(f"machine: {machine()}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")
