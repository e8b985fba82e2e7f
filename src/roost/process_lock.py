"""One `roost run` per data directory: a pid file held with an exclusive lock."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO


class AlreadyRunning(Exception):
    pass


class ProcessLock:
    """An advisory lock the kernel drops when the process dies, even on kill -9."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyRunning(
                f"roost is already running for {self.path.parent} (pid {pid})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            # Unlink while still holding the lock, so a new process never loses its file.
            self.path.unlink(missing_ok=True)
            self._handle.close()
            self._handle = None
