"""Opening a workspace file safely: regular files with one link only, never blocking.

Only regular files with a single link are read or written. Anything else (a FIFO,
a device, a socket) could block a worker thread forever or reach outside the
workspace, and a hard link is another name for a file that may live outside it:
its path is inside, its content may not be, and nothing on the path tells (the
other name could be anywhere on the same file system). So a file with
``st_nlink > 1`` is refused for reading and writing alike. Files are opened with
``O_NONBLOCK`` and ``O_NOFOLLOW`` and checked again on the open descriptor, so a
file swapped after the first check cannot slip through either.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from roost.tools.registry import ToolError

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)
SNIFF_BYTES = 8192


def read_head(target: Path, shown: str, limit: int) -> tuple[bytes, int]:
    """Up to ``limit + 1`` bytes of a plain file (one more tells it is longer) and its size."""
    try:
        check_plain_file(os.lstat(target), shown)
        descriptor = os.open(target, os.O_RDONLY | NONBLOCK | NOFOLLOW)
    except FileNotFoundError:
        raise ToolError(f"'{shown}' does not exist") from None
    except OSError as exc:
        raise ToolError(f"cannot read '{shown}': {exc.strerror}") from None
    try:
        status = os.fstat(descriptor)
        check_plain_file(status, shown)
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            return handle.read(limit + 1), status.st_size
    except OSError as exc:
        raise ToolError(f"cannot read '{shown}': {exc.strerror}") from None
    finally:
        os.close(descriptor)


def looks_binary(data: bytes) -> bool:
    """A NUL byte near the start: what git and grep take for a binary file."""
    return b"\x00" in data[:SNIFF_BYTES]


def refuse_binary(data: bytes, shown: str, size: int) -> None:
    if looks_binary(data):
        raise ToolError(
            f"'{shown}' is a binary file ({size} bytes); the file tools read text files only"
        )


def check_plain_file(status: os.stat_result, shown: str) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise ToolError(f"'{shown}' is a directory; use list_files")
    if not stat.S_ISREG(status.st_mode):
        raise ToolError(f"'{shown}' is not a regular file; the file tools use regular files only")
    if status.st_nlink > 1:
        raise ToolError(
            f"'{shown}' has {status.st_nlink} hard links; the file tools refuse hard-linked "
            "files (another name for the same file may be outside the workspace)"
        )
