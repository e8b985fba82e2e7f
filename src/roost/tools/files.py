"""The file tools: read, write and list files inside the agent's workspace."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import BaseModel, Field

from roost.tools.registry import Tool, ToolContext, ToolError
from roost.tools.workspace import resolve_in_workspace

MAX_READ_BYTES = 100_000
MAX_LIST_ENTRIES = 500


class ReadFileArgs(BaseModel):
    path: str = Field(description="Path relative to the workspace")


class WriteFileArgs(BaseModel):
    path: str = Field(description="Path relative to the workspace")
    content: str


class ListFilesArgs(BaseModel):
    path: str = Field(default=".", description="Directory relative to the workspace")


async def read_file(context: ToolContext, args: ReadFileArgs) -> str:
    target = resolve_in_workspace(context.workspace, args.path)
    return await asyncio.to_thread(_read, target, args.path)


def _read(target: Path, shown: str) -> str:
    if not target.exists():
        raise ToolError(f"'{shown}' does not exist")
    if target.is_dir():
        raise ToolError(f"'{shown}' is a directory; use list_files")
    with target.open("rb") as handle:
        data = handle.read(MAX_READ_BYTES + 1)
    text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
    if len(data) > MAX_READ_BYTES:
        text += f"\n[truncated: file is larger than {MAX_READ_BYTES} bytes]"
    return text


async def write_file(context: ToolContext, args: WriteFileArgs) -> str:
    target = resolve_in_workspace(context.workspace, args.path)
    return await asyncio.to_thread(_write, target, args.path, args.content)


def _write(target: Path, shown: str, content: str) -> str:
    if target.is_dir():
        raise ToolError(f"'{shown}' is a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8")
    target.write_bytes(data)
    return f"wrote {len(data)} bytes to {shown}"


async def list_files(context: ToolContext, args: ListFilesArgs) -> str:
    target = resolve_in_workspace(context.workspace, args.path)
    return await asyncio.to_thread(_list, target, args.path)


def _list(target: Path, shown: str) -> str:
    if not target.exists():
        raise ToolError(f"'{shown}' does not exist")
    if not target.is_dir():
        raise ToolError(f"'{shown}' is a file; use read_file")
    entries = sorted(target.iterdir(), key=lambda entry: entry.name)
    lines = [
        f"{entry.name}/" if entry.is_dir() else f"{entry.name} ({entry.stat().st_size} B)"
        for entry in entries[:MAX_LIST_ENTRIES]
    ]
    if len(entries) > MAX_LIST_ENTRIES:
        lines.append(f"[{len(entries) - MAX_LIST_ENTRIES} more entries not shown]")
    return "\n".join(lines) if lines else "(empty directory)"


FILE_TOOLS = (
    Tool("read_file", "Read a text file from your workspace.", ReadFileArgs, read_file),
    Tool("write_file", "Create or overwrite a file in your workspace.", WriteFileArgs, write_file),
    Tool("list_files", "List a directory in your workspace.", ListFilesArgs, list_files),
)
