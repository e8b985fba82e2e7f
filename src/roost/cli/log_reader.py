"""Reading ``<home>/logs/roost.log`` back: entries from text or JSON lines, filters, and
following the file as it grows and rotates (`roost logs`).

Both formats written by `roost.logs` are read, mixed in one file too (the format was
changed in the config between two runs): a line that is a JSON object is one entry,
a text line starting with a timestamp starts one, and any other line (a traceback)
belongs to the entry before it.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

_TEXT_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<level>[A-Z]+) +"
    r"(?P<logger>[^\s:\[]+)(?: \[(?P<agent>[^\]\s]+)\])?: (?P<message>.*)$"
)
LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass
class LogEntry:
    ts: str
    level: str
    logger: str
    message: str
    agent: str | None = None
    exc: str | None = None

    def as_json(self) -> dict[str, str]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    def as_text(self) -> str:
        agent = f" [{self.agent}]" if self.agent else ""
        text = f"{self.ts} {self.level:<7} {self.logger}{agent}: {self.message}"
        return f"{text}\n{self.exc}" if self.exc else text


@dataclass(frozen=True)
class LogFilter:
    min_level: int = logging.DEBUG
    agent: str | None = None

    def __call__(self, entry: LogEntry) -> bool:
        level = logging.getLevelName(entry.level)
        if isinstance(level, int) and level < self.min_level:
            return False
        return self.agent is None or entry.agent == self.agent


def parse_lines(lines: Iterable[str]) -> Iterator[LogEntry]:
    """The entries of these lines (each without or with its newline), in order."""
    pending: LogEntry | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        entry = _json_entry(line) or _text_entry(line)
        if entry is None:
            if pending is not None and line:
                pending.exc = f"{pending.exc}\n{line}" if pending.exc else line
            continue
        if pending is not None:
            yield pending
        pending = entry
    if pending is not None:
        yield pending


def _text_entry(line: str) -> LogEntry | None:
    match = _TEXT_LINE.match(line)
    if match is None:
        return None
    return LogEntry(
        ts=match["ts"],
        level=match["level"],
        logger=match["logger"],
        message=match["message"],
        agent=match["agent"],
    )


def _json_entry(line: str) -> LogEntry | None:
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return None
    return LogEntry(
        ts=str(data.get("ts", "")),
        level=str(data.get("level", "INFO")),
        logger=str(data.get("logger", "")),
        message=data["message"],
        agent=_optional(data.get("agent")),
        exc=_optional(data.get("exc")),
    )


def _optional(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def last_entries(path: Path, keep: LogFilter, count: int) -> tuple[list[LogEntry], int]:
    """The last ``count`` entries that ``keep`` accepts, and the file's size when read."""
    with path.open(encoding="utf-8", errors="replace") as file:
        entries = [entry for entry in parse_lines(file) if keep(entry)]
        size = file.tell()
    return (entries[-count:] if count > 0 else []), size


class LogFollower:
    """New lines of a log file as it grows; starts over on a new file after a rotation
    (the file at ``path`` is another one, or shorter than what was read)."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = offset
        self._partial = ""

    def read_new(self) -> list[str]:
        """Complete lines written since the last call (none if nothing new)."""
        self._reopen_if_rotated()
        if self._file is None:
            return []
        chunk = self._partial + self._file.read()
        lines = chunk.splitlines(keepends=True)
        self._partial = lines.pop() if lines and not lines[-1].endswith("\n") else ""
        return lines

    def _reopen_if_rotated(self) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return  # between the rename and the new file: keep reading the old one
        identity = (stat.st_dev, stat.st_ino)
        if self._file is not None and identity == self._identity:
            if stat.st_size >= self._file.tell():
                return
            self._file.seek(0)  # truncated in place
            return
        if self._file is not None:
            self._partial += self._file.read()  # what the old file got before the rotation
            self._file.close()
            self._offset = 0
        self._file = self.path.open(encoding="utf-8", errors="replace")
        self._file.seek(self._offset)
        self._identity = identity

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def follow(
    follower: LogFollower,
    keep: LogFilter,
    emit: Callable[[LogEntry], None],
    wait: Callable[[], bool],
) -> None:
    """Emit new entries until ``wait()`` (which paces the polling) returns False.

    An entry is emitted once its next line is there or nothing came for one poll
    (a traceback's lines are written together, so it is whole by then).
    """
    pending: list[str] = []
    while True:
        new = follower.read_new()
        if new:
            pending.extend(new)
            entries = list(parse_lines(pending))
            for entry in entries[:-1]:
                if keep(entry):
                    emit(entry)
            pending = _lines_of_last(pending)
        elif pending:
            for entry in parse_lines(pending):
                if keep(entry):
                    emit(entry)
            pending = []
        if not wait():
            return


def _lines_of_last(lines: list[str]) -> list[str]:
    """The lines of the last entry in ``lines`` (it may still get continuation lines)."""
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index].rstrip("\n")
        if _json_entry(line) or _text_entry(line):
            return lines[index:]
    return []
