"""`roost run`'s side of a config reload (SIGHUP, or `roost reload` which sends it).

The config file is read again (off the event loop); a config with errors is refused
and the running one kept. What can change while running is applied (``App.reload``,
then the scheduler's ``schedules:``); what cannot is named. Each outcome is logged and
written to ``<home>/reload.json``, where `roost reload` reads it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roost.app import App
    from roost.config.reload_plan import ReloadPlan
    from roost.config.settings import Settings

log = logging.getLogger("roost.reload")

OUTCOME_FILE = "reload.json"


async def reload_config(app: App, config_path: Path | None) -> dict[str, Any]:
    """Reload, log and record the outcome (also returned)."""
    from roost.config.errors import ConfigError
    from roost.config.loader import load_settings
    from roost.errors import StartupError

    outcome: dict[str, Any] = {"pid": os.getpid(), "at_ns": time.time_ns()}
    try:
        new = await asyncio.to_thread(load_settings, config_path)
        plan = app.reload(new)
        await _reload_schedules(app, new, plan)
    except (ConfigError, StartupError) as exc:
        outcome.update(ok=False, error=str(exc))
        log.error("config reload refused, the running config is kept: %s", exc)
    else:
        outcome.update(ok=True, **plan.as_dict())
        applied = ", ".join(plan.applied) or "nothing changed"
        log.info("config reloaded: applied %s", applied)
        if plan.needs_restart:
            log.warning(
                "config reload: these changes need a restart: %s", ", ".join(plan.needs_restart)
            )
    _record(app.settings.home / OUTCOME_FILE, outcome)
    return outcome


async def _reload_schedules(app: App, new: Settings, plan: ReloadPlan) -> None:
    """The scheduler takes in ``schedules:`` (after the agents, so a job's next run
    uses its agent's new settings); what it applied and held back goes into ``plan``."""
    from roost.scheduler.service import SchedulerService

    try:
        scheduler = app.feature(SchedulerService)
    except LookupError:  # a process that runs no jobs
        if new.schedules != app.settings.schedules:
            plan.needs_restart.append("schedules")
        return
    try:
        report = await scheduler.reload_schedules(new.schedules)
    except Exception as exc:  # the store failed: the agents' changes stand, say so
        log.exception("config reload: schedules could not be applied")
        plan.needs_restart.append(f"schedules (not applied: {exc})")
        return
    plan.applied.extend(report.applied)
    plan.needs_restart.extend(report.held)


def _record(path: Path, outcome: dict[str, Any]) -> None:
    try:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(outcome), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc.strerror or exc)


class ReloadOnSignal:
    """SIGHUP starts a reload; one at a time (a second signal during one runs another
    after it, so the last edit is always read)."""

    def __init__(self, app: App, config_path: Path | None) -> None:
        self._app = app
        self._config_path = config_path
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __call__(self) -> None:
        self._wanted.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="reload")

    async def _run(self) -> None:
        while self._wanted.is_set():
            self._wanted.clear()
            try:
                await reload_config(self._app, self._config_path)
            except Exception:
                log.exception("config reload failed; the running config is kept")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
