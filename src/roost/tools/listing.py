"""``list_files``: one line per entry, never following a link out of the workspace.

Each entry is looked at with ``lstat``; a symlink is followed only when it resolves
inside the workspace. A link that leads outside is shown as a link without its
target's size or type (they are none of the agent's business), and a dangling link
or an entry that vanished meanwhile is shown as such instead of failing the whole
listing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from roost.tools.registry import ToolError
from roost.tools.workspace import shown_name

MAX_LIST_ENTRIES = 500
MAX_LIST_CHARS = 50_000
"""Cap on the text returned, whatever the length of the names."""


def list_directory(workspace: Path, target: Path, shown: str) -> str:
    try:
        status = os.stat(target)
        if not stat.S_ISDIR(status.st_mode):
            raise ToolError(f"'{shown}' is a file; use read_file")
        with os.scandir(target) as scan:
            names = sorted(entry.name for entry in scan)
    except FileNotFoundError:
        raise ToolError(f"'{shown}' does not exist") from None
    except OSError as exc:
        raise ToolError(f"cannot list '{shown}': {exc.strerror}") from None
    root = workspace.resolve()
    lines: list[str] = []
    size = 0
    for index, name in enumerate(names[:MAX_LIST_ENTRIES]):
        line = _describe(target / name, root)
        if size + len(line) > MAX_LIST_CHARS:
            lines.append(f"[{len(names) - index} more entries not shown: listing too long]")
            break
        lines.append(line)
        size += len(line) + 1
    else:
        if len(names) > MAX_LIST_ENTRIES:
            lines.append(f"[{len(names) - MAX_LIST_ENTRIES} more entries not shown]")
    return "\n".join(lines) if lines else "(empty directory)"


def _describe(path: Path, root: Path) -> str:
    name = shown_name(path.name)  # a newline in a name must not forge a line
    try:
        status = os.lstat(path)
    except OSError as exc:  # e.g. removed since the directory was read
        return f"{name} (cannot be read: {exc.strerror})"
    if not stat.S_ISLNK(status.st_mode):
        return _entry(name, status)
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(root):
        return f"{name} -> (link leading outside the workspace)"
    try:
        return _entry(name, os.stat(real))
    except FileNotFoundError:
        return f"{name} -> (broken link)"
    except OSError as exc:
        return f"{name} -> (link that cannot be followed: {exc.strerror})"


def _entry(name: str, status: os.stat_result) -> str:
    mode = status.st_mode
    if stat.S_ISDIR(mode):
        return f"{name}/"
    if stat.S_ISREG(mode):
        return f"{name} ({status.st_size} B)"
    kind = "fifo" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device"
    return f"{name} ({kind}, not a regular file)"
