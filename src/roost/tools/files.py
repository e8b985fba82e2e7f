"""The file tools: read, write and list files inside the agent's workspace.

Only regular files with a single link are read or written. Anything else (a FIFO,
a device, a socket) could block a worker thread forever or reach outside the
workspace, and a hard link is another name for a file that may live outside it:
its path is inside, its content is not. Files are opened with ``O_NONBLOCK`` and
``O_NOFOLLOW`` and checked again on the open descriptor, so a file swapped after
the first check cannot slip through either.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from pydantic import BaseModel, Field

from roost.tools.listing import list_directory
from roost.tools.registry import Tool, ToolContext, ToolError
from roost.tools.untrusted import untrusted
from roost.tools.workspace import resolve_in_workspace

MAX_READ_BYTES = 100_000
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class ReadFileArgs(BaseModel):
    path: str = Field(description="Path relative to the workspace")


class WriteFileArgs(BaseModel):
    path: str = Field(description="Path relative to the workspace")
    content: str


class ListFilesArgs(BaseModel):
    path: str = Field(default=".", description="Directory relative to the workspace")


async def read_file(context: ToolContext, args: ReadFileArgs) -> str:
    target = resolve_in_workspace(context.workspace, args.path)
    # Whoever wrote the file (a download, another agent, a web page saved) is not the owner.
    return untrusted(f"file {args.path}", await asyncio.to_thread(_read, target, args.path))


def _read(target: Path, shown: str) -> str:
    try:
        _check_plain_file(os.lstat(target), shown)
        descriptor = os.open(target, os.O_RDONLY | _NONBLOCK | _NOFOLLOW)
    except FileNotFoundError:
        raise ToolError(f"'{shown}' does not exist") from None
    except OSError as exc:
        raise ToolError(f"cannot read '{shown}': {exc.strerror}") from None
    try:
        _check_plain_file(os.fstat(descriptor), shown)
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(MAX_READ_BYTES + 1)
    except OSError as exc:
        raise ToolError(f"cannot read '{shown}': {exc.strerror}") from None
    finally:
        os.close(descriptor)
    text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
    if len(data) > MAX_READ_BYTES:
        text += f"\n[truncated: file is larger than {MAX_READ_BYTES} bytes]"
    return text


async def write_file(context: ToolContext, args: WriteFileArgs) -> str:
    target = resolve_in_workspace(context.workspace, args.path)
    return await asyncio.to_thread(_write, target, args.path, args.content)


def _write(target: Path, shown: str, content: str) -> str:
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which JSON can carry
        raise ToolError(
            f"content is not valid text (character {exc.start}); nothing written"
        ) from None
    try:
        if os.path.lexists(target):
            _check_plain_file(os.lstat(target), shown)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ToolError(
                f"cannot write '{shown}': part of the path is a file, not a directory"
            ) from None
        # No O_TRUNC: the file is emptied only once the descriptor shows it is ours.
        flags = os.O_WRONLY | os.O_CREAT | _NONBLOCK | _NOFOLLOW
        descriptor = os.open(target, flags, 0o644)
    except OSError as exc:
        raise ToolError(f"cannot write '{shown}': {exc.strerror}") from None
    try:
        _check_plain_file(os.fstat(descriptor), shown)
        os.ftruncate(descriptor, 0)
        with os.fdopen(descriptor, "wb", closefd=False) as handle:
            handle.write(data)
    except OSError as exc:
        raise ToolError(f"cannot write '{shown}': {exc.strerror}") from None
    finally:
        os.close(descriptor)
    return f"wrote {len(data)} bytes to {shown}"


def _check_plain_file(status: os.stat_result, shown: str) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise ToolError(f"'{shown}' is a directory; use list_files")
    if not stat.S_ISREG(status.st_mode):
        raise ToolError(f"'{shown}' is not a regular file; the file tools use regular files only")
    if status.st_nlink > 1:
        raise ToolError(
            f"'{shown}' has {status.st_nlink} hard links; the file tools refuse hard-linked "
            "files (another name for the same file may be outside the workspace)"
        )


async def list_files(context: ToolContext, args: ListFilesArgs) -> str:
    target = resolve_in_workspace(context.workspace, args.path)
    return await asyncio.to_thread(list_directory, context.workspace, target, args.path)


FILE_TOOLS = (
    Tool("read_file", "Read a text file from your workspace.", ReadFileArgs, read_file),
    Tool("write_file", "Create or overwrite a file in your workspace.", WriteFileArgs, write_file),
    Tool("list_files", "List a directory in your workspace.", ListFilesArgs, list_files),
)
