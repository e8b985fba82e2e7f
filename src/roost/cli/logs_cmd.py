"""`roost logs`: the log file (``<home>/logs/roost.log``), readable, filtered, followed."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from roost.cli.common import EXIT_FAILED, fail, load, state

if TYPE_CHECKING:
    from roost.cli.log_reader import LogEntry

POLL_S = 0.25
"""How often `roost logs -f` looks for new lines."""

_LEVEL_COLORS = {"DEBUG": "2", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}


def logs(
    ctx: typer.Context,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl+C stops).")
    ] = False,
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="Only the lines about this agent.", show_default=False),
    ] = None,
    level: Annotated[
        str,
        typer.Option(
            "--level", help="Lowest level shown: debug, info, warning, error or critical."
        ),
    ] = "debug",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line (ts, level, logger, …).")
    ] = False,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, help="How many of the last entries to show.")
    ] = 50,
) -> None:
    """Show Roost's log (<home>/logs/roost.log, text or JSON lines), newest last."""
    from roost.cli.log_reader import LEVELS, LogFilter, LogFollower, last_entries
    from roost.cli.log_reader import follow as follow_log

    if level.lower() not in LEVELS:
        fail(f"--level {level!r}: use one of {', '.join(LEVELS)}", 2)
    keep = LogFilter(logging.getLevelName(level.upper()), agent)
    path = _home(ctx) / "logs" / "roost.log"
    try:
        entries, size = last_entries(path, keep, lines)
    except FileNotFoundError:
        if not follow:
            fail(f"no log yet at {path} (`roost run` or any command writes it)", EXIT_FAILED)
        entries, size = [], 0
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    emit = _printer(as_json)
    for entry in entries:
        emit(entry)
    if not follow:
        return
    follower = LogFollower(path, size)
    try:
        follow_log(follower, keep, emit, _pause)
    except KeyboardInterrupt:
        pass
    finally:
        follower.close()


def _pause() -> bool:
    sys.stdout.flush()
    time.sleep(POLL_S)  # polling a file: nothing to wait on
    return True


def _home(ctx: typer.Context) -> Path:
    from roost.client.config_without_pydantic import peek_config

    peeked = peek_config(state(ctx).config_path, os.environ)
    return peeked.home if peeked is not None else load(ctx).home


def _printer(as_json: bool) -> Callable[[LogEntry], None]:
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")

    def emit(entry: LogEntry) -> None:
        if as_json:
            line = json.dumps(entry.as_json(), ensure_ascii=False)
        else:
            line = entry.as_text()
            code = _LEVEL_COLORS.get(entry.level)
            if color and code:
                line = f"\x1b[{code}m{line}\x1b[0m"
        try:
            print(line)
        except BrokenPipeError:  # `roost logs | head`
            raise typer.Exit(0) from None

    return emit
