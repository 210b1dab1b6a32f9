"""Child processes that do not outlive their parent, even when it is SIGKILLed."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
PARENT_ENV = "SEEDLAB_PARENT_PID"


def die_with_parent(expected_parent: int | None = None) -> None:
    """SIGTERM this process when its parent dies (prctl on Linux, a watch thread elsewhere)."""
    parent = expected_parent or os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    # prctl fires only for deaths after it is set, and not on other systems: a thread also
    # checks the parent (a reparented process sees another parent pid).
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)
        return
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
