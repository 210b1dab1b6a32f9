"""Child processes that do not outlive their parent, even when it is SIGKILLed."""

from __future__ import annotations

import os
import signal
import threading
import time

CHECK_SECONDS = 0.5


def die_with_parent(expected_parent: int | None = None) -> None:
    """SIGTERM this process once its parent is gone (it is then reparented: getppid changes).

    Not prctl(PR_SET_PDEATHSIG): that fires when the parent *thread* that started the process
    ends, and seedlab starts agents and zygotes from short-lived threads.
    """
    parent = expected_parent or os.getppid()
    if os.getppid() != parent:  # gone already
        os.kill(os.getpid(), signal.SIGTERM)
        return
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
