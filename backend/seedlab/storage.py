"""The data directory's file system: a full disk told as such (507), and low space warned of."""

from __future__ import annotations

import errno
import shutil
import sqlite3
import threading
import time
from pathlib import Path

from seedlab.errors import AppError

# `seedlab up` warns below this much free space on the data directory's file system.
LOW_SPACE_BYTES = 1 << 30
# The reaper waits this long past a lease after the last failed write: agents retry a refused
# write at least every 5 s (the client's backoff cap), so the outage stays visible meanwhile.
RETRY_GAP_SECONDS = 10.0
SQLITE_FULL = 13
PG_DISK_FULL = "53100"  # SQLSTATE disk_full


class StorageFull(AppError):
    """The server cannot write: its disk is full (HTTP 507 Insufficient Storage)."""

    status_code = 507


def is_disk_full(exc: BaseException) -> bool:
    """Whether exc (or what caused it) says the disk is full, on SQLite, PostgreSQL or a file."""
    return full_disk_of(exc) is not None


def full_disk_of(exc: BaseException) -> str | None:
    """Whose disk is full: "file" (a write in the data directory), "sqlite", "postgresql", or
    None when exc (and what caused it) is not about a full disk."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return "file"
        if isinstance(current, sqlite3.Error) and (
            getattr(current, "sqlite_errorcode", None) == SQLITE_FULL
            or "database or disk is full" in str(current)
        ):
            return "sqlite"
        if getattr(current, "sqlstate", None) == PG_DISK_FULL:
            return "postgresql"
        # SQLAlchemy keeps the driver's exception in .orig.
        pending.extend([getattr(current, "orig", None), current.__cause__, current.__context__])
    return None


def full_message(*, data_dir: Path, exc: BaseException) -> str:
    """What a client is told when a write failed on a full disk: where, and what to do.

    With PostgreSQL the database lives on its own server, but uploads still go to the data
    directory: the message names the disk that was actually full."""
    if full_disk_of(exc) == "postgresql":
        return (
            "the PostgreSQL server's disk is full: nothing was stored; free space on the "
            "database server and retry"
        )
    return (
        f"the data directory {data_dir.resolve()} is full (no space left on its file system): "
        "nothing was stored; free space there, or move SEEDLAB_DATA_DIR to a larger disk, "
        "and retry (agents keep finished results and send them when the server can write)"
    )


def free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding path (or its nearest existing parent)."""
    for candidate in (path.resolve(), *path.resolve().parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def low_space_warning(path: Path, threshold: int = LOW_SPACE_BYTES) -> str | None:
    """A warning when the file system of path has less than threshold bytes free."""
    free = free_bytes(path)
    if free is None or free >= threshold:
        return None
    return (
        f"warning: only {free / 2**20:.0f} MiB free on the file system of the data directory "
        f"{path.resolve()}; when it is full, submitting and uploading answer 507 until space is "
        "freed"
    )


class WriteOutage:
    """When the server last failed to write for lack of space (shared by requests and reaper)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: float | None = None

    def failed(self) -> None:
        """Note a write that failed on a full disk."""
        with self._lock:
            self._last = time.monotonic()

    def within(self, seconds: float) -> bool:
        """Whether a write failed for lack of space in the last `seconds`."""
        with self._lock:
            return self._last is not None and time.monotonic() - self._last < seconds
