"""`roost reload`: the running `roost run` reads its config again (it gets SIGHUP)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from roost.cli.common import EXIT_CONFIG, EXIT_FAILED, fail, load

WAIT_S = 30.0


def reload(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Apply config changes without a restart: agents' prompts, tools, models, budgets,
    and schedules (from each job's next run).

    What cannot change while running (gateway, store, Telegram, providers…) is named;
    a config with errors is refused and the running one kept.
    """
    from roost.cli.config_reload import OUTCOME_FILE
    from roost.gateway.discovery import process_alive

    settings = load(ctx)  # a config with errors: said here, with the file and key
    pid = _running_pid(settings.home)
    if pid is None or not process_alive(pid):
        fail(f"roost is not running for {settings.home} (nothing to reload)", EXIT_FAILED)
    outcome_path = settings.home / OUTCOME_FILE
    before = _read(outcome_path)
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:  # another user's process, or it just ended
        fail(f"cannot signal roost (pid {pid}): {exc.strerror or exc}")
    outcome = _wait_for_new(outcome_path, before, pid)
    if as_json:
        print(json.dumps(outcome))
    elif outcome.get("ok"):
        print(f"reloaded: applied {', '.join(outcome['applied']) or 'nothing (no change)'}")
        if outcome["needs_restart"]:
            print(f"needs a restart to take effect: {', '.join(outcome['needs_restart'])}")
    if not outcome.get("ok"):
        fail(f"reload refused, the running config is kept: {outcome.get('error')}", EXIT_CONFIG)


def _running_pid(home: Path) -> int | None:
    try:
        return int((home / "roost.pid").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _wait_for_new(path: Path, before: dict[str, Any] | None, pid: int) -> dict[str, Any]:
    """The outcome the process records after our signal (polled: it is another process)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        outcome = _read(path)
        if outcome is not None and outcome != before and outcome.get("pid") == pid:
            return outcome
        time.sleep(0.05)
    fail(f"roost (pid {pid}) did not report a reload within {WAIT_S:g} s; see roost logs")
