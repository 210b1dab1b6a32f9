"""Writing run events as JSON lines to the event pipe (child side, TF-free)."""

from __future__ import annotations

import contextlib
import json
import os
from enum import StrEnum
from typing import Any


class RunEvent(StrEnum):
    """What a run process tells its agent, one JSON line each, in this order."""

    APPLIED = "applied"  # the profile as applied: {"profile": {...}}
    FINGERPRINT = "fingerprint"  # the environment: {"hash": ..., "data": {...}}
    EPOCH = "epoch"  # one finished epoch: metrics, weights checksum, seconds
    DONE = "done"  # the result: final metrics, checksums, trace
    ERROR = "error"  # the run failed: error and traceback
    # Portability warnings the start-up hook found ({"warnings": [...]}, PyTorch's recorded
    # ops); the command supervisor adds them to `done` and never forwards this event.
    WARNINGS = "warnings"


class EventWriter:
    """Writes one JSON object per line to a file descriptor; never to stdout."""

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "w", encoding="utf-8", buffering=1)

    def emit(self, event: RunEvent, **fields: Any) -> None:
        """Send one event; each line is flushed at once so the agent sees progress live."""
        self._file.write(json.dumps({"event": event, **fields}, allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the pipe (EOF tells the agent the run process is done talking)."""
        with contextlib.suppress(OSError):  # the reader is gone: nothing left to flush to
            self._file.close()
