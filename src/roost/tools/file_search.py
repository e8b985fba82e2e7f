"""``search_files``: lines of the workspace's text files that contain a query.

Plain text by default; with ``regex`` the query is an RE2 expression. RE2 runs in
time linear in the input whatever the pattern (no backtracking), so a pattern such
as ``(a+)+$`` cannot hang the worker thread, which no timeout could stop. What it
gives up (backreferences, lookaround) is refused with a clear message.

The walk never follows a symlink, reads only regular single-link files (the same
rule as the other file tools, ``plainfile``), skips binary files, and stops at caps
on matches, returned text, bytes read and files looked at; each cap reached is said
in the result.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from roost.tools.plainfile import looks_binary, read_head
from roost.tools.registry import Tool, ToolContext, ToolError
from roost.tools.workspace import resolve_in_workspace, shown_name

MAX_MATCHES = 100
MAX_RESULT_CHARS = 20_000
MAX_LINE_CHARS = 300
MAX_FILE_BYTES = 2_000_000
"""Of a longer file, only the start is searched (and the result says so)."""
MAX_SCANNED_BYTES = 50_000_000
MAX_FILES = 20_000
REGEX_MEMORY = 8 << 20
MAX_QUERY_CHARS = 1000
SKIPPED_DIRECTORIES = {".git"}

Matcher = Callable[[str], bool]


class SearchFilesArgs(BaseModel):
    query: str = Field(min_length=1)
    regex: bool = Field(default=False, description="query is RE2")
    glob: str | None = Field(default=None, description="e.g. *.py")
    path: str = "."


@dataclass
class _Search:
    root: Path
    matches: Matcher
    glob: str | None
    lines: list[str] = field(default_factory=list)
    chars: int = 0
    files: int = 0
    scanned: int = 0
    skipped: int = 0
    partly: int = 0
    stopped: str | None = None


async def search_files(context: ToolContext, args: SearchFilesArgs) -> str:
    matches = compile_matcher(args.query, args.regex)
    start = resolve_in_workspace(context.workspace, args.path)
    if not start.is_dir():
        raise ToolError(f"'{shown_name(args.path)}' is not a directory in the workspace")
    search = _Search(context.workspace.resolve(), matches, args.glob)
    return await asyncio.to_thread(_run, search, start)


def compile_matcher(query: str, regex: bool) -> Matcher:
    if len(query) > MAX_QUERY_CHARS:  # checked here: a maxLength in the schema costs bytes
        raise ToolError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if not regex:
        return lambda line: query in line
    import re2  # imported on first use: most searches are plain text

    options = re2.Options()
    options.log_errors = False  # else RE2 writes every bad pattern to stderr
    options.max_mem = REGEX_MEMORY
    try:
        pattern = re2.compile(query, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ToolError(
            f"invalid regular expression: {reason} (RE2 syntax: no backreferences or lookaround)"
        ) from None
    return lambda line: pattern.search(line) is not None


def _run(search: _Search, start: Path) -> str:
    for directory, subdirectories, names in os.walk(start):  # never follows symlinks
        subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
        for name in sorted(names):
            if search.stopped:
                return _result(search)
            _search_file(search, Path(directory) / name)
    return _result(search)


def _search_file(search: _Search, path: Path) -> None:
    search.files += 1  # every file looked at counts, matching the glob or not
    if search.files > MAX_FILES:
        search.stopped = f"stopped after looking at {MAX_FILES} files; narrow the search"
        return
    if search.scanned > MAX_SCANNED_BYTES:
        search.stopped = f"stopped after reading {search.scanned} bytes; narrow the search"
        return
    relative = path.relative_to(search.root).as_posix()
    if search.glob and not fnmatch.fnmatchcase(
        relative if "/" in search.glob else path.name, search.glob
    ):
        return
    shown = shown_name(relative)
    try:
        data, _ = read_head(path, shown, MAX_FILE_BYTES)
    except ToolError:  # a link, a FIFO, a hard-linked file, one that vanished
        search.skipped += 1
        return
    if looks_binary(data):
        search.skipped += 1
        return
    if len(data) > MAX_FILE_BYTES:
        search.partly += 1
        data = data[:MAX_FILE_BYTES]
    search.scanned += len(data)
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if search.matches(line):
            _add(search, f"{shown}:{number}: {_clip(line)}")
            if search.stopped:
                return


def _add(search: _Search, line: str) -> None:
    if search.chars + len(line) > MAX_RESULT_CHARS:
        search.stopped = f"stopped at {MAX_RESULT_CHARS} characters of results; narrow the search"
        return
    search.lines.append(line)
    search.chars += len(line) + 1
    if len(search.lines) >= MAX_MATCHES:
        search.stopped = f"stopped at {MAX_MATCHES} matches; narrow the search"


def _clip(line: str) -> str:
    line = line.strip()
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


def _result(search: _Search) -> str:
    notes = []
    if search.stopped:
        notes.append(search.stopped)
    if search.partly:
        notes.append(f"{search.partly} files longer than {MAX_FILE_BYTES} bytes: start searched")
    if search.skipped:
        notes.append(f"{search.skipped} binary, linked or special files skipped")
    lines = search.lines or ["no matches"]
    return "\n".join([*lines, *(f"[{note}]" for note in notes)])


SEARCH_FILES_TOOL = Tool(
    "search_files",
    "Search your workspace's files for text; answers path:line: text.",
    SearchFilesArgs,
    search_files,
)
