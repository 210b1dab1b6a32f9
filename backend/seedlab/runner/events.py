"""Writing run events as JSON lines to the event pipe (child side, TF-free)."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any


class EventWriter:
    """Writes one JSON object per line to a file descriptor; never to stdout."""

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "w", encoding="utf-8", buffering=1)

    def emit(self, event: str, **fields: Any) -> None:
        """Send one event; each line is flushed at once so the agent sees progress live."""
        self._file.write(json.dumps({"event": event, **fields}, allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the pipe (EOF tells the agent the run process is done talking)."""
        with contextlib.suppress(OSError):  # the reader is gone: nothing left to flush to
            self._file.close()
