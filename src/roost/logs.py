"""Logging: one readable line per event (or one JSON object per line, ``logging.format:
json``), to stderr and to <home>/logs/roost.log.

The agent a line is about is known while a turn runs (``agent_context``), so both
formats can name it and `roost logs --agent NAME` can pick its lines.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from roost.home import prepare_home

LOG_FILE = Path("logs") / "roost.log"
"""Where the log is written, relative to the data directory."""

LOG_FORMATS = ("text", "json")
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s%(agent_tag)s: %(message)s"

current_agent: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "roost_log_agent", default=None
)
"""The agent whose turn the running task serves (None outside a turn)."""


@contextmanager
def agent_context(agent: str) -> Iterator[None]:
    """Lines logged inside are about ``agent`` (its name goes in the JSON ``agent`` field)."""
    token = current_agent.set(agent)
    try:
        yield
    finally:
        current_agent.reset(token)


def _agent_of(record: logging.LogRecord) -> str | None:
    agent = getattr(record, "agent", None) or current_agent.get()
    return str(agent) if agent else None


class TextLineFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger> [<agent>]: <message>`` (the agent only when known)."""

    def __init__(self) -> None:
        super().__init__(_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        agent = _agent_of(record)
        record.agent_tag = f" [{agent}]" if agent else ""
        return super().format(record)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601, UTC), level, logger, message, agent, exc.

    The message is the record's final text (after the filters that redact secrets,
    which run on the logger before any handler formats the record).
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        agent = _agent_of(record)
        if agent:
            line["agent"] = agent
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def setup_logging(
    home: Path, level: str = "INFO", stderr_level: str | None = None, log_format: str = "text"
) -> None:
    """Send Roost's logs to ``<home>/logs/roost.log`` and, at ``stderr_level``, to stderr.

    ``log_format`` ("text" or "json") is the file's; stderr stays readable text.
    """
    prepare_home(home)
    log_path = home / LOG_FILE
    root = logging.getLogger("roost")
    root.setLevel(level)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.handlers.RotatingFileHandler(
        log_path, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
    )
    to_file.setFormatter(JsonLineFormatter() if log_format == "json" else TextLineFormatter())
    root.addHandler(to_file)
    if stderr_level:
        to_stderr = logging.StreamHandler()
        to_stderr.setLevel(stderr_level)
        to_stderr.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")
        )
        root.addHandler(to_stderr)
