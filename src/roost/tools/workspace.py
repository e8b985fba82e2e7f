"""Confinement of file tools to an agent's workspace directory."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from roost.tools.registry import ToolError

IN_WORKSPACE = "in your workspace"
"""How the file tools' descriptions say where ``path`` points (absolute paths are refused)."""


def resolve_in_workspace(root: Path, relative: str) -> Path:
    """Return the real path of ``relative`` inside ``root``, or raise ``ToolError``.

    Absolute paths and ``..`` are refused outright (clearer for the model than a
    path that silently resolves somewhere else); symlinks are followed and refused
    when their target leaves the workspace.
    """
    if not relative or relative.strip() in {".", "./"}:
        return root.resolve()
    text = relative.strip()
    if text.startswith(("/", "\\", "~")) or (len(text) > 1 and text[1] == ":"):
        raise ToolError(
            f"'{relative}': absolute paths are not allowed; use a path inside the workspace"
        )
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        raise ToolError(f"'{relative}': '..' is not allowed; paths must stay inside the workspace")
    real_root = root.resolve()
    target = (real_root / text).resolve()
    if not target.is_relative_to(real_root):
        raise ToolError(f"'{relative}' leads outside the workspace (through a symlink)")
    return target


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def has_control_characters(name: str) -> bool:
    """A line break or another control character, which would forge lines in a listing."""
    return _CONTROL.search(name) is not None


def shown_name(name: str) -> str:
    """``name`` on one line: control characters written as escapes (``\\n``, ``\\x1b``)."""
    if not has_control_characters(name):
        return name
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], name)
