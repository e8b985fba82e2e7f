"""The file tools: read, write, edit, list and search files inside the agent's workspace.

How a file is opened (regular files with one link only, never blocking, checked on
the open descriptor) is ``plainfile``'s; confinement to the workspace is
``workspace``'s. Names with line breaks or control characters are refused when
writing and shown escaped when reading, so that no name can forge a line of a
listing or of a search result.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import BaseModel, Field

from roost.tools.file_search import SEARCH_FILES_TOOL
from roost.tools.listing import list_directory
from roost.tools.plainfile import NOFOLLOW, NONBLOCK, check_plain_file, read_head, refuse_binary
from roost.tools.registry import Tool, ToolContext, ToolError
from roost.tools.untrusted import untrusted
from roost.tools.workspace import (
    IN_WORKSPACE,
    has_control_characters,
    resolve_in_workspace,
    shown_name,
)

MAX_READ_BYTES = 100_000
MAX_EDIT_BYTES = 1_000_000


# "path relative to your workspace" is said in each tool's description: shorter than
# a description on the field, and read with the tool's purpose.
class ReadFileArgs(BaseModel):
    path: str


class WriteFileArgs(BaseModel):
    path: str
    content: str


class EditFileArgs(BaseModel):
    path: str
    old: str = Field(min_length=1)  # "exact" and "once" are said by the tool's description
    new: str


class ListFilesArgs(BaseModel):
    path: str = "."


async def read_file(context: ToolContext, args: ReadFileArgs) -> str:
    target = resolve_in_workspace(context.workspace, args.path)
    shown = shown_name(args.path)
    # Whoever wrote the file (a download, another agent, a web page saved) is not the owner.
    return untrusted(f"file {shown}", await asyncio.to_thread(_read, target, shown))


def _read(target: Path, shown: str) -> str:
    data, size = read_head(target, shown, MAX_READ_BYTES)
    refuse_binary(data, shown, size)
    text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
    if len(data) > MAX_READ_BYTES:
        text += f"\n[truncated: the file has {size} bytes; {MAX_READ_BYTES} shown]"
    return text


async def write_file(context: ToolContext, args: WriteFileArgs) -> str:
    target = _writable(context, args.path)
    return await asyncio.to_thread(_write, target, args.path, args.content)


def _writable(context: ToolContext, path: str) -> Path:
    if has_control_characters(path):
        # A line break in a name would forge lines in listings and search results.
        raise ToolError(
            f"'{shown_name(path)}': line breaks and control characters are not allowed in names"
        )
    return resolve_in_workspace(context.workspace, path)


async def edit_file(context: ToolContext, args: EditFileArgs) -> str:
    target = _writable(context, args.path)
    return await asyncio.to_thread(_edit, target, args.path, args.old, args.new)


def _edit(target: Path, shown: str, old: str, new: str) -> str:
    data, size = read_head(target, shown, MAX_EDIT_BYTES)
    if len(data) > MAX_EDIT_BYTES:
        raise ToolError(
            f"'{shown}' has {size} bytes; edit_file edits files up to {MAX_EDIT_BYTES} bytes"
        )
    refuse_binary(data, shown, size)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"'{shown}' is not UTF-8 text; nothing changed") from None
    count = text.count(old)
    if count == 0:
        raise ToolError(
            f"the text to replace was not found in '{shown}'; nothing changed "
            "(it must match exactly, spaces and line breaks included)"
        )
    if count > 1:
        raise ToolError(
            f"the text to replace occurs {count} times in '{shown}'; nothing changed "
            "(include more of the surrounding text so that it occurs once)"
        )
    at = text.index(old)
    _write(target, shown, text[:at] + new + text[at + len(old) :])
    return f"edited {shown} at line {text.count(chr(10), 0, at) + 1}"


def _write(target: Path, shown: str, content: str) -> str:
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which JSON can carry
        raise ToolError(
            f"content is not valid text (character {exc.start}); nothing written"
        ) from None
    try:
        if os.path.lexists(target):
            check_plain_file(os.lstat(target), shown)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ToolError(
                f"cannot write '{shown}': part of the path is a file, not a directory"
            ) from None
        # No O_TRUNC: the file is emptied only once the descriptor shows it is ours.
        flags = os.O_WRONLY | os.O_CREAT | NONBLOCK | NOFOLLOW
        descriptor = os.open(target, flags, 0o644)
    except OSError as exc:
        raise ToolError(f"cannot write '{shown}': {exc.strerror}") from None
    try:
        check_plain_file(os.fstat(descriptor), shown)
        os.ftruncate(descriptor, 0)
        with os.fdopen(descriptor, "wb", closefd=False) as handle:
            handle.write(data)
    except OSError as exc:
        raise ToolError(f"cannot write '{shown}': {exc.strerror}") from None
    finally:
        os.close(descriptor)
    return f"wrote {len(data)} bytes to {shown}"


async def list_files(context: ToolContext, args: ListFilesArgs) -> str:
    target = resolve_in_workspace(context.workspace, args.path)
    return await asyncio.to_thread(list_directory, context.workspace, target, shown_name(args.path))


FILE_TOOLS = (
    Tool("read_file", f"Read a text file {IN_WORKSPACE}.", ReadFileArgs, read_file),
    Tool("write_file", f"Create or overwrite a file {IN_WORKSPACE}.", WriteFileArgs, write_file),
    Tool("list_files", f"List a directory {IN_WORKSPACE}.", ListFilesArgs, list_files),
    Tool(
        "edit_file",
        f"Replace old (exact, found once) with new in a file {IN_WORKSPACE}.",
        EditFileArgs,
        edit_file,
    ),
    SEARCH_FILES_TOOL,
)
